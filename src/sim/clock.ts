/**
 * Scenario time. Every simulated duration is written in scenario milliseconds and runs `speed`
 * times faster in real time, so a run at --speed 10 and one at --speed 1 report the same figures.
 */
export interface SimClock {
  readonly speed: number;
  /** Scenario milliseconds since the simulation started. */
  nowMs(): number;
  /** Wall-clock-like epoch ms in scenario time (start epoch + nowMs), for timestamps in API answers. */
  epochMs(): number;
  /**
   * Real wall-clock epoch ms at which scenario time `scenarioMs` arrives. Clients live in real time:
   * anything they compare with their own clock (x-ratelimit-reset) must be in this frame.
   */
  wallEpochAt(scenarioMs: number): number;
  /** Runs fn after `scenarioMs` of scenario time; returns a cancel function. */
  after(scenarioMs: number, fn: () => void): () => void;
  sleep(scenarioMs: number): Promise<void>;
  /** Cancels every pending timer (simulator shutdown). */
  stop(): void;
}

export class RealTimeClock implements SimClock {
  private readonly startReal = performance.now();
  private readonly startWall = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `startEpoch`: the scenario's epoch origin for timestamps in API answers; real now by default. */
  constructor(readonly speed = 1, private readonly startEpoch = Date.now()) {
    if (!(speed > 0)) throw new Error(`speed must be > 0, got ${speed}`);
  }

  nowMs(): number {
    return (performance.now() - this.startReal) * this.speed;
  }

  epochMs(): number {
    return this.startEpoch + this.nowMs();
  }

  wallEpochAt(scenarioMs: number): number {
    return this.startWall + scenarioMs / this.speed;
  }

  after(scenarioMs: number, fn: () => void): () => void {
    // Node's timers run on the event loop's cached millisecond clock and may fire a fraction of a
    // millisecond before performance.now() reaches the deadline: at --speed 20 a 2 s delay then
    // ended at 1.999 s. A timer that wakes early sleeps the rest, so nothing happens before its time.
    const due = this.nowMs() + Math.max(0, scenarioMs);
    let t: NodeJS.Timeout;
    const arm = (realMs: number) => {
      t = setTimeout(() => {
        this.timers.delete(t);
        const left = due - this.nowMs();
        if (left > 0) return arm(left / this.speed);
        fn();
      }, Math.max(0, realMs));
      this.timers.add(t);
    };
    arm(scenarioMs / this.speed);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  sleep(scenarioMs: number): Promise<void> {
    return new Promise((resolve) => this.after(scenarioMs, resolve));
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
