import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

const completed = (sim: Simulator) => [...sim.ctx.recorder.jobs.values()].filter((j) => j.completedAt !== undefined).length;

describe('e2e: the daemon is SIGKILLed in the middle of a burst', () => {
  it('a new daemon adopts what exists, creates no duplicates, finishes the work and leaks nothing', async () => {
    const { report, logs, progress, secrets, sim } = await runE2e('burst.yaml', {
      killWhen: [
        // mid-clone: a VM exists, still locked, its tags not yet set
        (s) => s.pve.ourVms().some((v) => v.lock === 'clone'),
        // mid-creation of the second wave, after the first jobs finished
        (s, daemonLogs) => completed(s) >= 4 && daemonLogs.some((l) => l.includes('creating runner VM')),
        // mid-removal
        (_s, daemonLogs) => daemonLogs.some((l) => l.includes('removing runner VM')),
      ],
    });
    expect(progress.filter((l) => l.includes('SIGKILL'))).toHaveLength(3);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(40);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    for (const [runner, jobs] of sim.jobsByRunner) expect([runner, jobs.length]).toEqual([runner, 1]);
    expect(report.vms.peak_total).toBeLessThanOrEqual(8);
    expect(logs.filter((l) => l.includes('pve-runners starting'))).toHaveLength(4);
    // what the killed daemon left half-made was recognised as ours and finished off
    expect(logs.some((l) => l.includes('adopted VM') || l.includes('offline registration whose VM no longer exists') || l.includes('VM is stopped'))).toBe(true);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 300_000);
});
