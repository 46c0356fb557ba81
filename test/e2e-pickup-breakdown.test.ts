/**
 * The report's pickup breakdown over a real run (simulator + the built daemon): every job's stages
 * add up to its pickup, plain scenarios are all cold, each stage holds at least what the scenario's
 * timings make it last, and the pickup read from GitHub's own job timestamps agrees with the
 * simulator's (GitHub's are whole seconds, so within one).
 */
import { STAGES } from '../src/sim/breakdown.js';
import { runE2e, zeroLeaks } from './helpers/e2e.js';

const SCENARIO = `seed: 5
time_limit: 900s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}, {name: pve2, memory_mb: 65536}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 25s, stop: 1s, shutdown: 3s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 10s, repo: acme/app, jobs: 4, runs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

describe('e2e: the pickup breakdown', () => {
  it('accounts for every second of every pickup, and GitHub timestamps agree', async () => {
    const { report } = await runE2e(SCENARIO);
    expect(report.jobs.completed).toBe(4);
    zeroLeaks(report);
    const { jobs, by_pool } = report.pickup;
    expect(jobs).toHaveLength(4);
    for (const b of jobs) {
      expect(Object.keys(b.stages_s).sort()).toEqual([...STAGES].sort());
      const sum = STAGES.reduce((n, s) => n + b.stages_s[s], 0);
      expect([b.job, sum]).toEqual([b.job, expect.closeTo(b.pickup_s, 6)]);
      expect(b.pickup_s).toBeCloseTo(b.taken_s - b.queued_s, 2);
      expect(b).toMatchObject({ tier: 'cold', pool: 'ubuntu-2404', runner: expect.stringMatching(/^ubuntu-2404-2\d\d-[a-z0-9]{4}$/) });
      // each VM was made after the job was queued: its steps last at least the scenario's timings
      expect(b.stages_s.clone).toBeGreaterThanOrEqual(2.99);
      expect(b.stages_s.start).toBeGreaterThanOrEqual(1.99);
      expect(b.stages_s.boot).toBeGreaterThanOrEqual(24.99);
      expect(b.stages_s.registration).toBeGreaterThanOrEqual(2.99);
      // the daemon polls: it cannot see a job before GitHub's 3 s listing lag has passed
      expect(b.stages_s.detection).toBeGreaterThanOrEqual(2.99);
      expect(b.daemon_s).toBeGreaterThanOrEqual(0);
      expect(b.daemon_s).toBeLessThanOrEqual(b.pickup_s - b.stages_s.detection);
      expect(b.github_pickup_s).not.toBeNull();
      expect(Math.abs(b.github_pickup_s! - b.pickup_s)).toBeLessThan(1);
    }
    expect(report.pickup.github_max_abs_diff_s).toBeLessThan(1);
    const cold = by_pool['ubuntu-2404']!.cold!;
    expect(Object.keys(by_pool['ubuntu-2404']!)).toEqual(['cold']);
    expect(cold).toMatchObject({ jobs: 4, floor_s: 33.2 });
    // the same percentiles as the report's own pickup_latency_s (which rounds from unrounded ms)
    expect(Math.abs(cold.p50! - report.jobs.pickup_latency_s.p50!)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(cold.p95! - report.jobs.pickup_latency_s.p95!)).toBeLessThanOrEqual(0.1);
    expect(cold.ratio_p50).toBeCloseTo(cold.p50! / 33.2, 2);
    expect(cold.p50!).toBeGreaterThanOrEqual(cold.floor_s);
  }, 240_000);
});
