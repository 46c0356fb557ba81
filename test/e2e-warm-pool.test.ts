import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';
import { tierPools, TWO_NODES } from './helpers/tier-scenarios.js';

/*
 * Issue 9: a warm pool of 4. Jobs are started from warm VMs: no clone on their critical path (the
 * simulator's record of every VM's clone and start). Then the template of the node holding the warm VMs is built again in
 * place: the warm VMs cloned from the old build are never started, they are replaced.
 */
const SCENARIO = `
seed: 92
time_limit: 1500s
${TWO_NODES.trim()}
github:
  repos: [acme/app, acme/web]
  timings: {runner_connect: 3s}
workload:
  - {at: 200s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 200s, repo: acme/web, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 600s, repo: acme/web, jobs: 4, runs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

const POOLS = tierPools(['acme/app', 'acme/web'], 12, `    warm: 4
`);

const REBUILD_AT_MS = 400_000;

describe('e2e: a warm pool of 4', () => {
  it('starts jobs from warm VMs without a clone on their path, and replaces the warm VMs of a rebuilt template', async () => {
    let stale: string[] | undefined;
    const { report, logs, secrets, sim } = await runE2e(SCENARIO, {
      pools: poolsFile(POOLS),
      during: (s: Simulator) => {
        if (stale !== undefined || s.clock.nowMs() < REBUILD_AT_MS) return;
        // the template of the node the warm VMs are on (placement decides which)
        const warmVms = s.pve.ourVms().filter((v) => v.warm && v.status === 'stopped');
        const node = warmVms[0]?.node ?? 'pve1';
        stale = warmVms.filter((v) => v.node === node).map((v) => v.name);
        s.pve.rebuildTemplate(node === 'pve1' ? 9000 : 9100);
      },
    });
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(8);
    expect(report.cap_violations).toBe(0);
    // every job, in both repositories, was served by a VM cloned before it was queued
    const jobs = report.pickup.jobs;
    expect(jobs.map((j) => j.tier)).toEqual(Array(8).fill('warm'));
    expect(jobs.map((j) => j.stages_s.clone)).toEqual(Array(8).fill(0));
    const warm = report.pickup.by_pool['ubuntu-2404']!.warm!;
    expect(warm.p50).toBeLessThan(report.pickup.by_pool['ubuntu-2404']!.warm!.floor_s + 3 + 20);
    // the rebuilt template's old warm VMs were removed as out of date, none of them started
    expect(stale!.length).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes('warm VM is out of date') && l.includes('was rebuilt')).length).toBeGreaterThanOrEqual(stale!.length);
    expect(jobs.filter((j) => j.queued_s * 1000 > REBUILD_AT_MS).map((j) => j.runner).filter((r) => stale!.includes(r))).toEqual([]);
    expect(sim.events.filter((e) => stale!.some((n) => e.what.includes(n)) && e.what.includes('start')).filter((e) => e.t > REBUILD_AT_MS)).toEqual([]);
    // 4 warm VMs stand at the end, none of them from the old build
    const series = report.pickup.tiers_over_time['ubuntu-2404']!;
    expect(series.at(-1)).toEqual([expect.any(Number), 0, 4]);
    zeroLeaks(report);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 900_000);
});
