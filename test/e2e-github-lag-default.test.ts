/**
 * The must-show, through `pve-runners demo` (the built daemon as a child process) with the
 * simulator's default GitHub lag (jobs 3 s, runners 5 s, deletion 10 s): waves of jobs arriving
 * while earlier runners boot, take jobs and go away, so listings are stale at many ticks.
 * - no runner's VM destroyed, and no registration deleted, while it runs a job (the simulator
 *   records a `JOB KILLED` event when a runner's VM goes away under a job);
 * - no more VMs than jobs served: each VM serves exactly one job, so any VM made for a job already
 *   taken (a stale `queued`) would show as one more;
 * - every job served, 0 leaks, no registration deleted twice.
 * The races themselves (a runner listed idle that just took a job; a job listed queued after its
 * runner is listed busy) are made to happen, with longer lags, in e2e-github-lag.test.ts.
 */
import { parseScenario } from '../src/sim/scenario.js';
import { runE2e, zeroLeaks } from './helpers/e2e.js';

const SCENARIO = `
seed: 21
time_limit: 900s
proxmox:
  nodes:
    - {name: pve1, memory_mb: 131072}
    - {name: pve2, memory_mb: 131072}
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: windows-2022-runner-template, vmid: 9002, node: pve1, memory: 8192}
  timings: {clone: 2s, config: 200ms, start: 1s, boot: 15s, stop: 1s, shutdown: 2s, destroy: 1s}
github:
  repos: [acme/app]
  timings: {runner_connect: 2s}
workload:
  - {at: 0s, repo: acme/app, jobs: 3, labels: [self-hosted, linux, ubuntu-24.04], duration: 20s, workflow: a}
  - {at: 12s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 15s, workflow: b}
  - {at: 25s, repo: acme/app, jobs: 3, chain: true, labels: [self-hosted, linux, ubuntu-22.04], duration: 10s, workflow: c}
  - {at: 33s, repo: acme/app, jobs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 10s, workflow: d}
  - {at: 50s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 5s, workflow: e}
`;

describe('e2e: the default GitHub listing lag', () => {
  it('serves every job, with no runner destroyed under a job and no VM more than jobs served', async () => {
    // The scenario sets no lag: it runs with the default one.
    expect(parseScenario(SCENARIO).github.lag).toEqual({ jobsMs: 3_000, runnersMs: 5_000, runnerDeletionMs: 10_000 });
    const r = await runE2e(SCENARIO);
    const { report, sim } = r;
    expect(report.finished).toBe(true);
    expect(report.jobs).toMatchObject({ total: 14, completed: 14, failed: 0, cancelled: 0, pending: 0 });
    expect(sim.events.filter((e) => e.what.startsWith('JOB KILLED'))).toEqual([]);
    expect(report.vms.created).toBe(14);
    expect(report.cap_violations).toBe(0);
    zeroLeaks(report);
    // A registration is deleted at most once: none answered 404 to a DELETE of ours twice.
    const deletes = report.github.by_endpoint['DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}'] ?? 0;
    expect(deletes).toBeLessThanOrEqual(report.vms.created);
  }, 300_000);
});
