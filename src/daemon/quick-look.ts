import type { Clock } from '../clock.js';
import type { GithubApi, RateBudget } from '../github/api.js';
import { DEFAULT_QUICK_LOOK_POLICY, quickLookPlan, type QuickLookPlan, type QuickLookPolicy } from '../github/budget.js';
import type { Logger } from '../log.js';
import { counted } from './poll-schedule.js';
import { asRateLimited } from './rate-limit.js';
import type { ActiveRepo, RepoActivity } from './repo-activity.js';
import type { Timings } from './timings.js';

export interface QuickLookDeps {
  github: GithubApi;
  activity: RepoActivity;
  clock: Clock;
  log: Logger;
  timings: Timings;
  policy?: Partial<QuickLookPolicy>;
  /** time between full ticks (the poll schedule may stretch it); without it, the poll interval */
  tickMs?: () => number;
  /**
   * The poll schedule's word on the ticks: whether the latest listed idle repositories in turn,
   * what a tick without them costs, and what ticks count against the primary limit lately (the
   * first sweep's one-off first listings left out)
   */
  ticks?: { lastSwept(): boolean; earlyTickPoints(): number; countedPerTick(): number };
}

/** A full tick's points and counted requests, and the points of an early one (no idle sweep). */
interface TickCost {
  points: number;
  counted: number;
  early: number;
}

/** Where a client stood after a pause: what the next tick spent is measured from here. */
interface Mark {
  points: number;
  primary: RateBudget | undefined;
}

/**
 * Between full ticks, without a webhook to say a job was queued: lists only the queued runs of the
 * repositories that had work at the last tick, every few seconds, and wakes the loop when one shows
 * a run that tick did not see. It decides only *when* the next tick comes; the tick stays the truth.
 * The listing is the tick's own (same request, same conditional-request cache entry), so an
 * unchanged one is a 304, free against the primary limit.
 */
export class QuickLook {
  private afterPause: Mark | undefined;
  /** when looks woke the loop for an early tick, over the last minute */
  private readonly earlyWakes: number[] = [];
  /** what the latest full tick (one that listed idle repositories in turn) cost */
  private fullTick: { points: number; counted: number } | undefined;
  private cursor = 0;
  private said = '';
  /** The plan of the latest look, for `status` and tests. */
  lastPlan: QuickLookPlan | undefined;

  constructor(private readonly d: QuickLookDeps) {}

  /**
   * Looks until `signal` aborts (the pause between ticks ended); calls `wake` at most once, then
   * returns. Never throws: a failed look only leaves the next tick to its interval.
   */
  async watch(signal: AbortSignal, wake: (reason: string) => void): Promise<void> {
    const pauseStart = this.d.clock.now();
    const before = this.afterPause;
    const tick: Mark = { points: this.d.github.pointsSent(), primary: this.d.github.budget() };
    const last = { points: tick.points - (before?.points ?? 0), counted: counted(before?.primary, tick.primary) };
    // An early tick skips the idle sweep: the full ticks' share is still a full tick's cost.
    if (this.d.ticks?.lastSwept() ?? true) this.fullTick = last;
    const full = this.fullTick ?? last;
    const cost = { points: full.points, counted: this.d.ticks?.countedPerTick() ?? full.counted, early: this.d.ticks?.earlyTickPoints() ?? full.points };
    try {
      await this.loop(signal, wake, pauseStart, cost);
    } catch (e) {
      this.d.log.debug(`quick look stopped: ${(e as Error).message}`);
    } finally {
      this.afterPause = { points: this.d.github.pointsSent(), primary: this.d.github.budget() };
    }
  }

  private async loop(signal: AbortSignal, wake: (reason: string) => void, pauseStart: number, cost: TickCost): Promise<void> {
    for (;;) {
      const active = this.d.activity.active(this.d.clock.now(), this.d.timings.recentActivityMs);
      const plan = this.plan(active.length, cost);
      if (!plan.on) return;
      await this.d.clock.sleep(plan.everyMs, signal);
      if (signal.aborted) return;
      const found = await this.look(this.batch(active, plan.repos), signal);
      if (signal.aborted || found === 'stop') return;
      if (found) {
        const wait = this.earlyWait(plan, pauseStart);
        if (wait > 0) await this.d.clock.sleep(wait, signal);
        if (signal.aborted) return;
        this.earlyWakes.push(this.d.clock.now());
        const why = `quick look: run ${found.runId} queued in ${found.repo}, which the last tick did not see`;
        this.d.log.info(`${why}: early tick`, { repo: found.repo });
        wake(why);
        return;
      }
    }
  }

  /**
   * How long an early tick waits: none while fewer early ticks than the plan allows a minute came in
   * the last one (jobs come in bursts; a rate spread evenly as a gap made each wait most of one),
   * else until the oldest of them is a minute old. Under one a minute, the plan's average gap.
   */
  private earlyWait(plan: Extract<QuickLookPlan, { on: true }>, pauseStart: number): number {
    const now = this.d.clock.now();
    const minute = 60_000 / this.d.timings.scale;
    while (this.earlyWakes.length > 0 && this.earlyWakes[0]! <= now - minute) this.earlyWakes.shift();
    const allowed = Math.floor(plan.earlyTicksPerMinute);
    if (allowed < 1) return pauseStart + plan.tickGapMs - now;
    if (this.earlyWakes.length < allowed) return 0;
    return this.earlyWakes[this.earlyWakes.length - allowed]! + minute - now;
  }

  private plan(activeRepos: number, cost: TickCost): QuickLookPlan {
    const t = this.d.timings;
    const plan = quickLookPlan({
      minuteMs: 60_000 / t.scale,
      pollIntervalMs: this.d.tickMs?.() ?? t.pollIntervalMs,
      tickPoints: cost.points,
      earlyTickPoints: cost.early,
      tickCounted: cost.counted,
      activeRepos,
      primary: this.d.github.budget(),
      now: this.d.clock.now(),
      policy: { ...DEFAULT_QUICK_LOOK_POLICY, minEveryMs: t.quickLookMinMs, ...this.d.policy },
    });
    this.lastPlan = plan;
    const text = plan.on
      ? `quick looks every ${(plan.everyMs / 1000).toFixed(1)}s over ${plan.repos} of ${activeRepos} active repositories (at most ${Math.round(plan.pointsPerMinute)} secondary-limit points a minute, after the full ticks' ${Math.round(plan.tickPointsPerMinute)})`
      : `no quick looks: ${plan.why}`;
    if (text !== this.said) {
      this.said = text;
      this.d.log.debug(text);
    }
    return plan;
  }

  /** The next `n` active repositories, in turn, so that all of them are looked at when n is smaller. */
  private batch(active: ActiveRepo[], n: number): ActiveRepo[] {
    if (active.length <= n) return active;
    const out = Array.from({ length: n }, (_, i) => active[(this.cursor + i) % active.length]!);
    this.cursor = (this.cursor + n) % active.length;
    return out;
  }

  /** The first queued run the last tick did not see; 'stop' when GitHub asked us to wait. */
  private async look(repos: ActiveRepo[], signal: AbortSignal): Promise<{ repo: string; runId: number } | 'stop' | undefined> {
    let limited = false;
    const seen = await Promise.all(
      repos.map(async (r) => {
        const [owner, name] = r.repo.split('/') as [string, string];
        try {
          const { items } = await this.d.github.listRuns(owner, name, 'queued', signal);
          const fresh = items.find((run) => !r.knownQueued.has(run.id));
          return fresh && { repo: r.repo, runId: fresh.id };
        } catch (e) {
          if (asRateLimited(e, this.d.clock.now())) limited = true;
          else if (!signal.aborted) this.d.log.debug(`quick look at ${r.repo} failed: ${(e as Error).message}`);
          return undefined;
        }
      }),
    );
    if (limited) return 'stop';
    return seen.find((s) => s !== undefined);
  }
}
