/**
 * Webhook news to early ticks (src/daemon/nudges.ts), on a clock only the test moves: a follow-up
 * for a job GitHub did not list yet names its repository again, since an early tick lists only the
 * active repositories and the ones named (poll-schedule.ts).
 */
import type { Clock } from '../src/clock.js';
import { Nudges } from '../src/daemon/nudges.js';
import { memoryLogger } from '../src/log.js';

class StepClock implements Clock {
  private t = 0;
  private readonly timers: Array<{ at: number; fire: () => void }> = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      this.timers.push({ at: this.t + ms, fire: resolve });
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  /** moves time on by `ms`, resolving the sleeps that fall due, and lets their continuations run */
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (const x of this.timers.filter((x) => x.at <= this.t)) {
      this.timers.splice(this.timers.indexOf(x), 1);
      x.fire();
    }
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

function setUp() {
  const clock = new StepClock();
  const said: string[] = [];
  const target = { nudge: (reason: string) => said.push(`nudge: ${reason}`), due: (repo: string) => said.push(`due: ${repo}`) };
  const nudges = new Nudges({ target, clock, log: memoryLogger({ format: 'json' }).log, timings: { debounceMs: 1000, followUpMs: 1000, followUps: 3 } });
  return { clock, said, nudges };
}

describe('Nudges', () => {
  it('names the repository of a job not listed yet again with each follow-up, and stops once it is listed', async () => {
    const { clock, said, nudges } = setUp();
    nudges.queued(7, 'acme/app');
    expect(said).toEqual(['due: acme/app', 'nudge: job 7 queued in acme/app (webhook)']);
    said.length = 0;
    // the early tick did not list it (GitHub's listing lags its delivery): a follow-up in 1 s
    nudges.ticked(new Set());
    await clock.advance(1000);
    expect(said).toEqual(['due: acme/app', 'nudge: 1 job(s) announced by webhook not listed yet']);
    said.length = 0;
    // listed by the follow-up tick: nothing more
    nudges.ticked(new Set([7]));
    await clock.advance(10_000);
    expect(said).toEqual([]);
    nudges.stop();
  });

  it('gives up after its follow-ups, backing off; a job that left the queue is not looked for', async () => {
    const { clock, said, nudges } = setUp();
    nudges.queued(7, 'acme/app');
    nudges.queued(8, 'acme/lib');
    nudges.left(8);
    said.length = 0;
    const at: number[] = [];
    for (let i = 0; i < 6; i++) {
      nudges.ticked(new Set());
      for (let s = 0; s < 8 && !said.length; s++) await clock.advance(1000);
      if (said.length) at.push(clock.now());
      said.splice(0);
    }
    // 1 s, 2 s, 4 s after each tick; then polling alone
    expect(at).toEqual([1000, 3000, 7000]);
    nudges.stop();
  });
});
