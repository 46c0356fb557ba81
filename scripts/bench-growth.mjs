#!/usr/bin/env node
// `npm run bench -- --growth`: scenarios/many-repos.yaml at several sizes (the first N repositories,
// more named the same way), through the simulator and the built daemon, and what one tick costs at
// each: GitHub requests per tick and per hour (counted and in all), the tick's real duration, the
// daemon's CPU per scenario hour (= per hour at speed 1: the same ticks, the same requests), its
// peak RSS, pickup p50 in the active repositories and for the job in a repository idle for an hour.
//   npm run bench -- --growth                      sizes 10,100,500,500x200,2000 (500x200: 200 VMs)
//   npm run bench -- --growth --sizes 10,500x200   those only
//   npm run bench -- --growth --quick              20 scenario minutes, no idle-hour job (smoke, profiles)
//   npm run bench -- --growth --readme             also rewrites README.md's growth table
//   npm run bench -- --growth --from a.json,b.json --readme   the table of earlier runs (no new run)
// BENCH_SPEED (default 10) sets the speed; BENCH_NODE_FLAGS the daemon's node flags (default: the unit's); BENCH_GITHUB_LATENCY (e.g. 150ms) delays every GitHub answer. Results go to bench/growth.json (--out FILE; and stdout, one line per size).
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { runDemo } = await import(join(root, 'dist', 'cli', 'demo.js'));
const { procStats } = await import(join(root, 'dist', 'cli', 'proc-stats.js'));
// the daemon runs with the flags the systemd unit gives it (none in a build without node-flags.js)
// (BENCH_NODE_FLAGS="--flag …" tries others: how the heap flags were chosen)
const nodeFlags = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : await import(join(root, 'dist', 'cli', 'node-flags.js')).then((m) => m.DAEMON_NODE_FLAGS, () => []);

const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--growth'), options: { sizes: { type: 'string', default: '10,100,500,500x200,2000' }, quick: { type: 'boolean', default: false }, readme: { type: 'boolean', default: false }, out: { type: 'string', default: join(root, 'bench', 'growth.json') }, from: { type: 'string' } }, strict: true });
const speed = Number(process.env.BENCH_SPEED ?? 10);
const sizes = values.sizes.split(',').filter(Boolean).map((s) => {
  const m = /^(\d+)(?:x(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`--sizes: '${s}' is not <repos> or <repos>x200`);
  if (m[2] !== undefined && m[2] !== '200') throw new Error(`--sizes: '${s}': the VM variant is x200 (scenarios/pools/many-repos-200-vms.yaml)`);
  return { repos: Number(m[1]), vms: m[2] !== undefined, label: s.trim() };
});
// The active repositories and the one left idle for an hour must exist at every size.
if (sizes.some((s) => s.repos < 10)) throw new Error('--sizes: at least 10 repositories (repo-000..005 carry the workload)');

const shipped = parseYaml(readFileSync(join(root, 'scenarios', 'many-repos.yaml'), 'utf8'));
const repoName = (i) => `acme/repo-${String(i).padStart(3, '0')}`;
const dir = mkdtempSync(join(tmpdir(), 'pve-runners-growth-'));
// the job of repo-005, an hour after the start: the bound the budget allows an idle repository
const IDLE_REPO = 'acme/repo-005';
// a job is in an *active* repository (issue 10's word) when another job of the same repository was
// queued, running or ended within the daemon's recent-activity window (5 minutes) before it was
// queued; the first wave's jobs are not: their repositories had none since the start
const RECENT_S = 300;

const results = [];
// --from a.json,b.json: no runs, the table of results already measured (e.g. a full run of one size and a quick one of the others)
if (values.from) {
  for (const f of values.from.split(',')) results.push(...JSON.parse(readFileSync(f, 'utf8')).results);
  sizes.length = 0;
}
for (const size of sizes) {
  const repos = Array.from({ length: size.repos }, (_, i) => repoName(i));
  const scenario = { ...shipped, github: { ...shipped.github, repos } };
  // BENCH_GITHUB_LATENCY=150ms: every GitHub answer that much later (scenario time), as a far-away API
  if (process.env.BENCH_GITHUB_LATENCY) scenario.github.timings = { ...scenario.github.timings, latency: process.env.BENCH_GITHUB_LATENCY };
  if (values.quick) {
    scenario.time_limit = '1200s';
    scenario.workload = shipped.workload.filter((w) => w.repo !== IDLE_REPO);
  }
  const poolsSource = join(root, 'scenarios', 'pools', size.vms ? 'many-repos-200-vms.yaml' : 'many-repos.yaml');
  const pools = parseYaml(readFileSync(poolsSource, 'utf8'));
  pools.github.repos = repos;
  // the generated pools file lives elsewhere: its relative paths are resolved from the shipped one's folder
  for (const p of pools.pools) if (p.user_data) p.user_data = resolve(dirname(poolsSource), p.user_data);
  const scenarioFile = join(dir, `many-repos-${size.label}.yaml`);
  const poolsFile = join(dir, `many-repos-${size.label}.pools.yaml`);
  writeFileSync(scenarioFile, stringify(scenario));
  writeFileSync(poolsFile, stringify(pools));
  process.stderr.write(`bench --growth: ${size.repos} repositories${size.vms ? ', 200 VMs' : ''}, speed ${speed} …\n`);
  results.push(await runSize(size, scenarioFile, poolsFile, scenario.workload));
  process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
}

if (!values.from) {
  mkdirSync(dirname(resolve(values.out)), { recursive: true });
  writeFileSync(resolve(values.out), `${JSON.stringify({ at: new Date().toISOString(), speed, quick: values.quick, results }, null, 1)}\n`);
}
const md = markdownTable(results);
process.stderr.write(`\n${md}\n`);
if (values.readme) updateReadme(md);

/** One run: a sample of the simulator's request counters and the daemon's /proc figures at every tick line. */
async function runSize(size, scenarioFile, poolsFile, workload) {
  let sim;
  let pid;
  const ticks = [];
  const sampleAt = (line) => {
    if (!line.includes('"message":"tick:')) return;
    // a build whose demo does not tell the pid (onDaemonStart): the newest child process of this one
    pid ??= childPid();
    if (!sim || pid === undefined) return;
    let meta;
    try {
      meta = JSON.parse(line);
    } catch {
      return;
    }
    let total = 0;
    let counted = 0;
    let pve = 0;
    for (const r of sim.ctx.recorder.requests.values()) {
      if (r.side !== 'github') {
        pve += r.count;
        continue;
      }
      total += r.count;
      counted += r.counted;
    }
    const s = procStats(pid);
    ticks.push({ t: sim.clock.nowMs(), tickMs: meta.tick_ms, total, counted, pve, cpuS: s?.cpuS, rssMb: s?.peakRssMb, pid });
  };
  const started = Date.now();
  const report = await runDemo({
    scenario: scenarioFile,
    pools: poolsFile,
    speed,
    daemonArgv: [process.execPath, ...nodeFlags, join(root, 'dist', 'cli.js')],
    baseEnv: process.env,
    // the shipped scenario's interval (issue 10's measurement), whatever the caller's environment says
    env: { POLL_INTERVAL: '15' },
    settleTicks: 2,
    onDaemonStart: (p) => {
      pid = p;
    },
    during: (s) => {
      sim = s;
    },
    daemonLog: sampleAt,
    progress: (l) => process.stderr.write(`  ${l}\n`),
  });
  return summarise(size, report, ticks, (Date.now() - started) / 1000, workload);
}

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(d));
  if (!m) throw new Error(`duration '${d}'`);
  return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
}

/** Splits served jobs: in a repository active when they were queued (another job of it queued, running or ended within RECENT_S), or not. */
function byActivity(served, workload) {
  const duration = (j) => seconds(workload.find((w) => w.repo === j.repo && Math.abs(seconds(w.at) - j.queued_s) < 5)?.duration ?? '0s');
  const active = [];
  const first = [];
  for (const j of served) {
    if (j.repo === IDLE_REPO) continue;
    const recent = served.some((o) => o !== j && o.repo === j.repo && o.queued_s < j.queued_s && o.queued_s + o.pickup_s + duration(o) >= j.queued_s - RECENT_S);
    (recent ? active : first).push(j);
  }
  return { active, first };
}

function childPid() {
  try {
    const ids = readdirSync(`/proc/${process.pid}/task`).flatMap((t) => readFileSync(`/proc/${process.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    return ids.length ? Math.max(...ids) : undefined;
  } catch {
    return undefined;
  }
}

function summarise(size, report, ticks, realS, workload) {
  const r1 = (x) => (x === undefined || x === null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);
  const median = (xs) => {
    const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
  };
  const first = ticks[0];
  const last = ticks.at(-1);
  const after = ticks.slice(1);
  const perTick = after.map((x, i) => x.total - ticks[i].total);
  const pvePerTick = after.map((x, i) => x.pve - ticks[i].pve);
  const hours = first && last && last.t > first.t ? (last.t - first.t) / 3_600_000 : undefined;
  const per = (k) => (hours ? (last[k] - first[k]) / hours : undefined);
  const mid = ticks[Math.floor(ticks.length / 2)];
  const settled = (k) => (mid && last && last.t > mid.t ? (last[k] - mid[k]) / ((last.t - mid.t) / 3_600_000) : undefined);
  const gaps = after.map((x, i) => (x.t - ticks[i].t) / 1000);
  const tickMs = after.map((x) => x.tickMs);
  const cpuPerTick = after.map((x, i) => (x.cpuS !== undefined && ticks[i].cpuS !== undefined ? (x.cpuS - ticks[i].cpuS) * 1000 : undefined));
  // measured per scenario hour; when ticks came late (a busy machine, a tick longer than the
  // interval) that undercounts, so the speed-1 figure is CPU per tick × the ticks an hour holds at
  // POLL_INTERVAL plus its mean jitter (15 s × 1.05)
  const cpuMeasuredPerHour = first?.cpuS !== undefined && last?.cpuS !== undefined && hours ? (last.cpuS - first.cpuS) / hours : undefined;
  const cpuTicks = cpuPerTick.filter((x) => x !== undefined);
  const cpuPerHour = cpuTicks.length ? (cpuTicks.reduce((a, b) => a + b, 0) / cpuTicks.length / 1000) * (3600 / (15 * 1.05)) : undefined;
  const served = (report.pickup?.jobs ?? []).filter((j) => j.pickup_s !== undefined);
  const { active: activeJobs, first: firstJobs } = byActivity(served, workload);
  const active = activeJobs.map((j) => j.pickup_s);
  const idle = served.filter((j) => j.repo === IDLE_REPO).map((j) => j.pickup_s);
  return {
    repos: size.repos,
    vms: report.vms.peak_total,
    label: size.label,
    finished: report.finished,
    jobs_done: `${report.jobs.completed}/${report.jobs.total - report.jobs.unmatched}`,
    ticks: ticks.length,
    requests_per_tick: median(perTick) ?? null,
    requests_per_tick_max: perTick.length ? Math.max(...perTick) : null,
    proxmox_requests_per_tick: median(pvePerTick) ?? null,
    // the last quarter of the run: warm pool filled, workload done — what a tick costs at rest
    proxmox_requests_per_tick_settled: median(pvePerTick.slice(Math.floor(pvePerTick.length * 0.75))) ?? null,
    counted_first_tick: first?.counted ?? null,
    counted_per_hour: r1(per('counted')),
    // the second half of the run: the idle repositories' first listings (counted once each, spread
    // over the ticks of the first round-robin sweep) are behind; what an hour costs from then on
    counted_per_hour_settled: r1(settled('counted')),
    requests_per_hour: r1(per('total')),
    secondary_limited: report.github.secondary_limited ?? null,
    github_errors: report.github.errors,
    tick_real_ms_p50: r1(median(tickMs)),
    tick_real_ms_max: tickMs.length ? r1(Math.max(...tickMs)) : null,
    tick_gap_s_mean: gaps.length ? r1(gaps.reduce((a, b) => a + b, 0) / gaps.length) : null,
    // CPU between two tick lines: the tick and whatever ran until the next (actions, quick looks); load-proof, unlike tick_real_ms
    cpu_ms_per_tick_p50: r1(median(cpuPerTick)),
    cpu_s_per_hour: r1(cpuPerHour),
    cpu_s_per_scenario_hour_measured: r1(cpuMeasuredPerHour),
    cpu_pct_of_core: cpuPerHour === undefined ? null : r1(cpuPerHour / 36),
    peak_rss_mb: r1(Math.max(...ticks.map((x) => x.rssMb ?? 0), report.controller.max_rss_mb ?? 0)),
    pickup_p50_active_s: r1(median(active)),
    pickup_idle_hour_s: idle.length ? r1(idle[0]) : null,
    pickup_active_jobs: active.length,
    // where the active repositories' pickups went: detection (queued → the daemon acting) is the budget's share
    detection_p50_active_s: r1(median(activeJobs.map((j) => j.stages_s?.detection))),
    // the first wave, in repositories quiet since the start: seen when the first sweep reaches them
    pickup_p50_first_wave_s: r1(median(firstJobs.map((j) => j.pickup_s))),
    pickups: served.map((j) => ({ repo: j.repo, queued_s: j.queued_s, pickup_s: j.pickup_s, detection_s: j.stages_s?.detection })),
    real_s: r1(realS),
  };
}

function markdownTable(rows) {
  const n = (v) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 1 }) : v);
  const head = '| repos | VMs | GitHub requests per tick | Proxmox requests per tick (at rest) | counted by the first tick | counted per hour after it (second half of the run) | requests per hour | tick takes (real, p50 / max) | daemon CPU per tick (p50) | ticks every (scenario s) | daemon CPU per hour (speed 1) | peak RSS | pickup p50, active repos (detection) | pickup p50, first wave (repos quiet since the start) | pickup, repo idle 1 h |';
  const lines = [head, `|${head.split('|').slice(1, -1).map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${n(r.repos)} | ${n(r.vms)} | ${n(r.requests_per_tick)} | ${n(r.proxmox_requests_per_tick)} (${n(r.proxmox_requests_per_tick_settled)} at rest) | ${n(r.counted_first_tick)} | ${n(r.counted_per_hour)} (${r.counted_per_hour_settled === undefined ? '—' : n(r.counted_per_hour_settled)}) | ${n(r.requests_per_hour)} | ${n(r.tick_real_ms_p50)} / ${n(r.tick_real_ms_max)} ms | ${n(r.cpu_ms_per_tick_p50)} ms | ${n(r.tick_gap_s_mean)} | ${n(r.cpu_s_per_hour)} CPU-s (${n(r.cpu_pct_of_core)} %) | ${n(r.peak_rss_mb)} MB | ${r.pickup_p50_active_s === null ? '—' : `${n(r.pickup_p50_active_s)} s (${n(r.detection_p50_active_s)} s)`} | ${r.pickup_p50_first_wave_s === null || r.pickup_p50_first_wave_s === undefined ? '—' : `${n(r.pickup_p50_first_wave_s)} s`} | ${r.pickup_idle_hour_s === null ? '—' : `${n(r.pickup_idle_hour_s)} s`} |`);
  }
  return lines.join('\n');
}

/** Replaces the table between README.md's growth-table markers (the lead re-runs the bench after merges). */
function updateReadme(md) {
  const file = join(root, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- growth-table: generated by `npm run bench -- --growth --readme` -->';
  const end = '<!-- /growth-table -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    process.stderr.write(`bench --growth: README.md has no ${start} … ${end} block; table not written\n`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${md}\n${text.slice(b)}`);
  process.stderr.write('bench --growth: README.md growth table updated\n');
}
