/**
 * A SimClock that moves only when the test says so: timers fire, in order, inside `advance`.
 * Lets a test put a simulated service at exact points of scenario time (a clone half done, a
 * stats refresh just past) whatever the machine's speed.
 */
import type { SimClock } from '../../src/sim/clock.js';

export class ManualClock implements SimClock {
  readonly speed = 1;
  private now = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private readonly startWall = Date.now();

  nowMs(): number {
    return this.now;
  }

  epochMs(): number {
    return this.startWall + this.now;
  }

  wallEpochAt(scenarioMs: number): number {
    return this.startWall + scenarioMs;
  }

  after(scenarioMs: number, fn: () => void): () => void {
    const id = this.seq++;
    this.timers.set(id, { at: this.now + Math.max(0, scenarioMs), fn });
    return () => this.timers.delete(id);
  }

  sleep(scenarioMs: number): Promise<void> {
    return new Promise((resolve) => this.after(scenarioMs, resolve));
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= target && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = target;
  }

  stop(): void {
    this.timers.clear();
  }
}
