/**
 * The daemon's Prometheus metrics, on a registry of its own (never prom-client's global one, so
 * nothing another module registers leaks into the exposition). Names follow Prometheus' rules:
 * `pve_runners_` prefix, base units, `_total` counters, `_seconds` histograms; labels are bounded
 * (labels.ts). With the demo's --speed, durations are in scenario seconds like its report.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config/types.js';
import type { RateBudget } from '../github/api.js';
import type { Action } from '../planner/actions.js';
import { parseRunnerName, OWNER_TAG } from '../planner/names.js';
import { JobTracker } from './job-tracker.js';
import { capCode, reasonCode } from './labels.js';
import type { ActionOutcome, ListedJob, MetricsRecorder, TickOutcome } from './recorder.js';

const P = 'pve_runners_';

export interface MetricsOptions {
  config: Config;
  /** daemon ms × timeScale = scenario ms (the demo's --speed; 1 in production) */
  timeScale: number;
  wallTime: (now: number) => number;
  /** the daemon's clock now (epoch ms) */
  now: number;
  /** the primary rate limit as GitHub last told it */
  githubBudget: () => RateBudget | undefined;
}

const VM_STATES = ['running', 'stopped', 'locked', 'warm'] as const;
const RUNNER_STATES = ['idle', 'busy', 'booting'] as const;

export class Metrics implements MetricsRecorder {
  readonly registry = new Registry();
  private readonly tracker: JobTracker;
  private tickStartedAt: number | undefined;
  private readonly scale: number;

  private readonly pickup = new Histogram({ name: `${P}job_pickup_seconds`, help: 'From a job queued to a runner of ours taking it, from GitHub\'s created_at and started_at', labelNames: ['pool', 'tier'], buckets: [1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600], registers: [this.registry] });
  private readonly jobDuration = new Histogram({ name: `${P}job_duration_seconds`, help: 'From a job started on a runner of ours to its end', labelNames: ['pool'], buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600], registers: [this.registry] });
  private readonly clone = new Histogram({ name: `${P}clone_duration_seconds`, help: 'A clone request and its task, inside its storage-lock slot', labelNames: ['pool'], buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200], registers: [this.registry] });
  private readonly boot = new Histogram({ name: `${P}boot_to_registered_seconds`, help: 'From a runner VM\'s start task ending to the first tick that sees its runner registered', labelNames: ['pool'], buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200], registers: [this.registry] });
  private readonly vms = new Gauge({ name: `${P}vms`, help: 'VMs of ours by pool and state (Proxmox\'s status; locked: a clone or destroy under way; warm: a stopped clone kept ready)', labelNames: ['pool', 'state'], registers: [this.registry] });
  private readonly runners = new Gauge({ name: `${P}runners`, help: 'Runners of ours by pool and state (booting: VMs not registered yet)', labelNames: ['pool', 'state'], registers: [this.registry] });
  private readonly queued = new Gauge({ name: `${P}jobs_queued`, help: 'Queued jobs a pool serves', labelNames: ['pool'], registers: [this.registry] });
  private readonly unmatched = new Gauge({ name: `${P}jobs_unmatched`, help: 'Queued jobs no pool can serve', registers: [this.registry] });
  private readonly actions = new Counter({ name: `${P}actions_total`, help: 'Actions ended, by kind, reason and outcome', labelNames: ['kind', 'reason', 'outcome'], registers: [this.registry] });
  private readonly actionDuration = new Histogram({ name: `${P}action_duration_seconds`, help: 'Actions from start to end', labelNames: ['kind', 'outcome'], buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200], registers: [this.registry] });
  private readonly requests = new Counter({ name: `${P}api_requests_total`, help: 'API requests by service, endpoint template and HTTP status (error: no answer)', labelNames: ['service', 'endpoint', 'status'], registers: [this.registry] });
  private readonly ticks = new Counter({ name: `${P}ticks_total`, help: 'Ticks by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly tickDuration = new Histogram({ name: `${P}tick_duration_seconds`, help: 'One tick: observe and plan (actions run on after it)', labelNames: ['outcome'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  private readonly lastTick = new Gauge({ name: `${P}last_successful_tick_timestamp_seconds`, help: 'When the last tick that succeeded ended (Unix time)', registers: [this.registry] });
  private readonly maxRunners = new Gauge({ name: `${P}pool_max_runners`, help: 'max_runners of each pool', labelNames: ['pool'], registers: [this.registry] });
  private readonly maxTotal = new Gauge({ name: `${P}max_total_runners`, help: 'max_total_runners in force (0: no overall cap)', registers: [this.registry] });
  private readonly tierSize = new Gauge({ name: `${P}pool_tier_size`, help: 'Hot runners and warm VMs each pool keeps now (its schedule applied)', labelNames: ['pool', 'tier'], registers: [this.registry] });
  private readonly limited = new Counter({ name: `${P}creation_limited_total`, help: 'Ticks in which a cap kept a pool from creating as many VMs as it wanted', labelNames: ['pool', 'cap'], registers: [this.registry] });
  private readonly rateRemaining = new Gauge({ name: `${P}github_rate_limit_remaining`, help: 'GitHub primary rate limit left, from the last answer\'s x-ratelimit-remaining', registers: [this.registry] });
  private readonly rateLimit = new Gauge({ name: `${P}github_rate_limit_limit`, help: 'GitHub primary rate limit per hour, from x-ratelimit-limit', registers: [this.registry] });
  private readonly rateReset = new Gauge({ name: `${P}github_rate_limit_reset_timestamp_seconds`, help: 'When GitHub\'s primary rate limit resets (Unix time, x-ratelimit-reset)', registers: [this.registry] });

  constructor(private readonly o: MetricsOptions) {
    this.scale = o.timeScale;
    this.tracker = new JobTracker({
      pools: o.config.pools, wallTime: o.wallTime, scale: o.timeScale, since: o.now,
      observe: {
        pickup: (pool, tier, s) => this.pickup.observe({ pool, tier }, s),
        job: (pool, s) => this.jobDuration.observe({ pool }, s),
        boot: (pool, s) => this.boot.observe({ pool }, s),
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: P });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool says so)
    for (const m of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(`${P}${m}`);
    // Known from the start, so a dashboard shows 0 rather than nothing.
    for (const outcome of ['ok', 'failed']) this.ticks.inc({ outcome }, 0);
    this.unmatched.set(0);
    this.maxTotal.set(o.config.maxTotalRunners);
    for (const p of o.config.pools) {
      this.maxRunners.set({ pool: p.name }, p.maxRunners);
      this.queued.set({ pool: p.name }, 0);
      // Zero from the first scrape: Prometheus' increase() counts nothing before a series' first sample.
      for (const tier of ['hot', 'warm', 'cold']) this.pickup.zero({ pool: p.name, tier });
      for (const h of [this.jobDuration, this.clone, this.boot]) h.zero({ pool: p.name });
      for (const state of VM_STATES) this.vms.set({ pool: p.name, state }, 0);
      for (const state of RUNNER_STATES) this.runners.set({ pool: p.name, state }, 0);
    }
  }

  /** The text exposition (Prometheus' format 0.0.4) and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    const b = this.o.githubBudget();
    if (b) {
      this.rateRemaining.set(b.remaining);
      this.rateLimit.set(b.limit);
      this.rateReset.set(Math.round(b.resetAt / 1000));
    }
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  actionDone(a: Action, outcome: ActionOutcome, ms: number): void {
    this.actions.inc({ kind: a.kind, reason: reasonCode(a), outcome });
    this.actionDuration.observe({ kind: a.kind, outcome }, (ms * this.scale) / 1000);
  }

  cloned(pool: string, ms: number): void {
    this.clone.observe({ pool }, (ms * this.scale) / 1000);
  }

  vmStarted(pool: string, runner: string, fromWarm: boolean, at: number): void {
    this.tracker.vmStarted(pool, runner, fromWarm, at);
  }

  jobsListed(jobs: readonly ListedJob[], at: number): void {
    this.tracker.jobsListed(jobs, at);
  }

  request(service: 'github' | 'proxmox', method: string, endpoint: string, status: number | 'error'): void {
    this.requests.inc({ service, endpoint: `${method.toUpperCase()} ${endpoint}`, status: String(status) });
  }

  tickStarted(at: number): void {
    this.tickStartedAt = at;
    this.tracker.tickStarted(at);
  }

  tickEnded(at: number, r: TickOutcome): void {
    const outcome = r.ok ? 'ok' : 'failed';
    this.ticks.inc({ outcome });
    if (this.tickStartedAt !== undefined) this.tickDuration.observe({ outcome }, ((at - this.tickStartedAt) * this.scale) / 1000);
    if (!r.ok) return;
    this.lastTick.set(at / 1000);
    const { observation: o, plan: p } = r;
    this.tracker.tickEnded(at, o);
    this.unmatched.set(p.unmatched.length);
    for (const s of p.pools) {
      this.queued.set({ pool: s.pool }, s.queued);
      this.runners.set({ pool: s.pool, state: 'idle' }, s.idle);
      this.runners.set({ pool: s.pool, state: 'busy' }, s.busy);
      this.runners.set({ pool: s.pool, state: 'booting' }, s.booting);
      this.tierSize.set({ pool: s.pool, tier: 'hot' }, s.sizes.hot);
      this.tierSize.set({ pool: s.pool, tier: 'warm' }, s.sizes.warm);
      if (s.limitedBy) this.limited.inc({ pool: s.pool, cap: capCode(s.limitedBy) });
    }
    const counts = new Map(this.o.config.pools.map((pool) => [pool.name, Object.fromEntries(VM_STATES.map((st) => [st, 0])) as Record<(typeof VM_STATES)[number], number>]));
    for (const v of o.vms) {
      if (v.template || !v.tags.includes(OWNER_TAG)) continue;
      const pool = parseRunnerName(this.o.config.pools, v.name)?.pool.name ?? v.meta?.pool;
      const c = pool === undefined ? undefined : counts.get(pool);
      if (!c) continue;
      const state = v.lock ? 'locked' : v.meta?.warm && v.status === 'stopped' ? 'warm' : v.status === 'running' ? 'running' : 'stopped';
      c[state]++;
    }
    for (const [pool, c] of counts) for (const state of VM_STATES) this.vms.set({ pool, state }, c[state]);
  }
}
