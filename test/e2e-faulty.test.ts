import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

describe('e2e: faults everywhere', () => {
  it('still completes every job with zero leaks and touches nothing foreign', async () => {
    const { report, logs, secrets } = await runE2e('faulty.yaml');
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    expect(report.jobs.total).toBe(23);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    // the faults did happen: failed tasks, Proxmox and GitHub errors, the forced rate-limit window
    expect(report.proxmox.task_failures).toBeGreaterThan(0);
    expect(report.proxmox.errors).toBeGreaterThan(0);
    expect(report.github.errors).toBeGreaterThan(0);
    expect(logs.some((l) => l.includes('rate limit'))).toBe(true);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
    // GitHub's HTML error pages (the default mix of 5xx bodies) never reach the log
    expect(logs.filter((l) => /<html|<!DOCTYPE|<\/h1>/i.test(l))).toEqual([]);
  }, 300_000);
});
