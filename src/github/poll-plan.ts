/**
 * Which repositories a tick lists, and how often ticks come: the full ticks' share of GitHub's
 * limits (budget.ts holds the limits). Pure arithmetic; daemon/poll-schedule.ts measures and keeps
 * the state.
 *
 * Secondary limit: the ticks plan for at most `tickShare` of 900·(1 − margin) points a minute. The
 * rest is the quick looks' (budget.ts quickLookPlan takes a share of what the ticks leave) and the
 * executor's: a burst of registrations sends a 5-point POST a second, 300 points a minute.
 * Primary limit: an unchanged listing is a 304 and counts nothing, so what the ticks are counted is
 * measured (`tickCounted`), not derived; it only stretches the interval when the remainder would
 * not last until the reset.
 */
import type { RateBudget } from './api.js';
import { SECONDARY_POINTS_PER_MINUTE } from './budget.js';

export interface PollPolicy {
  /** part of each limit never planned for (the quick looks' margin: one budget) */
  margin: number;
  /** part of the secondary limit, after the margin, that full ticks may spend */
  tickShare: number;
}

export const DEFAULT_POLL_POLICY: PollPolicy = { margin: 0.2, tickShare: 0.5 };

export interface PollPlanInput {
  /** a minute on the caller's clock (shorter when the demo runs time faster) */
  minuteMs: number;
  pollIntervalMs: number;
  /** points of what every tick lists whatever: active repositories, organisation listings, runner listings of scopes holding our VMs */
  everyTickPoints: number;
  /** repositories with nothing going on, listed in turn */
  idleRepos: number;
  /** points of listing one idle repository (its runs by status, and its runners for a repository scope) */
  idlePoints: number;
  /**
   * measured time from the previous tick's start to this one's: ticks come later than `tickMs`
   * by their own duration and the loop's jitter, and a tick may spend what its period allows
   */
  periodMs?: number;
  /** requests the latest tick had counted against the primary limit */
  tickCounted: number;
  /** the primary limit as the last answer stated it; unknown before the first */
  primary: RateBudget | undefined;
  /** epoch ms, the frame of `primary.resetAt` */
  now: number;
  policy: PollPolicy;
}

export interface PollPlan {
  /** time between ticks: the poll interval, or longer when even the every-tick listings do not fit */
  tickMs: number;
  /** idle repositories listed per tick (an interval's share; at most this many a webhook named, at any tick) */
  idlePerTick: number;
  /** every idle repository is listed at least this often (the bound a job in an idle repository waits to be seen, without webhooks) */
  idleEveryMs: number;
  /** the shortest interval at which every repository could be listed every tick */
  allEveryMs: number;
  /** what the ticks may spend a minute */
  pointsPerMinute: number;
  /** `undefined`: every repository is listed every POLL_INTERVAL */
  limitedBy: 'secondary' | 'primary' | undefined;
}

export function tickPointsPerMinute(p: PollPolicy): number {
  return SECONDARY_POINTS_PER_MINUTE * (1 - p.margin) * p.tickShare;
}

export function pollPlan(i: PollPlanInput): PollPlan {
  const perMinute = tickPointsPerMinute(i.policy);
  const idleAll = i.idleRepos * i.idlePoints;
  const allEveryMs = Math.max(i.pollIntervalMs, ((i.everyTickPoints + idleAll) * i.minuteMs) / perMinute);
  // Each tick lists at least one idle repository, so every one is seen in a bounded time.
  const floor = i.everyTickPoints + Math.min(1, i.idleRepos) * i.idlePoints;
  let tickMs = Math.max(i.pollIntervalMs, (floor * i.minuteMs) / perMinute);
  let limitedBy: PollPlan['limitedBy'] = allEveryMs > i.pollIntervalMs ? 'secondary' : undefined;
  if (i.primary && i.tickCounted > 0) {
    // What is left after the margin must carry the ticks to the reset.
    const untilReset = Math.max(0, i.primary.resetAt - i.now);
    const spendable = i.primary.remaining - i.policy.margin * i.primary.limit;
    const needMs = spendable <= 0 ? untilReset : (i.tickCounted * untilReset) / spendable;
    if (needMs > tickMs) {
      tickMs = needMs;
      limitedBy = 'primary';
    }
  }
  // A late tick spends its period's share, up to half a minute's (after a long wait, no burst).
  const period = Math.min(Math.max(tickMs, i.periodMs ?? tickMs), Math.max(tickMs, i.minuteMs / 2));
  if (limitedBy === undefined) return { tickMs, idlePerTick: i.idleRepos, idleEveryMs: period, allEveryMs, pointsPerMinute: perMinute, limitedBy };
  const perTick = (perMinute * period) / i.minuteMs;
  const idlePerTick = i.idleRepos === 0 ? 0 : Math.min(i.idleRepos, Math.max(1, Math.floor((perTick - i.everyTickPoints) / i.idlePoints)));
  const idleEveryMs = Math.ceil(i.idleRepos / Math.max(1, idlePerTick)) * period;
  return { tickMs, idlePerTick, idleEveryMs, allEveryMs, pointsPerMinute: perMinute, limitedBy };
}

export interface IdleRepo {
  repo: string;
  /** when a tick last listed it; undefined: never */
  lastListedAt: number | undefined;
}

/**
 * The `n` idle repositories to list this tick: never listed first, then the longest unlisted (ties
 * by name, so the order is stable). Listing the oldest each tick is a round robin that survives
 * repositories coming and going: none waits more than ⌈idle / n⌉ ticks.
 */
export function pickIdle(idle: readonly IdleRepo[], n: number): string[] {
  if (n >= idle.length) return idle.map((r) => r.repo);
  const at = (r: IdleRepo) => r.lastListedAt ?? -Infinity;
  return [...idle].sort((a, b) => at(a) - at(b) || (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0)).slice(0, n).map((r) => r.repo);
}

const secs = (ms: number, scale: number) => {
  const s = (ms * scale) / 1000;
  return s >= 120 ? `${Math.round(s / 6) / 10} min` : `${Math.round(s)}s`;
};

export interface PlanWords {
  repos: number;
  pollIntervalMs: number;
  /** the demo's time scale: durations are said in the scenario's time */
  scale: number;
  webhook: boolean;
  auth: 'token' | 'app';
}

/**
 * What a plan that cannot list every repository every POLL_INTERVAL means, and what would help;
 * undefined when it can. Said by the daemon at start-up and by `check`.
 */
export function planWarning(p: PollPlan, w: PlanWords): string | undefined {
  if (p.limitedBy === undefined) return undefined;
  const interval = secs(w.pollIntervalMs, w.scale);
  const helps = [
    ...(w.webhook ? [] : ['webhooks (WEBHOOK_LISTEN: a workflow_job delivery lists its repository at once)']),
    ...(p.limitedBy === 'primary' && w.auth === 'token' ? ['a GitHub App (15,000 requests an hour on Enterprise Cloud, against 5,000 for a token)'] : []),
    'fewer scopes in github.repos / github.orgs',
    `a POLL_INTERVAL of ${secs(p.allEveryMs, w.scale)} or more`,
  ];
  const why = p.limitedBy === 'secondary'
    ? `listing them all costs more than the ${Math.round(p.pointsPerMinute)} secondary-limit points a minute planned for ticks (GitHub allows ${SECONDARY_POINTS_PER_MINUTE}; the rest is margin, quick looks and runner registrations)`
    : 'the primary limit left would not last until its reset';
  const cadence = p.tickMs > w.pollIntervalMs ? `ticks come every ${secs(p.tickMs, w.scale)}` : `active repositories are listed every ${interval}`;
  return `GitHub budget: ${w.repos} repositories cannot all be listed every ${interval}: ${why}; the interval it can hold for all of them is ${secs(p.allEveryMs, w.scale)}. So ${cadence}, and idle ones ${p.idlePerTick} a tick, each at least every ${secs(p.idleEveryMs, w.scale)}. What would help: ${helps.join('; ')}`;
}
