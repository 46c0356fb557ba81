/**
 * Secondary rate limits. `faults.secondary_rate_limit_rate` is the chance that a request trips one;
 * once tripped, every request is refused until the block ends, as GitHub keeps refusing a client that
 * does not wait. The block lasts 60 scenario seconds (GitHub's usual `retry-after`, and the minute its
 * docs tell clients to wait when there is none); `retry-after` states the time left in scenario
 * seconds, like every other time the simulated API reports, so a client at --speed N should wait
 * retry-after/N real seconds (with octokit's plugins: `retryAfterBaseValue: 1000 / N`).
 *
 * GitHub answers a secondary limit with 403 or 429, with or without `retry-after`
 * (docs "Rate limits for the REST API", "Exceeding the rate limit"): each block picks one status
 * (`secondary_rate_limit_statuses`) and whether it states retry-after
 * (`secondary_rate_limit_no_retry_after_rate`), and keeps them for its whole length.
 */
import type { SimClock } from '../../clock.js';
import type { Rng } from '../../rng.js';
import type { Scenario } from '../../scenario.js';

export const SECONDARY_BLOCK_MS = 60_000;

export interface SecondaryRefusal {
  status: 403 | 429;
  /** seconds left, when the answer states them */
  retryAfter?: number;
}

export class SecondaryLimit {
  private blockedUntilMs = -Infinity;
  private shape: { status: 403 | 429; retryAfter: boolean } = { status: 403, retryAfter: true };

  constructor(private readonly clock: SimClock, private readonly shapes: Scenario['github']['errorShapes'], private readonly rng: Rng) {}

  /** How the request is refused, else undefined. */
  check(tripped: () => boolean): SecondaryRefusal | undefined {
    const now = this.clock.nowMs();
    if (now >= this.blockedUntilMs && tripped()) {
      this.blockedUntilMs = now + SECONDARY_BLOCK_MS;
      const statuses = this.shapes.secondaryStatuses;
      this.shape = { status: statuses[this.rng.int(0, statuses.length - 1)]!, retryAfter: !this.rng.chance(this.shapes.secondaryNoRetryAfterRate) };
    }
    if (now >= this.blockedUntilMs) return undefined;
    const left = Math.max(1, Math.ceil((this.blockedUntilMs - now) / 1000));
    return this.shape.retryAfter ? { status: this.shape.status, retryAfter: left } : { status: this.shape.status };
  }
}
