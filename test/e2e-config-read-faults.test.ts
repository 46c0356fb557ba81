import type { Simulator } from '../src/sim/simulator.js';
import { runE2e, zeroLeaks } from './helpers/e2e.js';

const untagged = (s: Simulator) => s.pve.ourVms().filter((v) => v.lock === undefined && v.tags.length === 0).map((v) => v.vmid);

/*
 * Issue 7, point 3: a VM whose config cannot be read in a tick must still count against the caps
 * (and be left alone), never be filed as someone else's. 60 % of config reads fail here, on a burst
 * well past the caps (max_runners 4 per pool, max_total_runners 8), and the daemon is SIGKILLed twice
 * while a VM of ours is cloned but not yet tagged (the config task takes 5 s here): the new daemon
 * can tell that VM is its own only from its description, which it often cannot read.
 */
const SCENARIO = `
seed: 44
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9101, node: pve2}
  timings: {clone: 3s, config: 5s, start: 2s, boot: 20s, stop: 1s, destroy: 2s}
  faults:
    endpoints:
      'GET /nodes/{node}/qemu/{vmid}/config': {http_error_rate: 0.6}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 14, labels: [self-hosted, linux, ubuntu-24.04], duration: 40s}
  - {at: 5s, repo: acme/app, jobs: 10, labels: [self-hosted, linux, ubuntu-22.04], duration: 40s}
`;

describe('e2e: 60 % of config reads fail', () => {
  it('never exceeds a cap, serves every job and leaks nothing', async () => {
    // Removing a VM needs its config read in the tick that plans it and again right before each
    // change (ownership is decided on the current config), so with 60 % of reads failing cleanup takes
    // many ticks: leaks are counted only once the daemon had time for that.
    let first: number[] = [];
    const { report, sim, progress } = await runE2e(SCENARIO, {
      maxSettleTicks: 80,
      killWhen: [(s) => (first = untagged(s)).length > 0, (s) => untagged(s).some((v) => !first.includes(v))],
    });
    expect(progress.filter((l) => l.includes('SIGKILL'))).toHaveLength(2);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(24);
    expect(report.cap_violations).toBe(0);
    expect(report.vms.peak_total).toBeLessThanOrEqual(8);
    zeroLeaks(report);
    // the faults did hit: config reads failed all along
    const reads = [...sim.requests.entries()].find(([k]) => k === 'proxmox GET /nodes/{node}/qemu/{vmid}/config')?.[1];
    expect(reads?.errors).toBeGreaterThan(10);
  }, 900_000);
});
