import type { JobTimes, Recorder } from './recorder.js';
import { percentile, pickupSection, round, type PickupSection, type PoolModes } from './report-pickup.js';
import type { Scenario } from './scenario.js';

/** The measurement report of DESIGN.md ("The report"); every figure in scenario seconds. */
export interface Report {
  scenario: string;
  speed: number;
  duration_s: number;
  finished: boolean;
  jobs: {
    total: number;
    completed: number;
    unmatched: number;
    failed: number;
    cancelled: number;
    taken_by_foreign: number;
    pending: number;
    pickup_latency_s: { p50: number | null; p95: number | null; max: number | null };
  };
  github: {
    requests: number; counted_against_rate_limit: number; not_modified: number; errors: number; by_endpoint: Record<string, number>;
    /** answers refused by a secondary limit (points, concurrency, a block, the fault); 0 in normal operation */
    secondary_limited: number;
    /** the most points one credential had spent in a sliding minute, and the most requests it had in flight */
    peak_points_per_minute: number;
    peak_in_flight: number;
  };
  proxmox: { requests: number; tasks: number; task_failures: number; errors: number; by_endpoint: Record<string, number> };
  vms: { created: number; destroyed: number; peak_total: number; peak_by_pool: Record<string, number>; leaked: number };
  leaks: { vms: number; registrations: number; snippets: number; foreign_touched: number };
  leak_details: { vms: number[]; registrations: string[]; snippets: string[]; foreign_touched: string[] };
  /** places on simulated Proxmox storage (snippets, cloud-init drives) where a runner credential was seen at any moment; 0 is what delivery: guest-agent promises */
  secrets_on_storage: number;
  secrets_on_storage_details: string[];
  cap_violations: number;
  cap_violation_details: string[];
  controller: { cpu_s: number | null; max_rss_mb: number | null };
  /** per pool and tier, and per job: where each second between queued and taken went */
  pickup: PickupSection & { epoch_origin_ms: number };
}

export interface ReportInputs {
  scenario: string;
  speed: number;
  nowMs: number;
  finished: boolean;
  recorder: Recorder;
  /** Jobs no pool can serve (decided by whoever knows the pools: the demo); they are not expected to complete. */
  isUnmatched: (job: JobTimes) => boolean;
  leaks: { vms: number[]; registrations: string[]; snippets: string[] };
  secretsOnStorage?: string[];
  controller?: { cpu_s: number; max_rss_mb: number };
  scenarioModel: Scenario;
  /** pools.yaml's clone and registration modes per pool (the floor depends on them) */
  pools?: Record<string, PoolModes>;
  /** pickup from the job's GitHub timestamps, as the jobs API returns them */
  githubPickupS: (jobId: number) => number | undefined;
  /** the epoch ms GitHub's timestamps give scenario time 0 */
  epochOriginMs: number;
}


export function buildReport(i: ReportInputs): Report {
  const jobs = [...i.recorder.jobs.values()];
  const unmatched = jobs.filter(i.isUnmatched);
  const ours = jobs.filter((j) => !i.isUnmatched(j));
  const completed = ours.filter((j) => j.completedAt !== undefined && j.conclusion === 'success' && !j.takenByForeign);
  const latencies = ours
    .filter((j) => j.takenAt !== undefined && !j.takenByForeign)
    .map((j) => (j.takenAt! - j.queuedAt) / 1000)
    .sort((a, b) => a - b);
  let gh = { requests: 0, counted: 0, notModified: 0, errors: 0 };
  let px = { requests: 0, errors: 0 };
  const ghBy: Record<string, number> = {};
  const pxBy: Record<string, number> = {};
  for (const [key, r] of i.recorder.requests) {
    const endpoint = key.slice(key.indexOf(' ') + 1);
    if (r.side === 'github') {
      gh = { requests: gh.requests + r.count, counted: gh.counted + r.counted, notModified: gh.notModified + r.notModified, errors: gh.errors + r.errors };
      ghBy[endpoint] = r.count;
    } else {
      px = { requests: px.requests + r.count, errors: px.errors + r.errors };
      pxBy[endpoint] = r.count;
    }
  }
  return {
    scenario: i.scenario,
    speed: i.speed,
    duration_s: round(i.nowMs / 1000),
    finished: i.finished,
    jobs: {
      total: jobs.length,
      completed: completed.length,
      unmatched: unmatched.length,
      failed: ours.filter((j) => j.conclusion === 'failure').length,
      cancelled: jobs.filter((j) => j.conclusion === 'cancelled').length,
      taken_by_foreign: jobs.filter((j) => j.takenByForeign).length,
      pending: ours.filter((j) => j.completedAt === undefined).length,
      pickup_latency_s: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies.length ? round(latencies.at(-1)!) : null },
    },
    github: {
      requests: gh.requests, counted_against_rate_limit: gh.counted, not_modified: gh.notModified, errors: gh.errors, by_endpoint: ghBy,
      secondary_limited: i.recorder.githubSecondary.limited,
      peak_points_per_minute: i.recorder.githubSecondary.peakPointsPerMinute,
      peak_in_flight: i.recorder.githubSecondary.peakInFlight,
    },
    proxmox: { requests: px.requests, tasks: i.recorder.tasks, task_failures: i.recorder.taskFailures, errors: px.errors, by_endpoint: pxBy },
    vms: {
      created: i.recorder.vmsCreated,
      destroyed: i.recorder.vmsDestroyed,
      peak_total: i.recorder.peakTotal,
      peak_by_pool: Object.fromEntries(i.recorder.peakByPool),
      leaked: i.leaks.vms.length,
    },
    leaks: { vms: i.leaks.vms.length, registrations: i.leaks.registrations.length, snippets: i.leaks.snippets.length, foreign_touched: i.recorder.foreignTouches.length },
    leak_details: { ...i.leaks, foreign_touched: [...i.recorder.foreignTouches] },
    secrets_on_storage: i.secretsOnStorage?.length ?? 0,
    secrets_on_storage_details: [...(i.secretsOnStorage ?? [])],
    cap_violations: i.recorder.capViolations.length,
    cap_violation_details: [...i.recorder.capViolations],
    controller: { cpu_s: i.controller?.cpu_s ?? null, max_rss_mb: i.controller?.max_rss_mb ?? null },
    pickup: { ...pickupSection({ recorder: i.recorder, scenario: i.scenarioModel, served: ours, pools: i.pools, githubPickupS: i.githubPickupS }), epoch_origin_ms: i.epochOriginMs },
  };
}
