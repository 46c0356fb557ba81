/**
 * Where each second of a job's pickup went (queued → a runner took it), from the simulator's
 * record. The stages are consecutive points of one timeline, clipped to [queued, taken] and made
 * monotonic, so they add up to the pickup by construction (and `breakdownJob` checks it):
 *
 *   queued → detection → capacity → clone → configure → start → boot → registration → assignment = taken
 *
 * detection ends when a jobs listing first showed the job to the daemon; capacity when the clone
 * of the VM whose runner took it was requested; clone when that clone task ended; configure when
 * the VM's first start was requested; start when that start task ended; boot when the guest's
 * runner program began; registration when the runner came online on GitHub; assignment when
 * GitHub gave it the job. A stage that happened before the job was queued (a warm VM's clone, a
 * hot runner's whole life) is 0. Detection counts only while it can hold the job back: it is 0 for
 * a hot runner, and it ends no later than the first step the VM took after the job was queued (a
 * VM made for another job may already be on its way).
 */
import type { JobTimes } from './recorder.js';
import type { Span, VmLife } from './timeline.js';

export const STAGES = ['detection', 'capacity', 'clone', 'configure', 'start', 'boot', 'registration', 'assignment'] as const;
export type Stage = (typeof STAGES)[number];
export type Tier = 'hot' | 'warm' | 'cold';

export interface JobBreakdown {
  job: number;
  repo: string;
  pool: string | null;
  tier: Tier;
  runner: string;
  vmid: number | null;
  queued_s: number;
  taken_s: number;
  pickup_s: number;
  /** the same pickup read from GitHub's job timestamps (`started_at` − `created_at`, whole seconds) */
  github_pickup_s: number | null;
  stages_s: Record<Stage, number>;
  /** critical-path time no request or task of the VM's chain was outstanding and nothing else was waited on */
  daemon_s: number;
  /** the daemon's share within each stage it can fall in */
  daemon_stages_s: Record<DaemonStage, number>;
}

/** The stages between detection and the start task's end: where the daemon's share can fall. */
export const DAEMON_STAGES = ['capacity', 'clone', 'configure', 'start'] as const;
export type DaemonStage = (typeof DAEMON_STAGES)[number];

export interface BreakdownInputs {
  job: JobTimes;
  vm: VmLife | undefined;
  /** VMs per pool and in total after each change, and the caps they are held to */
  counts: ReadonlyArray<{ tMs: number; total: number; pools: Record<string, number> }>;
  caps?: { total?: number; pools: Record<string, number> };
  githubPickupS?: number;
}

const s3 = (ms: number) => Math.round(ms) / 1000;

/** hot: its runner was online before the job was queued; warm: its VM was cloned before and started after; else cold. */
export function tierOf(job: JobTimes, vm: VmLife | undefined): Tier {
  if (vm?.onlineMs !== undefined && vm.onlineMs <= job.queuedAt) return 'hot';
  if (vm?.cloneEndMs !== undefined && vm.cloneEndMs <= job.queuedAt && (vm.startRequestMs === undefined || vm.startRequestMs >= job.queuedAt)) return 'warm';
  return 'cold';
}

export function breakdownJob(i: BreakdownInputs): JobBreakdown {
  const { job, vm } = i;
  // whole scenario ms, so the stages in the JSON add up to the pickup exactly
  const q = Math.round(job.queuedAt);
  const t = Math.round(job.takenAt!);
  const tier = tierOf(job, vm);
  const chain = vm ? [vm.cloneRequestMs, vm.cloneEndMs, vm.startRequestMs, vm.startEndMs, vm.runnerStartMs, vm.onlineMs] : [];
  const firstAfterQueued = chain.find((p): p is number => p !== undefined && p > q) ?? t;
  const detected = tier === 'hot' ? q : Math.min(job.listedAt ?? Infinity, firstAfterQueued);
  const raw = [detected, ...(vm ? chain : [undefined, undefined, undefined, undefined, undefined, undefined])];
  // points[k] ends stage k; each is clipped into [previous point, taken]; a missing one adds nothing
  const points: number[] = [];
  let prev = q;
  for (const p of raw) {
    prev = Math.min(t, Math.max(prev, Math.round(p ?? prev)));
    points.push(prev);
  }
  points.push(t);
  const stagesMs = STAGES.map((_, k) => points[k]! - (k === 0 ? q : points[k - 1]!));
  const sum = stagesMs.reduce((a, b) => a + b, 0);
  if (sum !== t - q) throw new Error(`pickup breakdown of job ${job.id}: stages add up to ${sum} ms, pickup is ${t - q} ms`);
  const [detectionEnd, capacityEnd] = points as [number, number];
  // stage k runs from points[k-1] to points[k]: capacity is stage 1, start stage 4
  const daemonStages = DAEMON_STAGES.map((_, k) => (vm ? daemonShare(i, points[k]!, capacityEnd, points[k + 1]!, detectionEnd) : 0));
  const daemonMs = daemonStages.reduce((a, b) => a + b, 0);
  return {
    job: job.id,
    repo: job.repo,
    pool: vm?.pool ?? null,
    tier,
    runner: job.runnerName ?? '',
    vmid: vm?.vmid ?? null,
    queued_s: s3(q),
    taken_s: s3(t),
    pickup_s: s3(t - q),
    github_pickup_s: i.githubPickupS ?? null,
    stages_s: Object.fromEntries(STAGES.map((s, k) => [s, s3(stagesMs[k]!)])) as Record<Stage, number>,
    daemon_s: s3(daemonMs),
    daemon_stages_s: Object.fromEntries(DAEMON_STAGES.map((s, k) => [s, s3(daemonStages[k]!)])) as Record<DaemonStage, number>,
  };
}

/*
 * The daemon's own share: on the critical path from detection to the start task's end (after it
 * the guest and GitHub have the job), the time when no request or task of this VM was outstanding
 * and the VM's pool (or the whole installation) was not at its cap.
 */
function daemonShare(i: BreakdownInputs, from: number, capacityEnd: number, to: number, detectionEnd: number): number {
  if (to <= from) return 0;
  const waiting: Span[] = [...i.vm!.spans, ...atCap(i, detectionEnd, capacityEnd)];
  return to - from - covered(waiting, from, to);
}

/** Spans inside [from, to] during which the pool or the total was at its cap. */
function atCap(i: BreakdownInputs, from: number, to: number): Span[] {
  const pool = i.vm?.pool;
  const cap = pool !== undefined ? i.caps?.pools[pool] : undefined;
  const total = i.caps?.total;
  const out: Span[] = [];
  const full = (c: { total: number; pools: Record<string, number> }) =>
    (cap !== undefined && pool !== undefined && (c.pools[pool] ?? 0) >= cap) || (total !== undefined && c.total >= total);
  for (let k = 0; k < i.counts.length; k++) {
    const c = i.counts[k]!;
    const end = i.counts[k + 1]?.tMs ?? Infinity;
    if (end <= from || c.tMs >= to || !full(c)) continue;
    out.push({ startMs: Math.max(from, c.tMs), endMs: Math.min(to, end) });
  }
  return out;
}

/** Length of the union of `spans` within [from, to]. */
export function covered(spans: readonly Span[], from: number, to: number): number {
  const clipped = spans.map((s) => [Math.max(from, s.startMs), Math.min(to, s.endMs)] as const).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}
