/**
 * Turns webhook news of queued jobs into early ticks. Debounced: the first delivery nudges at once,
 * more within the window make one more nudge at its end. GitHub's listings lag its deliveries, so a
 * tick may not list the job yet: while an announced job is still unlisted the loop is nudged again,
 * backing off, and after a few tries polling alone carries on (it stays the truth).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

export interface NudgeTarget {
  nudge(reason: string): void;
  /** the next tick lists `repo`, whatever its turn in the poll schedule */
  due?(repo: string): void;
}

export interface NudgeTimings {
  /** deliveries this close together make one early tick, plus one at the window's end */
  debounceMs: number;
  /** first wait before looking again for an announced job the last tick did not list; doubles */
  followUpMs: number;
  /** looks again at most this many times per announced job */
  followUps: number;
}

/** Real time; divided by the demo's time scale. */
export const DEFAULT_NUDGE_TIMINGS: NudgeTimings = { debounceMs: 1000, followUpMs: 1000, followUps: 5 };

/* more announced jobs than this unlisted at once: a flood, and polling is better at floods */
const MAX_AWAITED = 1000;

export class Nudges {
  /** announced queued jobs not yet listed: job id → follow-ups already made */
  private readonly awaited = new Map<number, number>();
  /** the repository of each awaited job: a follow-up lists it again (an early tick lists only the active and the named) */
  private readonly repoOf = new Map<number, string>();
  private windowOpen = false;
  private pendingInWindow = 0;
  private followUpAt: number | undefined;
  private readonly stopped = new AbortController();

  constructor(private readonly d: { target: NudgeTarget; clock: Clock; log: Logger; timings?: NudgeTimings }) {}

  private get t(): NudgeTimings {
    return this.d.timings ?? DEFAULT_NUDGE_TIMINGS;
  }

  /** A workflow_job `queued` delivery: wake the loop (debounced) and watch for the job being listed. */
  queued(jobId: number, repo: string): void {
    if (this.awaited.size < MAX_AWAITED) {
      this.awaited.set(jobId, this.awaited.get(jobId) ?? 0);
      this.repoOf.set(jobId, repo);
    }
    this.d.target.due?.(repo);
    this.request(`job ${jobId} queued in ${repo} (webhook)`);
  }

  /** The job left the queue (in_progress, completed): nothing to look again for. */
  left(jobId: number): void {
    this.forget(jobId);
  }

  private forget(jobId: number): void {
    this.awaited.delete(jobId);
    this.repoOf.delete(jobId);
  }

  /** After each tick, with the ids of the queued jobs it listed. */
  ticked(listed: ReadonlySet<number>): void {
    for (const id of listed) this.forget(id);
    if (this.awaited.size === 0 || this.followUpAt !== undefined) return;
    let tries = Infinity;
    for (const [id, n] of this.awaited) {
      if (n >= this.t.followUps) {
        this.forget(id);
        this.d.log.debug(`job ${id} was announced queued by a webhook but is still not listed after ${n} looks; polling takes over`);
      } else tries = Math.min(tries, n);
    }
    if (this.awaited.size === 0) return;
    for (const [id, n] of this.awaited) this.awaited.set(id, n + 1);
    const delay = this.t.followUpMs * 2 ** tries;
    this.followUpAt = this.d.clock.now() + delay;
    void this.d.clock.sleep(delay, this.stopped.signal).then(() => {
      this.followUpAt = undefined;
      if (this.stopped.signal.aborted) return;
      for (const id of this.awaited.keys()) {
        const repo = this.repoOf.get(id);
        if (repo !== undefined) this.d.target.due?.(repo);
      }
      this.d.target.nudge(`${this.awaited.size} job(s) announced by webhook not listed yet`);
    });
  }

  private request(reason: string): void {
    if (this.stopped.signal.aborted) return;
    if (this.windowOpen) {
      this.pendingInWindow++;
      return;
    }
    this.d.target.nudge(reason);
    this.windowOpen = true;
    void this.d.clock.sleep(this.t.debounceMs, this.stopped.signal).then(() => {
      this.windowOpen = false;
      const n = this.pendingInWindow;
      this.pendingInWindow = 0;
      if (n > 0) this.request(`${n} more webhook deliveries`);
    });
  }

  stop(): void {
    this.stopped.abort();
  }
}
