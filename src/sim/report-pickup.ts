/**
 * The report's pickup section: per pool and tier, pickup p50/p95, the floor the scenario's timings
 * allow, the ratio to it and the mean of each breakdown stage; every job's breakdown; and the
 * pools' hot/warm sizes over time. Scenario seconds.
 */
import { breakdownJob, DAEMON_STAGES, STAGES, type DaemonStage, type JobBreakdown, type Stage, type Tier } from './breakdown.js';
import type { JobTimes, Recorder } from './recorder.js';
import type { Scenario } from './scenario.js';

/** What the floor depends on, per pool (pools.yaml's `clone` and `registration`). */
export interface PoolModes {
  clone: 'linked' | 'full';
  registration: 'jit' | 'token';
}

export interface TierFigures {
  jobs: number;
  p50: number | null;
  p95: number | null;
  /** the same percentiles from GitHub's `created_at` → `started_at` */
  github_p50: number | null;
  github_p95: number | null;
  floor_s: number;
  /** p50 / floor; null when the floor is 0 (hot with `dispatch: 0s`) */
  ratio_p50: number | null;
  stage_means_s: Record<Stage, number>;
  daemon_s_mean: number;
  daemon_s_max: number;
  daemon_stage_means_s: Record<DaemonStage, number>;
}

export interface PickupSection {
  /** pool → tier → figures (pool `(foreign)` never appears: jobs foreign runners took are left out) */
  by_pool: Record<string, Partial<Record<Tier, TierFigures>>>;
  jobs: JobBreakdown[];
  /** how far the GitHub-timestamp pickup is from the simulator's, at most (whole-second timestamps: < 1) */
  github_max_abs_diff_s: number | null;
  /** pool → [scenario s, hot, warm] at each change */
  tiers_over_time: Record<string, Array<[number, number, number]>>;
  /** pool → scenario s of each clone request (how soon the daemon acted on a schedule rule) */
  clone_requests_s: Record<string, number[]>;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[idx]!);
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The least pickup the simulator's timing model allows for a job of this tier, in scenario s.
 * cold: clone (linked or full) + config + start + boot + runner connect, plus Proxmox's latency
 * on the five requests that must follow one another (clone, its task poll, config, its poll,
 * start); token registration adds config.sh's own round trip (one more connect). warm: the same
 * without the clone and its poll (the VM still needs its cicustom set). hot: GitHub's dispatch
 * delay to an idle runner (`github.timings.dispatch`).
 */
export function floorS(scenario: Scenario, tier: Tier, modes: PoolModes): number {
  if (tier === 'hot') return round(scenario.github.timings.dispatchMs / 1000, 2);
  const t = scenario.proxmox.timings;
  const connects = modes.registration === 'token' ? 2 : 1;
  const guest = t.configMs + t.startMs + t.bootMs + connects * scenario.github.timings.runnerConnectMs;
  const ms = tier === 'cold' ? (modes.clone === 'full' ? t.fullCloneMs : t.cloneMs) + guest + 5 * t.latencyMs : guest + 3 * t.latencyMs;
  return round(ms / 1000, 2);
}

export function pickupSection(i: {
  recorder: Recorder;
  scenario: Scenario;
  served: readonly JobTimes[];
  pools?: Record<string, PoolModes>;
  githubPickupS: (jobId: number) => number | undefined;
}): PickupSection {
  const tl = i.recorder.timeline;
  const jobs = i.served
    .filter((j) => j.takenAt !== undefined && !j.takenByForeign)
    .map((job) => breakdownJob({ job, vm: job.runnerName ? tl.vmNamed(job.runnerName) : undefined, counts: i.recorder.counts, caps: i.recorder.caps, githubPickupS: i.githubPickupS(job.id) }));
  const groups = new Map<string, JobBreakdown[]>();
  for (const b of jobs) {
    const key = `${b.pool ?? '(unknown)'}\0${b.tier}`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  const byPool: PickupSection['by_pool'] = {};
  for (const [key, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const [pool, tier] = key.split('\0') as [string, Tier];
    const modes = i.pools?.[pool] ?? observedModes(i.recorder, list);
    const floor = floorS(i.scenario, tier, modes);
    const pickups = list.map((b) => b.pickup_s).sort((a, b) => a - b);
    const gh = list.map((b) => b.github_pickup_s).filter((x): x is number => x !== null).sort((a, b) => a - b);
    const p50 = percentile(pickups, 50);
    const mean = (f: (b: JobBreakdown) => number) => round(list.reduce((n, b) => n + f(b), 0) / list.length, 2);
    (byPool[pool] ??= {})[tier] = {
      jobs: list.length,
      p50,
      p95: percentile(pickups, 95),
      github_p50: percentile(gh, 50),
      github_p95: percentile(gh, 95),
      floor_s: floor,
      ratio_p50: p50 !== null && floor > 0 ? round(p50 / floor, 2) : null,
      stage_means_s: Object.fromEntries(STAGES.map((s) => [s, mean((b) => b.stages_s[s])])) as Record<Stage, number>,
      daemon_s_mean: mean((b) => b.daemon_s),
      daemon_s_max: round(Math.max(...list.map((b) => b.daemon_s)), 2),
      daemon_stage_means_s: Object.fromEntries(DAEMON_STAGES.map((s) => [s, mean((b) => b.daemon_stages_s[s])])) as Record<DaemonStage, number>,
    };
  }
  const diffs = jobs.filter((b) => b.github_pickup_s !== null).map((b) => Math.abs(b.github_pickup_s! - b.pickup_s));
  const tiers: PickupSection['tiers_over_time'] = {};
  for (const s of tl.tiers) (tiers[s.pool] ??= []).push([round(s.tMs / 1000, 3), s.hot, s.warm]);
  const clones: PickupSection['clone_requests_s'] = {};
  for (const vm of tl.vms) if (vm.pool !== undefined) (clones[vm.pool] ??= []).push(round(vm.cloneRequestMs / 1000, 3));
  return { by_pool: byPool, jobs, github_max_abs_diff_s: diffs.length ? round(Math.max(...diffs), 3) : null, tiers_over_time: tiers, clone_requests_s: clones };
}

/* Without pools.yaml (a bare simulator): what the VMs themselves did — any full clone, any config.sh. */
function observedModes(rec: Recorder, list: readonly JobBreakdown[]): PoolModes {
  const vms = list.map((b) => rec.timeline.vmNamed(b.runner)).filter((v) => v !== undefined);
  return { clone: vms.some((v) => v.full) ? 'full' : 'linked', registration: vms.some((v) => v.registration === 'token') ? 'token' : 'jit' };
}
