import type { GithubApi, RateBudget } from '../github/api.js';
import { DEFAULT_POLL_POLICY, pickIdle, planWarning, pollPlan, type PollPlan, type PollPolicy } from '../github/poll-plan.js';
import type { Logger } from '../log.js';
import type { RepoActivity } from './repo-activity.js';
import type { Timings } from './timings.js';

export interface PollScheduleDeps {
  /** what the last answer said of the primary limit */
  github: Pick<GithubApi, 'budget'>;
  activity: RepoActivity;
  log: Logger;
  timings: Timings;
  /** a webhook listener nudges repositories: said in the advice */
  webhook: boolean;
  auth: 'token' | 'app';
  policy?: Partial<PollPolicy>;
}

export interface PolledRepo {
  /** owner/name */
  repo: string;
  /** its runners are listed with it (a repository scope), one request more */
  withRunners: boolean;
}

/** ticks over which the rate of counted requests is measured */
const RATE_TICKS = 10;

/** Requests of listing a repository that was never listed: queued runs, runs in progress, and its runners if a scope. */
const firstCost = (r: PolledRepo) => 2 + (r.withRunners ? 1 : 0);

/**
 * Decides each tick which repositories are listed (github/poll-plan.ts does the arithmetic): the
 * active ones and those a webhook named, every tick; the idle ones in turn, as many as the budget
 * leaves. Remembers what listing each repository cost last time and when it was listed.
 */
export class PollSchedule {
  private readonly lastListed = new Map<string, number>();
  private readonly cost = new Map<string, number>();
  private readonly nudged = new Set<string>();
  private budgetBefore: RateBudget | undefined;
  /** requests of the last tick's first listings of repositories: counted once, not every tick */
  private firstListings = 0;
  /** when a tick last listed idle repositories in turn */
  private lastSweep: number | undefined;
  /** points of what the latest tick listed whatever (its active repositories, organisations, runners): what an early tick costs */
  private fixedPoints = 0;
  private swept = true;
  /** counted requests a millisecond over recent ticks, first listings left out */
  private countedRate = 0;
  /** counted requests between recent ticks (first listings left out), for the primary limit's rate */
  private readonly countedLately: Array<{ at: number; counted: number }> = [];
  private readonly warned = new Set<PollPlan['limitedBy']>();
  private said: PollPlan['limitedBy'] | 'unsaid' = 'unsaid';
  private sizes = '';
  /** The plan of the latest tick, for tests and `status`. */
  plan: PollPlan | undefined;

  constructor(private readonly d: PollScheduleDeps) {}

  private get policy(): PollPolicy {
    return { ...DEFAULT_POLL_POLICY, ...this.d.policy };
  }

  /** A webhook said a job was queued in `repo`: the next tick lists it, whatever its turn. */
  nudge(repo: string): void {
    this.nudged.add(repo.toLowerCase());
  }

  /**
   * Points of a tick that lists only what every tick lists (the active repositories, organisations,
   * runners of scopes holding our VMs): an early tick within an interval of the last sweep.
   */
  earlyTickPoints(): number {
    return this.fixedPoints;
  }

  /**
   * Requests a tick at the poll interval has counted against the primary limit lately: measured
   * over ten ticks, without the first listings of repositories (counted once, at the first sweep,
   * never again while unchanged), which would otherwise read as a rate that empties the hour.
   */
  countedPerTick(): number {
    return this.countedRate * this.d.timings.pollIntervalMs;
  }

  /** Whether the latest tick listed idle repositories in turn (a full tick) or only the every-tick set. */
  lastSwept(): boolean {
    return this.swept;
  }

  /** Time from one tick to the next: the poll interval, unless the budget cannot hold it. */
  tickMs(): number {
    return this.plan?.tickMs ?? this.d.timings.pollIntervalMs;
  }

  /**
   * The repositories this tick lists, of `repos`. `everyTickPoints`: what the tick lists besides
   * repositories (organisation listings, runners of scopes holding our VMs).
   */
  choose(repos: readonly PolledRepo[], everyTickPoints: number, now: number): Set<string> {
    const t = this.d.timings;
    const active = new Set(this.d.activity.active(now, t.recentActivityMs).map((a) => a.repo.toLowerCase()));
    const chosen = new Set<string>();
    let fixed = everyTickPoints;
    const idle: Array<{ repo: string; lastListedAt: number | undefined }> = [];
    let idlePoints = 0;
    for (const r of repos) {
      const k = r.repo.toLowerCase();
      const c = this.cost.get(k) ?? firstCost(r);
      if (active.has(k)) {
        chosen.add(r.repo);
        fixed += c;
      } else {
        idle.push({ repo: r.repo, lastListedAt: this.lastListed.get(k) });
        idlePoints += c;
      }
    }
    const budget = this.d.github.budget();
    // The first tick has nothing to compare with (what the hour counted before was not this
    // process's), and a repository's first listing is counted once, never again while unchanged.
    // A burst (registrations, many jobs changing) is one tick's: the rate is taken over ten.
    if (this.budgetBefore) this.countedLately.push({ at: now, counted: Math.max(0, counted(this.budgetBefore, budget) - this.firstListings) });
    if (this.countedLately.length > RATE_TICKS) this.countedLately.shift();
    const since = this.countedLately.length > 1 ? now - this.countedLately[0]!.at : 0;
    const perMs = since > 0 ? this.countedLately.slice(1).reduce((n, c) => n + c.counted, 0) / since : 0;
    this.countedRate = perMs;
    const plan = pollPlan({
      minuteMs: 60_000 / t.scale,
      pollIntervalMs: t.pollIntervalMs,
      everyTickPoints: fixed,
      idleRepos: idle.length,
      idlePoints: idle.length ? idlePoints / idle.length : 0,
      ...(this.lastSweep !== undefined ? { periodMs: now - this.lastSweep } : {}),
      tickCounted: this.countedRate * t.pollIntervalMs,
      primary: budget,
      now,
      policy: this.policy,
    });
    this.budgetBefore = budget;
    this.plan = plan;
    // when every repository fits every tick, an early tick lists them all, as any tick does
    this.fixedPoints = plan.limitedBy === undefined ? fixed + idlePoints : fixed;
    // When not every repository fits every tick, a tick that comes early (a quick look saw a run,
    // freed capacity, a webhook) within an interval of the last sweep lists only the every-tick set
    // and what a webhook named, so it is quick and cheap: the idle repositories' turn is paid by the
    // period since the sweep, so early ticks neither spend it twice nor, coming often, starve it
    // (the first tick an interval after the last sweep sweeps, whatever woke it).
    this.swept = plan.limitedBy === undefined || this.lastSweep === undefined || now - this.lastSweep >= plan.tickMs;
    if (this.swept) this.lastSweep = now;
    // Named by a webhook: first in line, within the idle allotment (a flood waits its turn).
    const named = idle.filter((r) => this.nudged.has(r.repo.toLowerCase()));
    const rest = this.swept ? idle.filter((r) => !this.nudged.has(r.repo.toLowerCase())) : [];
    const slots = this.swept ? Math.max(0, plan.idlePerTick - named.length) : 0;
    // A repository never listed is counted against the primary limit (no ETag yet): 2,000 of them
    // are 6,000 counted requests, more than a personal token's hour. So the first sweep takes new
    // repositories only as fast as what is left above the margin and the measured rate allows until
    // the reset, and fills the other slots with repositories listed before (free, 304s).
    const fresh = rest.filter((r) => !this.cost.has(r.repo.toLowerCase()));
    const known = rest.filter((r) => this.cost.has(r.repo.toLowerCase()));
    const freshSlots = Math.min(slots, this.freshAllowance(fresh.length, budget, perMs, plan.tickMs, now));
    const pickedFresh = pickIdle(fresh, freshSlots);
    const picked = [...pickIdle(named, plan.idlePerTick), ...pickedFresh, ...pickIdle(known, slots - pickedFresh.length)];
    for (const r of picked) chosen.add(r);
    for (const r of chosen) this.nudged.delete(r.toLowerCase());
    this.firstListings = repos.reduce((n, r) => n + (chosen.has(r.repo) && !this.cost.has(r.repo.toLowerCase()) ? firstCost(r) : 0), 0);
    this.report(plan, repos.length);
    return chosen;
  }

  /** How many never-listed repositories this tick may list (3 counted requests each) without spending, before the reset, what the margin keeps. */
  private freshAllowance(fresh: number, budget: RateBudget | undefined, perMs: number, tickMs: number, now: number): number {
    if (!budget) return Infinity;
    const untilReset = Math.max(tickMs, budget.resetAt - now);
    const spare = budget.remaining - this.policy.margin * budget.limit - perMs * untilReset;
    // all of them fit before the reset: as fast as the secondary limit lets them
    if (fresh * 3 <= spare) return Infinity;
    return Math.max(0, Math.floor(spare / (untilReset / tickMs) / 3));
  }

  /** A repository was listed (every listing of it answered): `points` is what that cost. */
  listed(repo: string, points: number, now: number): void {
    const k = repo.toLowerCase();
    this.lastListed.set(k, now);
    this.cost.set(k, points);
  }

  /** Forgets repositories no longer configured (an organisation's repository removed). */
  keepOnly(repos: readonly PolledRepo[]): void {
    const live = new Set(repos.map((r) => r.repo.toLowerCase()));
    for (const m of [this.lastListed, this.cost]) for (const k of m.keys()) if (!live.has(k)) m.delete(k);
  }

  private report(plan: PollPlan, repos: number): void {
    const t = this.d.timings;
    const words = { repos, pollIntervalMs: t.pollIntervalMs, scale: t.scale, webhook: this.d.webhook, auth: this.d.auth };
    if (plan.limitedBy !== this.said) {
      const warning = planWarning(plan, words);
      // a warning once for each limit; the plan moving between them later is news, not alarm
      const fields = { repos, idleEveryMs: Math.round(plan.idleEveryMs * t.scale), tickMs: Math.round(plan.tickMs * t.scale) };
      if (warning && !this.warned.has(plan.limitedBy)) this.d.log.warn(warning, fields);
      else if (warning) this.d.log.info(warning, fields);
      else if (this.said !== 'unsaid') this.d.log.info(`GitHub budget: all ${repos} repositories are listed every tick again`);
      this.warned.add(plan.limitedBy);
      this.said = plan.limitedBy;
    }
    const sizes = `${plan.idlePerTick}/${Math.round(plan.tickMs)}/${Math.round(plan.idleEveryMs)}`;
    if (sizes !== this.sizes) {
      this.sizes = sizes;
      this.d.log.debug(`poll plan: ticks every ${Math.round((plan.tickMs * t.scale) / 1000)}s, ${plan.idlePerTick} idle repositories a tick, each within ${Math.round((plan.idleEveryMs * t.scale) / 1000)}s`);
    }
  }
}

/** Requests counted against the primary limit between two answers (since the reset, if one came between). */
export function counted(before: RateBudget | undefined, after: RateBudget | undefined): number {
  if (!after) return 0;
  if (!before || before.resetAt !== after.resetAt) return Math.max(0, after.limit - after.remaining);
  return Math.max(0, before.remaining - after.remaining);
}
