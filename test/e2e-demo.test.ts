import type { JobTimes } from '../src/sim/recorder.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

describe('e2e: the demo scenario (needs: chain, unmatched job, foreign VM and runner)', () => {
  it('serves jobs queued inside an in-progress run, creates nothing for unmatched jobs, touches nothing foreign', async () => {
    let jobs: JobTimes[] = [];
    const { report, logs, secrets } = await runE2e('demo.yaml', { inspect: (s) => (jobs = [...s.ctx.recorder.jobs.values()]) });
    expect(report.finished).toBe(true);
    expect(report.jobs.total).toBe(12);
    expect(report.jobs.unmatched).toBe(1);
    expect(report.jobs.completed).toBe(11);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    expect(report.github.secondary_limited).toBe(0); // the simulator enforces GitHub's secondary limits
    // the chain's three jobs (the only ubuntu-22.04 ones) ran one after another, each queued only
    // once the one before had completed, each served in pool ubuntu-2204 by a runner of its own
    const chain = jobs.filter((j) => j.labels.includes('ubuntu-22.04')).sort((a, b) => a.queuedAt - b.queuedAt);
    expect(chain).toHaveLength(3);
    for (const [i, j] of chain.entries()) {
      expect({ i, conclusion: j.conclusion, foreign: j.takenByForeign, runner: j.runnerName?.replace(/-\d+-[a-z0-9]+$/, '') }).toEqual({ i, conclusion: 'success', foreign: false, runner: 'ubuntu-2204' });
      expect(j.takenAt!).toBeGreaterThanOrEqual(j.queuedAt);
      expect(j.completedAt!).toBeGreaterThan(j.takenAt!);
      if (i > 0) expect(j.queuedAt).toBeGreaterThanOrEqual(chain[i - 1]!.completedAt!);
    }
    expect(new Set(chain.map((j) => j.runnerName)).size).toBe(3);
    expect(report.vms.peak_by_pool['ubuntu-2204']).toBeGreaterThanOrEqual(1);
    // the gpu job is reported once, with its labels and a hint, and gets no VM
    const unmatched = logs.filter((l) => l.includes('matches no pool'));
    expect(unmatched).toHaveLength(1);
    expect(unmatched[0]).toContain('self-hosted, gpu');
    expect(unmatched[0]).toContain("change the job's runs-on");
    expect(Object.keys(report.vms.peak_by_pool).sort()).toEqual(['ubuntu-2204', 'ubuntu-2404', 'windows-2022']);
    // the foreign VM in ubuntu-2404's range is invisible to the least-privilege token (no VM.Audit on
    // it), found through nextid, skipped and never touched
    expect(logs.some((l) => l.includes("VMID 205 in pool ubuntu-2404's range is taken by a VM this token cannot see"))).toBe(true);
    expect(logs.some((l) => l.includes('keep-me'))).toBe(false);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 240_000);
});
