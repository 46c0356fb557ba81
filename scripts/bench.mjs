#!/usr/bin/env node
// `npm run bench`: every shipped scenario through `pve-runners demo --json` (simulator + the built
// daemon), one report per line on stdout, and a summary table on stderr. Speed: BENCH_SPEED (10).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const speed = process.env.BENCH_SPEED ?? '10';
const only = process.argv.slice(2);
const scenarios = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.yaml') && (only.length === 0 || only.some((o) => f.startsWith(o))));
const rows = [];
let failed = false;
for (const file of scenarios) {
  let out;
  try {
    out = execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'demo', '--scenario', join(root, 'scenarios', file), '--speed', speed, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    failed = true; // the demo exits 1 on leaks or cap violations, still printing its report
    out = e.stdout ?? '';
  }
  const line = out.trim().split('\n').at(-1);
  process.stdout.write(`${line}\n`);
  const r = JSON.parse(line);
  const leaks = r.leaks.vms + r.leaks.registrations + r.leaks.snippets + r.leaks.foreign_touched;
  rows.push([file, `${r.jobs.completed}/${r.jobs.total - r.jobs.unmatched}`, r.jobs.pickup_latency_s.p50, r.jobs.pickup_latency_s.p95, r.github.counted_against_rate_limit, r.proxmox.requests, leaks, r.cap_violations, r.controller.cpu_s, r.controller.max_rss_mb]);
}
const head = ['scenario', 'jobs done', 'p50 s', 'p95 s', 'gh counted', 'pve reqs', 'leaks', 'cap viol.', 'cpu s', 'rss MB'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
for (const r of [head, ...rows]) process.stderr.write(r.map((c, i) => String(c).padEnd(widths[i])).join('  ') + '\n');
process.exit(failed ? 1 : 0);
