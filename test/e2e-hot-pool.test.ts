import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';
import { tierPools, TWO_NODES } from './helpers/tier-scenarios.js';

/*
 * Issue 9: a hot pool of 4 in one repository. Four jobs queued at once are all taken by runners
 * already online (pickup within the hot target, GitHub's dispatch delay included); each runner that
 * took a job is replaced, so the pool is back to 4; and with idle_timeout far shorter than the
 * time the hot runners wait, none of them is ever removed for idling while within the count.
 */
const SCENARIO = `
seed: 91
time_limit: 1200s
${TWO_NODES.trim()}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 240s, repo: acme/app, jobs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 480s, repo: acme/app, jobs: 4, runs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

const POOLS = tierPools(['acme/app'], 12, `    idle_timeout: 30s
    hot: 4
`);

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
