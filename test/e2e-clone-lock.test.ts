import type { DemoOptions } from '../src/cli/demo.js';
import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

/*
 * Clones and Proxmox's storage lock (docs/simulator.md "Locks during a clone"). Both nodes'
 * templates live on one shared storage, whose cfs lock is one for the whole cluster; a clone that
 * waits 10 s for it fails `cfs-lock 'storage-ceph' error: got lock request timeout`.
 */
const scenario = (storageLock: string) => `
seed: 5
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1, storage: ceph, shared_storage: true}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2, storage: ceph, shared_storage: true}
  timings: {clone: 10s, storage_lock: ${storageLock}, config: 200ms, start: 2s, boot: 20s, stop: 1s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 8, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

async function run(storageLock: string, during?: DemoOptions['during']) {
  let lockFailures: string[] = [];
  const r = await runE2e(scenario(storageLock), {
    ...(during ? { during } : {}),
    inspect: (sim: Simulator) => {
      lockFailures = sim.ctx.recorder.events.map((e) => e.what).filter((w) => w.includes("cfs-lock 'storage-ceph' error: got lock request timeout"));
    },
  });
  expect(r.report.finished).toBe(true);
  expect(r.report.jobs.completed).toBe(r.report.jobs.total);
  expect(r.report.jobs.failed).toBe(0);
  expect(r.report.cap_violations).toBe(0);
  zeroLeaks(r.report);
  expect(leakedSecrets(r.logs, r.secrets)).toEqual([]);
  return { ...r, lockFailures, retried: r.logs.filter((l) => l.includes("clone failed: cfs-lock 'storage-ceph' error: got lock request timeout; retrying in")) };
}

describe('e2e: clones on a shared storage\'s cluster-wide lock', () => {
  it('steps of 5 s: the daemon keeps two clones in flight for the whole cluster, so none waits out the 10 s', async () => {
    // (with two clones per node, as before, four contended for the lock and some timed out)
    const { lockFailures, retried } = await run('5s');
    expect(lockFailures).toEqual([]);
    expect(retried).toEqual([]);
  }, 600_000);

  it('a storage that slows down past the timeout (steps of 5 s, then 11 s): clones spaced for the old steps time out and are retried until every job has its runner', async () => {
    // The daemon spaces clones by how long the last ones took (clone-slots.ts): were the steps that
    // slow from the start, no clone would wait more than 5 s. So the storage slows down once the first clone
    // is under way; the next that waits behind an 11 s one waits through both its steps.
    const { lockFailures, retried } = await run('5s', (sim) => {
      if (sim.ctx.recorder.events.some((e) => e.what.includes('cloning'))) sim.ctx.scenario.proxmox.timings.storageLockMs = 11_000;
    });
    expect(lockFailures.length).toBeGreaterThan(0);
    expect(retried.length).toBeGreaterThan(0);
  }, 600_000);
});
