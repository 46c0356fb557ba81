/**
 * The primary rate limit of the one token the simulator issues: `limit` requests per window of
 * `windowMs` scenario time, the window starting with the first counted request (as GitHub's
 * rolling hour does). `exhaustAtMs` forces one exhaustion: from then on the budget is 0 until
 * `exhaustAtMs + exhaustForMs`, when a fresh window begins.
 */
import type { SimClock } from '../../clock.js';
import type { Scenario } from '../../scenario.js';

export interface RateState {
  limit: number;
  remaining: number;
  used: number;
  /** real epoch seconds at which the window resets (see SimClock.wallEpochAt) */
  reset: number;
}

export class PrimaryRateLimit {
  private used = 0;
  private resetAtMs: number | undefined;
  private forced = false;

  constructor(private readonly cfg: Scenario['github']['rateLimit'], private readonly clock: SimClock) {}

  state(): RateState {
    this.roll();
    const now = this.clock.nowMs();
    const resetAt = this.resetAtMs ?? now + this.cfg.windowMs;
    // Real time, not scenario time: clients compare the header with their own clock.
    const resetEpochMs = this.clock.wallEpochAt(resetAt);
    return { limit: this.cfg.limit, remaining: Math.max(0, this.cfg.limit - this.used), used: this.used, reset: Math.ceil(resetEpochMs / 1000) };
  }

  exhausted(): boolean {
    return this.state().remaining === 0;
  }

  consume(): void {
    this.roll();
    if (this.resetAtMs === undefined) this.resetAtMs = this.clock.nowMs() + this.cfg.windowMs;
    this.used = Math.min(this.cfg.limit, this.used + 1);
  }

  private roll(): void {
    const now = this.clock.nowMs();
    const { exhaustAtMs, exhaustForMs } = this.cfg;
    if (!this.forced && exhaustAtMs !== undefined && now >= exhaustAtMs) {
      this.forced = true;
      if (now < exhaustAtMs + exhaustForMs) {
        this.used = this.cfg.limit;
        this.resetAtMs = exhaustAtMs + exhaustForMs;
      }
    }
    if (this.resetAtMs !== undefined && now >= this.resetAtMs) {
      this.used = 0;
      this.resetAtMs = undefined;
    }
  }
}
