import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';

/*
 * Issue 9: a hot pool of 4 in one repository. Four jobs queued at once are all taken by runners
 * already online (pickup within the hot target, GitHub's dispatch delay included); each runner that
 * took a job is replaced, so the pool is back to 4; and with idle_timeout far shorter than the
 * time the hot runners wait, none of them is ever removed for idling while within the count.
 */
const SCENARIO = `
seed: 91
time_limit: 1200s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 25s, stop: 1s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 240s, repo: acme/app, jobs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 480s, repo: acme/app, jobs: 4, runs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

const POOLS = `
github:
  repos: [acme/app]
max_total_runners: 12
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64, ubuntu-24.04]
    vmid_range: [200, 229]
    max_runners: 12
    nodes: [pve1, pve2]
    user_data: cloud-init/ubuntu-2404.yaml
    idle_timeout: 30s
    hot: 4
`;

describe('e2e: a hot pool of 4 in one repository', () => {
  it('takes 4 jobs queued at once within the hot target, is back to 4 afterwards, and never idles a hot runner out', async () => {
    const { report, logs, secrets } = await runE2e(SCENARIO, { pools: poolsFile(POOLS) });
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(8);
    expect(report.cap_violations).toBe(0);
    // every job met a runner that was online before it was queued
    const jobs = report.pickup.jobs;
    expect(jobs.map((j) => j.tier)).toEqual(Array(8).fill('hot'));
    const hot = report.pickup.by_pool['ubuntu-2404']!.hot!;
    expect(hot.p50).toBeLessThanOrEqual(3);
    expect(hot.p95).toBeLessThanOrEqual(10);
    // 4 hot runners, and one more for each that took a job: nothing else was ever made
    expect(report.vms.created).toBe(4 + 8);
    expect(logs.filter((l) => l.includes('idle past idle_timeout'))).toEqual([]);
    // back to 4 idle, registered runners at the end (the leak count spares exactly those)
    const series = report.pickup.tiers_over_time['ubuntu-2404']!;
    expect(series.at(-1)).toEqual([expect.any(Number), 4, 0]);
    zeroLeaks(report);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 900_000);
});
