import type { Clock } from '../clock.js';
import type { SizesInForce } from '../config/schedule.js';
import type { GithubApi } from '../github/api.js';
import type { Logger } from '../log.js';
import { OWNER_TAG } from '../planner/names.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import type { Plan } from '../planner/actions.js';
import { plan, type PlanConfig } from '../planner/plan.js';
import type { InFlight, Observation } from '../planner/observation.js';
import type { LoopMetrics } from '../metrics/recorder.js';
import type { ActionOutcome, Executor } from './execute.js';
import { InstanceLog } from './instance-log.js';
import type { Observer } from './observe.js';
import type { QuickLook } from './quick-look.js';
import { RateLimitedError } from './rate-limit.js';
import type { Timings } from './timings.js';

export interface DaemonDeps {
  planConfig: PlanConfig;
  observer: Observer;
  executor: Executor;
  github: GithubApi;
  /** watched cheaply between ticks while jobs wait on a cap: a VM that stopped means capacity */
  proxmox: ProxmoxApi;
  clock: Clock;
  log: Logger;
  timings: Timings;
  random: () => number;
  /** per pool, the hot and warm sizes in force at a time (the pools' schedules read on the clock); absent: the pools' own */
  tierSizes?: (now: number) => ReadonlyMap<string, SizesInForce>;
  /** told of every tick the loop ran (the webhook nudges look for the jobs they announced) */
  onTicked?: (r: TickResult) => void;
  /** a webhook listener nudges the loop: no quick looks then */
  webhook?: boolean;
  /** looks at the active repositories between ticks (without it, none) */
  quickLook?: QuickLook;
  /** told when each tick starts and how it ended (metrics, /readyz) */
  loop?: LoopMetrics;
  /** time between ticks the GitHub budget can hold (poll-schedule.ts); without it, the poll interval */
  tickMs?: () => number;
}

export interface TickResult {
  observation: Observation;
  plan: Plan;
  /** actions that finished since the tick before (what the tick line counts as done and failed) */
  outcomes?: readonly ActionOutcome[];
}

/**
 * The reconcile loop: observe, plan, act — one tick at a time, level-triggered. A tick only starts
 * actions; they finish in the background and the next tick sees their effect (or their remains).
 */
export class Daemon {
  private readonly loggedUnmatched = new Set<number>();
  private readonly loggedNotes = new Set<string>();
  private readonly sizes = new Map<string, SizesInForce>();
  private failures = 0;
  /** jobs wait that a cap kept from getting a VM: a destroyed VM is worth an early tick */
  private capped = false;
  private wake: AbortController | undefined;
  /** a VM was destroyed since the current tick observed */
  private freedSinceObserve = false;
  /** nudged while no pause was running (during a tick): the next pause is skipped, once */
  private nudged = false;
  private readonly instances: InstanceLog | undefined;
  /** a reloaded configuration, taken over when the next tick starts */
  private next: { planConfig: PlanConfig; tierSizes?: DaemonDeps['tierSizes']; apply: () => void } | undefined;

  constructor(private readonly d: DaemonDeps) {
    this.instances = d.planConfig.instance && new InstanceLog(d.log, d.planConfig.instance, 10 * d.timings.pollIntervalMs);
    d.executor.onFreed(() => {
      this.freedSinceObserve = true;
      if (this.capped) this.wake?.abort();
    });
  }

  /** A reload: from the next tick on, plans with `planConfig`; `apply` gives the other parts their new config first. */
  reconfigure(next: { planConfig: PlanConfig; tierSizes?: DaemonDeps['tierSizes']; apply: () => void }): void {
    this.next = next;
  }

  async tick(opts: { dryRun?: boolean } = {}): Promise<TickResult> {
    if (this.next) {
      // Between ticks: one tick is observed and planned with one configuration only.
      const n = this.next;
      this.next = undefined;
      n.apply();
      this.d.planConfig = n.planConfig;
      this.d.tierSizes = n.tierSizes;
    }
    const started = this.d.clock.now();
    this.d.loop?.tickStarted(started);
    try {
      const r = await this.observePlanAct(started, opts);
      this.d.loop?.tickEnded(this.d.clock.now(), { ok: true, ...r });
      return r;
    } catch (e) {
      this.d.loop?.tickEnded(this.d.clock.now(), { ok: false });
      throw e;
    }
  }

  private async observePlanAct(started: number, opts: { dryRun?: boolean }): Promise<TickResult> {
    this.freedSinceObserve = false;
    const seen = await this.d.observer.observe(started, this.d.executor.inFlight());
    // What ran while observing counts too: a creation that began after the first snapshot may have
    // cloned and registered before the listings were read.
    const tierSizes = this.d.tierSizes?.(started);
    if (tierSizes) this.reportSizes(tierSizes);
    const observation = { ...seen, inFlight: mergeInFlight(seen.inFlight, this.d.executor.inFlight(started)), ...(tierSizes ? { tierSizes } : {}) };
    this.d.executor.noteOnline(
      observation.runners.filter((r) => r.status === 'online').map((r) => r.name),
      new Set(observation.vms.map((v) => v.name)),
    );
    this.d.executor.pruneDisowned(new Set(observation.vms.map((v) => v.vmid)));
    const p = plan(this.d.planConfig, observation);
    this.capped = p.pools.some((s) => s.limitedBy !== undefined);
    const outcomes = this.report(p, observation, opts.dryRun ?? false, this.d.clock.now() - started);
    this.instances?.report(p.otherInstances, observation.now);
    if (!opts.dryRun) this.d.executor.submit(p.actions);
    return { observation, plan: p, outcomes };
  }

  /** One line whenever a schedule changes a pool's sizes (and at start), for journalctl. */
  private reportSizes(sizes: ReadonlyMap<string, SizesInForce>): void {
    for (const [pool, s] of sizes) {
      const was = this.sizes.get(pool);
      if (was && was.hot === s.hot && was.warm === s.warm) continue;
      this.sizes.set(pool, s);
      const rules = [s.hotRule, s.warmRule].filter((r): r is number => r !== undefined);
      const why = rules.length ? `schedule rule${new Set(rules).size > 1 ? 's' : ''} ${[...new Set(rules)].map((r) => `#${r + 1}`).join(' and ')}` : 'no schedule rule: the pool\'s own sizes';
      if (was || s.hot > 0 || s.warm > 0 || rules.length) this.d.log.info(`pool ${pool}: hot ${s.hot}, warm ${s.warm} in force (${why})`, { pool, hot: s.hot, warm: s.warm });
    }
  }

  private report(p: Plan, o: Observation, dryRun: boolean, tookMs: number): ActionOutcome[] {
    const log = this.d.log;
    for (const u of p.unmatched) {
      if (this.loggedUnmatched.has(u.id)) continue;
      this.loggedUnmatched.add(u.id);
      log.warn(`job ${u.id} in ${u.repo} matches no pool: no pool has all of [${u.labels.join(', ')}]; add a pool with these labels or change the job's runs-on`, { job: u.id, labels: [...u.labels] });
    }
    // Forget a job only once a complete listing no longer shows it queued (not when a listing failed).
    if (o.jobScopesFailed.length === 0) {
      const live = new Set(p.unmatched.map((u) => u.id));
      for (const id of this.loggedUnmatched) if (!live.has(id)) this.loggedUnmatched.delete(id);
    }
    for (const n of p.notes) {
      if (this.loggedNotes.has(n)) continue;
      this.loggedNotes.add(n);
      log.info(n);
    }
    if (dryRun) {
      for (const a of p.actions) log.info(`would ${a.kind}: ${a.reason}`, { pool: 'pool' in a ? a.pool : undefined, vmid: 'vmid' in a ? a.vmid : undefined });
    }
    const outcomes = this.d.executor.drainOutcomes();
    const failed = outcomes.filter((x) => !x.ok).length;
    const budget = this.d.github.budget();
    const pools = p.pools
      .map((s) => `${s.pool}: queued=${s.queued} idle=${s.idle} busy=${s.busy} booting=${s.booting}${tiers(s)} create=${s.create}${s.start ? ` start-warm=${s.start}` : ''} remove=${s.remove}${s.limitedBy ? ` (limited by ${s.limitedBy})` : ''}`)
      .join('; ');
    log.info(
      `tick: ${pools}; unmatched=${p.unmatched.length}${p.draining.length ? `; draining=${p.draining.length}` : ''}; actions done=${outcomes.length - failed} failed=${failed} pending=${this.d.executor.pending}; github budget ${budget ? `${budget.remaining}/${budget.limit}` : 'unknown'}`,
      // tick_ms: observing and planning, in the clock's (real) milliseconds; the bench reads it
      { queued: o.jobs.length, unmatched: p.unmatched.length, tick_ms: tookMs },
    );
    return outcomes;
  }

  /**
   * Runs ticks until `signal` aborts; then starts nothing new and waits for in-flight actions. Ticks
   * come every poll interval, or sooner when a destroyed VM frees capacity that jobs are waiting for.
   */
  async run(signal: AbortSignal): Promise<void> {
    const t = this.d.timings;
    while (!signal.aborted) {
      const started = this.d.clock.now();
      let delay = this.d.tickMs?.() ?? t.pollIntervalMs;
      this.nudged = false;
      try {
        const r = await this.tick();
        this.failures = 0;
        this.d.onTicked?.(r);
      } catch (e) {
        this.failures++;
        this.capped = false;
        if (e instanceof RateLimitedError) {
          delay = Math.min(Math.max(e.resetAt - this.d.clock.now(), t.pollIntervalMs), t.maxBackoffMs);
          this.d.log.warn(`${e.message}; next tick in ${Math.round(delay / 1000)}s`);
        } else {
          delay = Math.min(t.pollIntervalMs * 2 ** Math.min(this.failures, 10), t.maxBackoffMs);
          this.d.log.error(`tick failed (${this.failures} in a row): ${(e as Error).message}; next tick in ${Math.round(delay / 1000)}s`);
        }
      }
      await this.pause(delay * (1 + this.d.random() * t.jitter), signal);
      const gap = this.d.clock.now() - started;
      if (!signal.aborted && gap < t.minTickGapMs) await this.d.clock.sleep(t.minTickGapMs - gap, signal);
    }
    this.d.executor.stop();
    const pending = this.d.executor.pending;
    if (pending > 0) this.d.log.info(`stopping: waiting for ${pending} action(s) in flight`);
    const done = await this.d.executor.idle(t.shutdownGraceMs);
    this.d.log.info(done ? 'stopped cleanly' : 'stopped with actions still in flight; the next start will finish or remove what they left');
  }

  /**
   * Something says jobs may be waiting (a webhook delivery): the pause between ticks ends now; during
   * a tick, the next one starts right after it. Never two ticks at once, never closer than minTickGapMs.
   */
  nudge(reason: string): void {
    this.d.log.debug(`early tick: ${reason}`);
    if (this.wake) this.wake.abort();
    else this.nudged = true;
  }

  /** Sleeps `ms`, or less when stopped, nudged or woken by freed capacity. */
  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    if ((this.capped && this.freedSinceObserve) || this.nudged) return;
    const wake = new AbortController();
    const stop = () => wake.abort();
    signal.addEventListener('abort', stop, { once: true });
    this.wake = wake;
    if (this.capped) void this.watchForStoppedVms(wake);
    // after a failed tick the loop backs off: an early tick would only fail sooner
    const looking = this.d.quickLook && !this.d.webhook && this.failures === 0 ? this.d.quickLook.watch(wake.signal, (reason) => this.nudge(reason)) : undefined;
    try {
      await this.d.clock.sleep(ms, wake.signal);
    } finally {
      // also ends the watchers of this pause; a look's requests are aborted, so none outlasts it
      wake.abort();
      this.wake = undefined;
      signal.removeEventListener('abort', stop);
      await looking;
    }
  }

  /**
   * While jobs wait on a cap, the VM that will make room is one finishing its job: it powers itself
   * off. One cheap Proxmox call every few seconds notices that well before the next poll would.
   */
  private async watchForStoppedVms(wake: AbortController): Promise<void> {
    const stoppedBefore = new Set<number>();
    let first = true;
    while (!wake.signal.aborted) {
      try {
        const ours = (await this.d.proxmox.listVms()).filter((v) => v.tags.includes(OWNER_TAG) && !v.template);
        const stopped = ours.filter((v) => v.status === 'stopped' && !v.lock).map((v) => v.vmid);
        if (!first && stopped.some((id) => !stoppedBefore.has(id))) {
          wake.abort();
          return;
        }
        for (const id of stopped) stoppedBefore.add(id);
        first = false;
      } catch {
        // the next tick reports Proxmox trouble; watching is only an optimisation
      }
      await this.d.clock.sleep(this.d.timings.capWatchMs, wake.signal);
    }
  }
}

/** The hot and warm counts of a pool that keeps either (have/size in force), for the tick line. */
function tiers(s: Plan['pools'][number]): string {
  if (s.sizes.hot === 0 && s.sizes.warm === 0 && s.hot === 0 && s.warm === 0) return '';
  return ` hot=${s.hot}/${s.sizes.hot} warm=${s.warm}/${s.sizes.warm}`;
}

/** Everything under way at either moment: before and after a tick's observation. */
export function mergeInFlight(before: InFlight, after: InFlight): InFlight {
  const creating = new Map(before.creating.map((c) => [c.vmid, c]));
  for (const c of after.creating) creating.set(c.vmid, c);
  return {
    creating: [...creating.values()],
    busyVmids: new Set([...before.busyVmids, ...after.busyVmids]),
    deletingRunners: new Set([...before.deletingRunners, ...after.deletingRunners]),
    recentlyFreed: after.recentlyFreed,
    seenOnline: after.seenOnline,
    disowned: new Set([...before.disowned, ...after.disowned]),
  };
}
