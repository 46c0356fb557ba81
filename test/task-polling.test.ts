import { describe, expect, it } from '@jest/globals';
import type { Clock } from '../src/clock.js';
import type { ProxmoxApi } from '../src/proxmox/api.js';
import { awaitTask } from '../src/proxmox/tasks.js';

/** Virtual time: every sleep returns at once, moving the clock by what was asked. */
function virtualClock(): Clock & { polls: number[] } {
  let t = 0;
  const polls: number[] = [];
  return { polls, now: () => t, sleep: async (ms) => void (t += ms) };
}

/** A task that stops `endsAtMs` after it was started. */
function taskEndingAt(clock: Clock & { polls: number[] }, endsAtMs: number): ProxmoxApi {
  return {
    taskStatus: async () => {
      clock.polls.push(clock.now());
      return clock.now() >= endsAtMs ? { status: 'stopped', exitstatus: 'OK' } : { status: 'running' };
    },
  } as unknown as ProxmoxApi;
}

const UPID = 'UPID:pve1:000A1B2C:0001E240:67000000:qmclone:9000:pve-runners@pve!daemon:';

describe('awaitTask polling', () => {
  it('notices the end of a seconds-long task within one poll interval while the task is young', async () => {
    const clock = virtualClock();
    await awaitTask(taskEndingAt(clock, 3_100), clock, UPID, 'clone', { timeoutMs: 60_000, pollMs: 250, maxPollMs: 2_000, fastForMs: 15_000 });
    expect(clock.now()).toBe(3_250);
  });

  it('polls less often once the task is old, never past the deadline', async () => {
    const clock = virtualClock();
    await awaitTask(taskEndingAt(clock, 40_000), clock, UPID, 'full clone', { timeoutMs: 120_000, pollMs: 250, maxPollMs: 2_000, fastForMs: 15_000 });
    const gaps = clock.polls.slice(1).map((p, i) => p - clock.polls[i]!);
    expect(gaps.filter((g) => g === 250).length).toBe(60);
    expect(Math.max(...gaps)).toBe(2_000);
    expect(clock.now() - 40_000).toBeLessThan(2_000);
  });

  it('without a young phase, doubling from the first poll notices a 3.1 s task only at 3.75 s', async () => {
    const clock = virtualClock();
    await awaitTask(taskEndingAt(clock, 3_100), clock, UPID, 'clone', { timeoutMs: 60_000, pollMs: 250, maxPollMs: 2_000 });
    expect(clock.now()).toBe(3_750);
  });
});
