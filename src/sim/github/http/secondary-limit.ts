/**
 * Secondary rate limits. `faults.secondary_rate_limit_rate` is the chance that a request trips one;
 * once tripped, every request is refused until the block ends, as GitHub keeps refusing a client that
 * does not wait. The block lasts 60 scenario seconds (GitHub's usual `retry-after`); `retry-after`
 * states the time left in scenario seconds, like every other time the simulated API reports, so a
 * client at --speed N should wait retry-after/N real seconds (with octokit's plugins:
 * `retryAfterBaseValue: 1000 / N`).
 */
import type { SimClock } from '../../clock.js';

export const SECONDARY_BLOCK_MS = 60_000;

export class SecondaryLimit {
  private blockedUntilMs = -Infinity;

  constructor(private readonly clock: SimClock) {}

  /** Seconds to wait if the request is refused, else undefined. */
  check(tripped: () => boolean): number | undefined {
    const now = this.clock.nowMs();
    if (now >= this.blockedUntilMs && tripped()) this.blockedUntilMs = now + SECONDARY_BLOCK_MS;
    return now < this.blockedUntilMs ? Math.max(1, Math.ceil((this.blockedUntilMs - now) / 1000)) : undefined;
  }
}
