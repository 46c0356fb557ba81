/**
 * `pve-runners status`: one observation and plan, exactly as a tick of the daemon makes them (but
 * acting on nothing), shown as a table of pools: queued jobs, VMs by state, runners, capacity left.
 */
import { freeVmids, foreignVmsInRanges, describeForeign, type ForeignVm } from '../check/ranges.js';
import { systemClock } from '../clock.js';
import { ConfigError, EXIT_CONFIG, loadSettings, parseEnv, type Config, type Env } from '../config/index.js';
import { wire } from '../daemon/wire.js';
import { scopeKey } from '../github/scope.js';
import { createLogger, Redactor } from '../log.js';
import type { Plan } from '../planner/actions.js';
import { OWNER_TAG, parseRunnerName } from '../planner/names.js';
import type { Observation } from '../planner/observation.js';
import { readState } from '../daemon/state-file.js';
import type { ReloadState } from '../daemon/reload.js';
import { describeFailure } from './failure.js';
import { formatReload } from './status-daemon.js';

export interface StatusCommandOptions {
  env: Env;
  cwd: string;
  out: (line: string) => void;
  /** why status could not be shown */
  err?: (line: string) => void;
  /** log lines of the clients, stderr by default */
  write?: (line: string) => void;
  json: boolean;
}

export interface PoolStatus {
  pool: string;
  /** queued jobs this pool would serve */
  queued: number;
  /** `other`: running VMs the next tick removes or cannot judge yet (boot timed out, runner gone, registration unreadable) */
  vms: { creating: number; booting: number; idle: number; busy: number; stopped: number; warm: number; other: number; total: number };
  /** hot runners (idle within the hot count) and warm VMs kept, against the sizes in force */
  tiers: { hot: number; warm: number; sizes: { hot: number; warm: number } };
  /** registrations of this pool's runners as GitHub lists them */
  runners: { idle: number; busy: number; offline: number };
  /** VMs that could still be created: the least of max_runners, free VMIDs and max_total_runners left */
  capacityLeft: number;
  /** why fewer VMs are created than jobs wait, if so */
  limitedBy?: string;
}

export interface StatusReport {
  pools: PoolStatus[];
  unmatched: Array<{ labels: string[]; jobs: number; repos: string[] }>;
  foreignInRanges: ForeignVm[];
  total: { vms: number; maxTotalRunners: number | null };
  /** scopes whose jobs or runners could not be read: their figures are incomplete */
  incomplete: string[];
  github: { remaining: number; limit: number; resetAt: number } | null;
  /** other pve-runners installations with VMs in our pools' ranges; a live one makes those pools create nothing */
  otherInstances: Array<{ id: string; live: boolean; pools: string[]; vmids: number[]; lastActiveAt: number }>;
  /** VMs of ours no configured pool holds (pool removed, range shrunk): removed once not busy */
  draining: Plan['draining'];
  /** the running daemon's last reload, from its state file (absent when none was read) */
  reload?: ReloadState | null;
}

/** The table's figures from one observation and the plan made of it (the planner's own classification). */
export function buildStatus(config: Config, scopes: readonly string[], obs: Observation, plan: Plan, budget: StatusReport['github']): StatusReport {
  const totalVms = plan.pools.reduce((n, s) => n + s.vms, 0);
  const cap = config.maxTotalRunners > 0 ? config.maxTotalRunners : null;
  const pools = config.pools.map((pool): PoolStatus => {
    const s = plan.pools.find((x) => x.pool === pool.name);
    const tag = pool.tag.toLowerCase();
    const mine = obs.vms.filter((v) => {
      const tags = v.tags.map((t) => t.toLowerCase());
      return !v.template && tags.includes(OWNER_TAG) && tags.includes(tag) && v.vmid >= pool.vmidRange.lo && v.vmid <= pool.vmidRange.hi;
    });
    // The planner counts clones in progress (lock `clone`) among the booting; show them apart.
    const creating = mine.filter((v) => v.lock === 'clone').length;
    const warm = s?.warm ?? 0;
    const stopped = mine.filter((v) => v.status === 'stopped' && !v.lock).length - warm;
    const idle = s?.idle ?? 0;
    const busy = s?.busy ?? 0;
    const total = s?.vms ?? mine.length;
    const booting = Math.max(0, (s?.booting ?? 0) - creating);
    const runners = { idle: 0, busy: 0, offline: 0 };
    for (const r of obs.runners) {
      if (parseRunnerName(config.pools, r.name)?.pool !== pool) continue;
      if (r.busy) runners.busy++;
      else if (r.status === 'online') runners.idle++;
      else runners.offline++;
    }
    const room = [pool.maxRunners - total, freeVmids(pool, obs.vms), ...(cap === null ? [] : [cap - totalVms])];
    return {
      pool: pool.name,
      queued: s?.queued ?? 0,
      vms: { creating, booting, idle, busy, stopped, warm, other: Math.max(0, total - creating - booting - idle - busy - stopped - warm), total },
      tiers: { hot: s?.hot ?? 0, warm, sizes: s?.sizes ?? pool.sizes },
      runners,
      capacityLeft: Math.max(0, Math.min(...room)),
      ...(s?.limitedBy ? { limitedBy: s.limitedBy } : {}),
    };
  });
  const unmatched = new Map<string, { labels: string[]; jobs: number; repos: string[] }>();
  for (const u of plan.unmatched) {
    const key = u.labels.map((l) => l.toLowerCase()).sort().join('\n');
    const g = unmatched.get(key) ?? { labels: [...u.labels], jobs: 0, repos: [] };
    g.jobs++;
    if (!g.repos.includes(u.repo)) g.repos.push(u.repo);
    unmatched.set(key, g);
  }
  const incomplete = scopes.filter((s) => obs.jobScopesFailed.includes(s) || !obs.runnerScopes.includes(s));
  return { pools, unmatched: [...unmatched.values()], foreignInRanges: foreignVmsInRanges(config.pools, obs.vms), total: { vms: totalVms, maxTotalRunners: cap }, incomplete, github: budget, draining: plan.draining, otherInstances: plan.otherInstances.map((x) => ({ ...x, pools: [...x.pools], vmids: [...x.vmids] })) };
}

const HEADERS = ['pool', 'queued', 'creating', 'booting', 'idle', 'busy', 'stopped', 'hot', 'warm', 'runners idle/busy', 'capacity left'];

export function formatStatus(r: StatusReport): string[] {
  const rows = r.pools.map((p) => [p.pool, p.queued, p.vms.creating, p.vms.booting, p.vms.idle, p.vms.busy, p.vms.stopped, `${p.tiers.hot}/${p.tiers.sizes.hot}`, `${p.tiers.warm}/${p.tiers.sizes.warm}`, `${p.runners.idle}/${p.runners.busy}`, p.capacityLeft].map(String));
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [line(HEADERS), ...rows.map(line)];
  out.push(`total: ${r.total.vms} runner VM(s)${r.total.maxTotalRunners === null ? ', no overall cap' : ` of max_total_runners ${r.total.maxTotalRunners}`}`);
  for (const p of r.pools) {
    if (p.limitedBy && p.queued > 0) out.push(`${p.pool}: queued jobs wait on ${p.limitedBy}`);
    if (p.vms.other > 0) out.push(`${p.pool}: ${p.vms.other} VM(s) whose runner timed out, finished or cannot be read yet: the daemon removes or rechecks them`);
    if (p.runners.offline > 0) out.push(`${p.pool}: ${p.runners.offline} offline registration(s)`);
  }
  const unmatchedJobs = r.unmatched.reduce((n, u) => n + u.jobs, 0);
  out.push(unmatchedJobs === 0
    ? 'unmatched: no queued job lacks a pool'
    : `unmatched: ${unmatchedJobs} queued job(s) no pool fits: ${r.unmatched.map((u) => `[${u.labels.join(', ')}] ×${u.jobs} (${u.repos.join(', ')})`).join('; ')}`);
  out.push(r.foreignInRanges.length === 0
    ? 'foreign VMs in ranges: none'
    : `foreign VMs in ranges (never touched, VMIDs skipped): ${r.foreignInRanges.map((f) => `${describeForeign(f)} in ${f.pool}`).join(', ')}`);
  for (const x of r.otherInstances) {
    out.push(x.live
      ? `STANDING DOWN: another pve-runners instance '${x.id}' is live in the VMID range of ${x.pools.join(', ')} (VMs ${x.vmids.join(', ')}): nothing is created there; stop the other daemon, or give the two disjoint VMID ranges`
      : `pve-runners instance '${x.id}' made no VM for INSTANCE_TAKEOVER_AFTER: its VMs ${x.vmids.join(', ')} are taken over`);
  }
  if (r.draining.length) out.push(`draining (no configured pool holds them; removed once stopped or idle, never while busy): ${r.draining.map((d) => `${d.vmid} ${d.name} (pool ${d.pool}, ${d.state})`).join(', ')}`);
  if (r.incomplete.length) out.push(`incomplete: could not read jobs or runners of ${r.incomplete.join(', ')}; their figures are partial`);
  if (r.github) out.push(`GitHub rate budget: ${r.github.remaining}/${r.github.limit} left`);
  return out;
}

/**
 * pools.yaml as it is now has problems, but the daemon runs on (a reload refused the edit): its last
 * table and the reload's problems are shown, and the exit code says the configuration is wrong.
 */
function daemonViewOnConfigError(o: StatusCommandOptions, e: ConfigError): number | undefined {
  const { settings } = parseEnv(o.env, { cwd: o.cwd });
  if (!settings) return undefined;
  const state = readState<StatusReport>(settings.runtimeDir);
  const tick = 'state' in state ? state.state.lastTick : null;
  if (!('state' in state) || !tick) return undefined;
  const s = state.state;
  if (o.json) o.out(JSON.stringify({ ...tick.table, reload: s.reload, fromDaemonAt: tick.at }));
  else {
    o.out(`pools.yaml has problems; the daemon (pid ${s.pid}) runs on its previous configuration. Its last tick:`);
    for (const l of [...formatStatus(tick.table), ...formatReload(state, systemClock.now())]) o.out(l);
  }
  (o.err ?? o.out)(`pve-runners: configuration error:\n${e.message}`);
  return EXIT_CONFIG;
}

export async function statusCommand(o: StatusCommandOptions): Promise<number> {
  let settings: ReturnType<typeof loadSettings>;
  try {
    settings = loadSettings(o.env, { cwd: o.cwd });
  } catch (e) {
    const shown = e instanceof ConfigError ? daemonViewOnConfigError(o, e) : undefined;
    if (shown === undefined) throw e;
    return shown;
  }
  const redactor = new Redactor();
  // `error`: the tick's warnings (unmatched jobs, foreign VMs) are part of the table already.
  const log = createLogger({ level: 'error', format: 'text', secrets: redactor, write: o.write });
  const w = wire(settings, { clock: systemClock, log, redactor });
  const out = (line: string) => o.out(redactor.redact(line));
  let result: Awaited<ReturnType<typeof w.daemon.tick>>;
  try {
    // A dry-run tick: the daemon's own observation and plan, nothing submitted.
    result = await w.daemon.tick({ dryRun: true });
  } catch (e) {
    const line = describeFailure('status', e, { proxmoxUrl: settings.env.proxmox.url, githubUrl: settings.env.github.apiUrl });
    if (line === undefined) throw e;
    (o.err ?? o.out)(redactor.redact(`pve-runners: ${line}`));
    return 1;
  }
  const scopes = w.observer.scopes().map(scopeKey);
  const budget = w.github.budget();
  const report = buildStatus(w.config, scopes, result.observation, result.plan, budget ? { remaining: budget.remaining, limit: budget.limit, resetAt: budget.resetAt } : null);
  // The daemon's reload outcome is only in its state file: this process read pools.yaml itself.
  const state = readState<StatusReport>(settings.env.runtimeDir);
  const withReload = { ...report, reload: 'state' in state ? state.state.reload : null };
  if (o.json) out(JSON.stringify(withReload));
  else for (const l of [...formatStatus(withReload), ...formatReload(state, systemClock.now())]) out(l);
  return 0;
}
