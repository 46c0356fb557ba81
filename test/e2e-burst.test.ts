import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

describe('e2e: a burst of 40 jobs over two pools', () => {
  it('completes every job within the caps, one job per VM, and leaks nothing', async () => {
    const { report, logs, secrets, sim } = await runE2e('burst.yaml');
    expect(report.finished).toBe(true);
    expect(report.jobs.total).toBe(40);
    expect(report.jobs.completed).toBe(40);
    expect(report.jobs.failed).toBe(0);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    expect(report.github.secondary_limited).toBe(0); // the simulator enforces GitHub's secondary limits
    expect(report.cap_violation_details).toEqual([]);
    // pools.yaml: max_total_runners 8, each ubuntu pool max_runners 4
    expect(report.vms.peak_total).toBeLessThanOrEqual(8);
    expect(report.vms.peak_by_pool['ubuntu-2404']).toBeLessThanOrEqual(4);
    expect(report.vms.peak_by_pool['ubuntu-2204']).toBeLessThanOrEqual(4);
    expect(report.vms.created).toBeLessThanOrEqual(40);
    // one job per VM: no runner name ran two jobs
    for (const [runner, jobs] of sim.jobsByRunner) expect([runner, jobs.length]).toEqual([runner, 1]);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
    expect(logs.some((l) => l.includes('"message":"tick:'))).toBe(true);
  }, 240_000);
});
