import type { Clock } from '../../src/clock.js';
import { ManualClock } from './manual-clock.js';

/**
 * The daemon's Clock on a ManualClock: sleeps end only when the test advances time (or their
 * signal aborts), so what a test sees never depends on how fast the machine is.
 */
export class ManualDaemonClock implements Clock {
  readonly manual = new ManualClock();

  now(): number {
    return this.manual.epochMs();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        cancel();
        resolve();
      };
      const cancel = this.manual.after(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Moves time on by `ms`, then lets what the timers woke run to its next wait. */
  async advance(ms: number): Promise<void> {
    this.manual.advance(ms);
    await settle();
  }
}

/** Lets pending promise continuations and I/O callbacks run (event-loop turns, not wall time). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
