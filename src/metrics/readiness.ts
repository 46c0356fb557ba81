/**
 * /readyz's answer: ready while the last tick that succeeded ended within 3 poll intervals and the
 * configuration is loaded. One failed tick is not enough to page anyone (the loop retries with
 * backoff); three intervals without a good one means Proxmox or GitHub has been unreachable for a
 * while, and a supervisor or load balancer should know.
 */
import type { LoopMetrics, TickOutcome } from './recorder.js';

export const READY_INTERVALS = 3;

export interface ReadinessDeps {
  pollIntervalMs: number;
  /** the demo's --speed: the answer's ages are given in scenario seconds */
  timeScale: number;
  /** false while the configuration in force is not a loaded one (a reload may say so) */
  configLoaded?: () => boolean;
}

export class Readiness implements LoopMetrics {
  private lastOk: number | undefined;
  private failedSince = 0;

  constructor(private readonly d: ReadinessDeps) {}

  tickStarted(): void {}

  tickEnded(at: number, r: TickOutcome): void {
    if (r.ok) {
      this.lastOk = at;
      this.failedSince = 0;
    } else this.failedSince++;
  }

  /** ready or not at `now`, and one line saying why */
  check(now: number): { ready: boolean; text: string } {
    const limitMs = READY_INTERVALS * this.d.pollIntervalMs;
    const s = (ms: number) => `${Math.round((ms * this.d.timeScale) / 100) / 10}s`;
    if (this.d.configLoaded && !this.d.configLoaded()) return { ready: false, text: 'not ready: the configuration is not loaded' };
    if (this.lastOk === undefined) return { ready: false, text: `not ready: no tick has succeeded yet${this.failedSince ? ` (${this.failedSince} failed)` : ''}` };
    const age = now - this.lastOk;
    if (age > limitMs) return { ready: false, text: `not ready: the last tick that succeeded ended ${s(age)} ago, more than ${READY_INTERVALS} poll intervals (${s(limitMs)}); ${this.failedSince} failed since — see the log` };
    return { ready: true, text: `ready: the last tick succeeded ${s(age)} ago` };
  }
}
