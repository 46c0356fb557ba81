import type { SimClock } from '../clock.js';

/**
 * The simulated GitHub's pending scenario-time timers, so stop() cancels only ours (the clock is
 * shared with the simulated Proxmox).
 */
export class Timers {
  private readonly pending = new Set<() => void>();

  constructor(private readonly clock: SimClock) {}

  after(scenarioMs: number, fn: () => void): () => void {
    const cancel = this.clock.after(scenarioMs, () => {
      this.pending.delete(cancel);
      fn();
    });
    this.pending.add(cancel);
    return () => {
      cancel();
      this.pending.delete(cancel);
    };
  }

  cancelAll(): void {
    for (const cancel of this.pending) cancel();
    this.pending.clear();
  }
}
