import type { SimClock } from '../../src/sim/clock.js';

/**
 * A scenario clock that moves only when the test says so: what a test must see happens because it
 * advanced the clock, never because real time passed.
 */
export class ManualClock implements SimClock {
  readonly speed = 1;
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private readonly startWall = Date.now();

  constructor(private readonly startEpoch = Date.UTC(2026, 0, 1)) {}

  nowMs(): number {
    return this.t;
  }

  epochMs(): number {
    return this.startEpoch + this.t;
  }

  /** The real-time frame, fixed when the clock was made: a test's own pace never moves it. */
  wallEpochAt(scenarioMs: number): number {
    return this.startWall + scenarioMs;
  }

  after(scenarioMs: number, fn: () => void): () => void {
    const id = this.seq++;
    this.timers.set(id, { at: this.t + Math.max(0, scenarioMs), fn });
    return () => this.timers.delete(id);
  }

  sleep(scenarioMs: number): Promise<void> {
    return new Promise((resolve) => this.after(scenarioMs, resolve));
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  stop(): void {
    this.timers.clear();
  }
}
