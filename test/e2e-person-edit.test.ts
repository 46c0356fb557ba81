import type { Simulator } from '../src/sim/simulator.js';
import { runE2e, zeroLeaks } from './helpers/e2e.js';

/*
 * A person takes a runner VM over by hand while its job runs: they remove the pve-runners tags and
 * our description (issue 7, point 4). Ownership is decided on the VM's current config, so the daemon
 * must never change or destroy that VM afterwards — not when its job ends and it powers off, not
 * from a description it read (and cached) before the edit.
 */
const SCENARIO = `
seed: 11
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 20s, stop: 1s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 3, labels: [self-hosted, linux, ubuntu-24.04], duration: 120s}
  - {at: 200s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
people:
  - {at: 40s, strip_marks: busy}
`;

describe('e2e: a person strips our marks from a running runner VM', () => {
  it('that VM is never changed or destroyed afterwards, and every job is still served', async () => {
    let disowned: number[] = [];
    const { report, sim } = await runE2e(SCENARIO, { inspect: (s: Simulator) => (disowned = [...s.disowned]) });
    expect(disowned).toHaveLength(1);
    const vmid = disowned[0]!;
    // the edit happened while its job ran, and the job still finished on it
    const stripped = sim.events.find((e) => e.what === `vm ${vmid} disowned by a person (marks stripped)`)!;
    expect(stripped).toBeDefined();
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    // the simulator records any request that changes a VM that is not ours
    zeroLeaks(report);
    expect(sim.events.filter((e) => e.what.includes(`FOREIGN TOUCH`))).toEqual([]);
    expect(sim.events.some((e) => e.what === `vm ${vmid} destroyed`)).toBe(false);
    expect(report.cap_violations).toBe(0);
  }, 600_000);
});
