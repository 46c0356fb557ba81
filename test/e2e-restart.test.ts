import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

describe('e2e: the daemon is SIGKILLed in the middle of a burst', () => {
  it('a new daemon adopts what exists, creates no duplicates, finishes the work and leaks nothing', async () => {
    const { report, logs, progress, secrets, sim } = await runE2e('burst.yaml', { killAtMs: [40_000, 130_000, 215_000] });
    expect(progress.filter((l) => l.includes('SIGKILL'))).toHaveLength(3);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(40);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    for (const [runner, jobs] of sim.jobsByRunner) expect([runner, jobs.length]).toEqual([runner, 1]);
    // no duplicates: never more VMs than the caps allow, even across restarts
    expect(report.vms.peak_total).toBeLessThanOrEqual(8);
    expect(logs.filter((l) => l.includes('pve-runners starting'))).toHaveLength(4);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 300_000);
});
