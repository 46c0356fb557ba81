/**
 * GitHub's request limits, and what the daemon may spend between its full ticks. Pure arithmetic:
 * the callers measure, this decides.
 *
 * From GitHub's docs, "Rate limits for the REST API" (docs.github.com/en/rest/using-the-rest-api/
 * rate-limits-for-the-rest-api, "About secondary rate limits" and "Calculating points for the
 * secondary rate limit"; reference/apis.md §7):
 *   - no more than 900 points per minute for REST endpoints; most GET, HEAD and OPTIONS requests
 *     cost 1 point, most POST, PATCH, PUT and DELETE 5;
 *   - no more than 100 concurrent requests;
 *   - the primary limit (5,000 an hour for a personal token, more for Apps) is read from the
 *     `x-ratelimit-*` headers.
 * "Best practices for using the REST API" says a conditional request answered 304 does not count
 * against the *primary* limit; nothing says it is free against the secondary one, so every request
 * sent, 304s included, is counted here at its full points. The docs name "900 points per minute for
 * REST API endpoints" under "too many requests to a single endpoint"; which endpoints share one
 * budget is not said, so all requests of this process are taken to share one (the harsher reading).
 */
import type { RateBudget } from './api.js';

export const SECONDARY_POINTS_PER_MINUTE = 900;
export const MAX_CONCURRENT_REQUESTS = 100;
/**
 * Reads a tick sends at once. Half the concurrency limit: the executor's requests and a `check`
 * with the same credentials keep room. With 150 ms of latency a tick of 300 reads then takes six
 * rounds (~1 s), where 8 at once took 38 (~6 s). Quick looks never overlap a tick.
 */
export const OBSERVER_CONCURRENCY = MAX_CONCURRENT_REQUESTS / 2;

/** Secondary-limit points of one REST request. */
export function requestPoints(method: string): number {
  const m = method.toUpperCase();
  return m === 'GET' || m === 'HEAD' || m === 'OPTIONS' ? 1 : 5;
}

export interface QuickLookPolicy {
  /** part of each limit never planned for: measurement error, other clients of the same token */
  margin: number;
  /** part of what the full ticks leave that quick looks (and the early ticks they cause) may use */
  share: number;
  /** repositories looked at per quick look, at most */
  maxRepos: number;
  /** looks never come closer than this, whatever the budget allows */
  minEveryMs: number;
}

export const DEFAULT_QUICK_LOOK_POLICY: QuickLookPolicy = { margin: 0.2, share: 0.5, maxRepos: 20, minEveryMs: 2_000 };

export interface QuickLookInput {
  /** a minute on the caller's clock (shorter when the demo runs time faster) */
  minuteMs: number;
  pollIntervalMs: number;
  /** points the last full tick sent (every request, 304s included) */
  tickPoints: number;
  /** requests the last full tick had counted against the primary limit */
  tickCounted: number;
  /** points of an early tick, which lists only what every tick lists (no idle repositories in turn); a full tick's when unknown */
  earlyTickPoints?: number;
  /** repositories with queued or running jobs, or jobs lately */
  activeRepos: number;
  /** the primary limit as the last answer stated it; unknown before the first answer */
  primary: RateBudget | undefined;
  /** epoch ms, the frame of `primary.resetAt` */
  now: number;
  policy: QuickLookPolicy;
}

export type QuickLookPlan =
  | {
      on: true;
      /** time between two looks */
      everyMs: number;
      /** repositories per look */
      repos: number;
      /** an early tick starts no sooner than this after the previous tick ended */
      tickGapMs: number;
      /** early ticks the looks may cause in any minute (what `tickGapMs` spaces on average); a burst of them within it is allowed */
      earlyTicksPerMinute: number;
      /** what looks and the early ticks they cause may spend per minute, at most */
      pointsPerMinute: number;
      /** what the full ticks spend per minute at the poll interval */
      tickPointsPerMinute: number;
    }
  | { on: false; why: string };

/**
 * How often to look at how many active repositories between full ticks.
 *
 * Secondary limit: S = 900·(1 − margin) points a minute. The full ticks come first: T = their
 * points per tick × ticks per minute. Quick looks get Q = share·(S − T), half for the looks
 * themselves (one point per repository looked at) and half for the early ticks they cause (each
 * costs what every tick lists — poll-schedule.ts leaves the idle repositories' turn to the full
 * ticks — at most `earlyTicksPerMinute` in any minute, so the tick rate grows by at most that
 * much; quick-look.ts lets them come at once while the minute has room). Looks,
 * early ticks and full ticks together stay within T + Q ≤ S; the other (1 − share) of S − T and the
 * margin are left to the executor's writes (5 points each, at most one a second by the client's
 * throttle) and to the unforeseen.
 *
 * Primary limit: a look's unchanged listing is a 304 and counts nothing, and a changed one shares
 * its cache entry with the tick's listing, so each change is paid once, by whoever reads it first.
 * Still, looks stop while what is left, less one look, would not cover the full ticks until the
 * reset plus the margin.
 */
export function quickLookPlan(i: QuickLookInput): QuickLookPlan {
  const p = i.policy;
  if (i.activeRepos <= 0) return { on: false, why: 'no repository has queued or running jobs' };
  const secondary = SECONDARY_POINTS_PER_MINUTE * (1 - p.margin);
  const ticksPerMinute = i.minuteMs / i.pollIntervalMs;
  const tickPointsPerMinute = i.tickPoints * ticksPerMinute;
  const left = secondary - tickPointsPerMinute;
  if (left <= 0) return { on: false, why: `full ticks already spend ${Math.round(tickPointsPerMinute)} of ${Math.round(secondary)} secondary-limit points a minute` };
  const q = p.share * left;
  const forLooks = q / 2;
  const forTicks = q / 2;
  // A look is only worth making if it can come at least twice an interval.
  const affordable = Math.floor((forLooks * (i.pollIntervalMs / 2)) / i.minuteMs);
  // A look's listings go out at once; with the executor's few requests they stay far below 100.
  const repos = Math.min(i.activeRepos, p.maxRepos, MAX_CONCURRENT_REQUESTS / 2, affordable);
  if (repos < 1) return { on: false, why: `the ${Math.round(forLooks)} points a minute left for quick looks do not allow one every half interval` };
  const everyMs = Math.max(p.minEveryMs, (i.minuteMs * repos) / forLooks);
  const early = i.earlyTickPoints ?? i.tickPoints;
  const extraTicksPerMinute = early > 0 ? forTicks / early : Infinity;
  const tickGapMs = i.minuteMs / (ticksPerMinute + extraTicksPerMinute);
  if (i.primary) {
    const untilReset = Math.max(0, i.primary.resetAt - i.now);
    const reserve = p.margin * i.primary.limit + i.tickCounted * (untilReset / i.pollIntervalMs);
    if (i.primary.remaining - repos < reserve) {
      return { on: false, why: `primary limit: ${i.primary.remaining} of ${i.primary.limit} left, ${Math.ceil(reserve)} kept for full ticks until the reset and the margin` };
    }
  }
  return { on: true, everyMs, repos, tickGapMs, earlyTicksPerMinute: extraTicksPerMinute, pointsPerMinute: q, tickPointsPerMinute };
}
