#!/usr/bin/env node
// `npm run bench`: every shipped scenario through `pve-runners demo --json` (simulator + the built
// daemon), one report per line on stdout, the summary and per-tier pickup tables on stderr, and
// everything in bench/results.json. A scenario's own pools file is scenarios/pools/<name>.yaml
// (else the shipped pools.yaml). A scenario that cannot run (a configuration error, exit 78) is
// reported as failed and the others still run.
//   npm run bench                         all scenarios, speed BENCH_SPEED (10)
//   npm run bench -- burst                scenarios whose name starts with "burst"
//   npm run bench -- --only within-caps,full-clone
//   npm run bench -- --growth [--sizes …]  the many-repos growth table instead (scripts/bench-growth.mjs)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CronExpressionParser } from 'cron-parser';
import { parse as parseYaml } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const STAGES = ['detection', 'capacity', 'clone', 'configure', 'start', 'boot', 'registration', 'assignment'];
// A simulated day needs more than speed 10 to finish in minutes; BENCH_SPEED set explicitly wins.
const SPEEDS = { 'office-hours': 100 };
// One tick: POLL_INTERVAL (15 s) plus its random 0–10 %.
const TICK_S = 16.5;

const args = process.argv.slice(2);
if (args.includes('--growth')) {
  await import('./bench-growth.mjs');
  process.exit(process.exitCode ?? 0);
}
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',').filter(Boolean) : args.filter((a) => !a.startsWith('--'));
const all = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
const names = onlyArg >= 0 ? only : all.filter((n) => only.length === 0 || only.some((o) => n.startsWith(o)));
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length) {
  process.stderr.write(`bench: no scenario ${unknown.map((n) => `scenarios/${n}.yaml`).join(', ')} (there are: ${all.join(', ')})\n`);
  process.exit(2);
}

const results = [];
for (const name of names) {
  const speed = process.env.BENCH_SPEED ?? String(SPEEDS[name] ?? 10);
  const poolsFile = existsSync(join(root, 'scenarios', 'pools', `${name}.yaml`)) ? join(root, 'scenarios', 'pools', `${name}.yaml`) : join(root, 'pools.yaml');
  const argv = [join(root, 'dist', 'cli.js'), 'demo', '--scenario', join(root, 'scenarios', `${name}.yaml`), '--pools', poolsFile, '--speed', speed, '--json'];
  process.stderr.write(`bench: ${name} (speed ${speed}, pools ${poolsFile.slice(root.length + 1)}) …\n`);
  const run = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const line = (run.stdout ?? '').trim().split('\n').at(-1) ?? '';
  let report;
  try {
    report = line ? JSON.parse(line) : undefined;
  } catch {
    report = undefined;
  }
  if (!report) {
    // exit 78: a configuration error (e.g. a pools key this build does not know yet)
    const error = (run.stderr ?? '').trim().split('\n').filter((l) => !l.startsWith('[demo')).slice(0, 3).join(' ') || `exit ${run.status ?? run.signal}`;
    results.push({ scenario: name, speed: Number(speed), status: run.status === 78 ? 'config-error' : 'failed', exit_code: run.status, error });
    continue;
  }
  process.stdout.write(`${line}\n`);
  const entry = { scenario: name, speed: Number(speed), status: run.status === 0 ? 'ok' : 'failed', exit_code: run.status, report };
  const schedule = scheduleCheck(poolsFile, report);
  if (schedule) entry.schedule = schedule;
  results.push(entry);
}

mkdirSync(join(root, 'bench'), { recursive: true });
writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify({ at: new Date().toISOString(), results }, null, 1)}\n`);
printTables(results);
process.exit(results.every((r) => r.status === 'ok' && (!r.schedule || r.schedule.every((c) => c.within_one_tick))) ? 0 : 1);

/*
 * For each pool with a `schedule`, each rule firing inside the run: how soon the daemon acted on it
 * (the first clone request or change of the pool's hot/warm sizes after it) and how soon the sizes
 * matched the rule, from the simulator's record of them. A rule leaves out hot or warm to keep it.
 */
function scheduleCheck(poolsFile, report) {
  let cfg;
  try {
    cfg = parseYaml(readFileSync(poolsFile, 'utf8'));
  } catch {
    return undefined;
  }
  const out = [];
  const origin = report.pickup?.epoch_origin_ms;
  if (origin === undefined) return undefined;
  for (const pool of cfg?.pools ?? []) {
    const rules = pool.schedule ?? cfg.defaults?.schedule;
    if (!Array.isArray(rules)) continue;
    const tz = pool.timezone ?? cfg.defaults?.timezone;
    const firings = [];
    for (const rule of rules) {
      const it = CronExpressionParser.parse(rule.cron, { currentDate: new Date(origin), endDate: new Date(origin + report.duration_s * 1000), ...(tz ? { tz } : {}) });
      while (it.hasNext()) firings.push({ rule, at: (it.next().getTime() - origin) / 1000 });
    }
    firings.sort((a, b) => a.at - b.at);
    const series = report.pickup.tiers_over_time?.[pool.name] ?? [];
    const clones = report.pickup.clone_requests_s?.[pool.name] ?? [];
    let want = { hot: pool.hot ?? 0, warm: pool.warm ?? 0 };
    for (const [k, f] of firings.entries()) {
      want = { hot: f.rule.hot ?? want.hot, warm: f.rule.warm ?? want.warm };
      const until = firings[k + 1]?.at ?? Infinity;
      const sizeAt = (t) => series.filter(([s]) => s <= t).at(-1) ?? [0, 0, 0];
      const before = sizeAt(f.at);
      const change = series.find(([s, h, w]) => s > f.at && s < until && (h !== before[1] || w !== before[2]));
      const clone = clones.find((s) => s > f.at && s < until);
      const reacted = Math.min(change?.[0] ?? Infinity, clone ?? Infinity);
      const matchedNow = before[1] === want.hot && before[2] === want.warm;
      const match = matchedNow ? [f.at] : series.find(([s, h, w]) => s > f.at && s < until && h === want.hot && w === want.warm);
      const r = (x) => (Number.isFinite(x) ? Math.round((x - f.at) * 10) / 10 : null);
      const reactedAfter = matchedNow ? 0 : r(reacted);
      out.push({ pool: pool.name, cron: f.rule.cron, at_s: Math.round(f.at), want, reacted_after_s: reactedAfter, matched_after_s: match ? r(match[0]) : null, within_one_tick: reactedAfter !== null && reactedAfter <= TICK_S });
    }
  }
  return out.length ? out : undefined;
}

function table(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  for (const r of [head, ...rows]) process.stderr.write(`${r.map((c, i) => String(c).padEnd(widths[i])).join('  ')}\n`);
  process.stderr.write('\n');
}

function printTables(results) {
  const dash = (v) => (v === null || v === undefined ? '–' : v);
  table(['scenario', 'status', 'jobs done', 'p50 s', 'p95 s', 'gh counted', 'pve reqs', 'leaks', 'cap viol.', 'cpu s', 'rss MB'], results.map((x) => {
    const r = x.report;
    if (!r) return [x.scenario, `${x.status}: ${x.error}`.slice(0, 90), '', '', '', '', '', '', '', '', ''];
    const leaks = r.leaks.vms + r.leaks.registrations + r.leaks.snippets + r.leaks.foreign_touched;
    return [x.scenario, x.status, `${r.jobs.completed}/${r.jobs.total - r.jobs.unmatched}`, dash(r.jobs.pickup_latency_s.p50), dash(r.jobs.pickup_latency_s.p95), r.github.counted_against_rate_limit, r.proxmox.requests, leaks, r.cap_violations, dash(r.controller.cpu_s), dash(r.controller.max_rss_mb)];
  }));
  const rows = [];
  for (const x of results) {
    for (const [pool, tiers] of Object.entries(x.report?.pickup?.by_pool ?? {})) {
      for (const tier of ['hot', 'warm', 'cold']) {
        const f = tiers[tier];
        if (!f) continue;
        rows.push([x.scenario, pool, tier, f.jobs, dash(f.p50), dash(f.p95), f.floor_s, dash(f.ratio_p50), ...STAGES.map((s) => f.stage_means_s[s]), f.daemon_s_mean, Object.entries(f.daemon_stage_means_s ?? {}).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${v}`).join(', ')]);
      }
    }
  }
  if (rows.length) table(['scenario', 'pool', 'tier', 'jobs', 'p50', 'p95', 'floor', 'ratio', ...STAGES, 'daemon', 'daemon by stage'], rows);
  const checks = results.flatMap((x) => (x.schedule ?? []).map((c) => [x.scenario, c.pool, c.cron, c.at_s, `${c.want.hot}/${c.want.warm}`, dash(c.reacted_after_s), dash(c.matched_after_s), c.within_one_tick ? 'yes' : 'NO']));
  if (checks.length) table(['scenario', 'pool', 'rule', 'fired at s', 'hot/warm', 'acted after s', 'matched after s', 'within a tick'], checks);
}
