import type { Simulator } from '../src/sim/simulator.js';
import { runE2e, zeroLeaks } from './helpers/e2e.js';

/**
 * A repository with a long job running (so it is active) gets more jobs, one at a time, at every
 * phase of a 60 s poll. Without quick looks each would wait half an interval on average (30 s) to be
 * seen; with them, GitHub's listing lag (3 s) plus a look (every few seconds).
 */
const FLOOR_S = 3 + 0.2 + 2 + 25 + 3; // clone, config, start, boot, runner_connect
// 51–55 s apart: every phase of the 60 s poll is hit; max_runners (4) never holds a job back; and
// no job is listed while the previous job's VM is still listed without its runner (GitHub lists a
// runner 5 s late, a job 3 s): that VM would count as booting, offset the new job, and leave it to
// the next full tick (a planner matter, not detection)
const LATER = [70, 122, 177, 228, 283, 335, 390, 441, 496, 548];
const SCENARIO = `
seed: 21
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 25s, stop: 1s, shutdown: 3s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-24.04], duration: 700s}
${LATER.map((t) => `  - {at: ${t}s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-24.04], duration: 20s}`).join('\n')}
`;

describe('e2e: quick looks at an active repository with POLL_INTERVAL 60 s', () => {
  it('jobs queued into it between ticks are picked up far sooner than half an interval after the floor', async () => {
    let pickups: number[] = [];
    const { report, logs } = await runE2e(SCENARIO, {
      env: { POLL_INTERVAL: '60' },
      inspect: (sim: Simulator) => {
        // the long job queued at 0 s is seen by the first tick; the others are the measure
        pickups = [...sim.ctx.recorder.jobs.values()].sort((a, b) => a.queuedAt - b.queuedAt).slice(1).map((j) => ((j.takenAt ?? Infinity) - j.queuedAt) / 1000);
      },
    });
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(1 + LATER.length);
    zeroLeaks(report);
    expect(pickups).toHaveLength(LATER.length);
    const sorted = [...pickups].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)]!;
    // eslint-disable-next-line no-console
    console.log(`quick-look e2e: pickups ${pickups.map((p) => p.toFixed(1)).join(', ')} s; p50 ${p50.toFixed(1)} s, floor ${FLOOR_S} s; github ${report.github.requests} requests, ${report.github.counted_against_rate_limit} counted`);
    // Without quick looks: floor + 30 s on average (detection is half a poll). With them the
    // detection is the listing lag (3 s) plus at most one look's spacing, and every job beats the mean
    // a 60 s poll would give.
    expect(p50).toBeLessThan(FLOOR_S + 15);
    expect(Math.max(...pickups)).toBeLessThan(FLOOR_S + 30);
    expect(logs.filter((l) => /"message":"quick look: run \d+ queued in acme\/app, which the last tick did not see: early tick"/.test(l)).length).toBeGreaterThanOrEqual(LATER.length / 2);
  }, 300_000);
});
