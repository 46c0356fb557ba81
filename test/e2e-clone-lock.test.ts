import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

/*
 * Clones contending on Proxmox's storage lock for real: both nodes' templates live on one shared
 * storage, whose cfs lock is cluster-wide, and each storage step holds it 5 s (a slow Ceph or LVM
 * pool). Two nodes × the daemon's clones per node want the one lock at once, so some clones fail
 * after PVE's 10 s with `cfs-lock 'storage-ceph' error: got lock request timeout`. The daemon must
 * read that as lock contention and retry, and every job must still get its runner, with nothing
 * leaked and no cap passed.
 */
const SCENARIO = `
seed: 5
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1, storage: ceph, shared_storage: true}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2, storage: ceph, shared_storage: true}
  timings: {clone: 10s, storage_lock: 5s, config: 200ms, start: 2s, boot: 20s, stop: 1s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 8, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

describe('e2e: clones that time out on the shared storage\'s cluster-wide lock', () => {
  it('are retried until every job has its runner; nothing leaks', async () => {
    let lockFailures: string[] = [];
    const { report, logs, secrets } = await runE2e(SCENARIO, {
      inspect: (sim: Simulator) => {
        lockFailures = sim.ctx.recorder.events.map((e) => e.what).filter((w) => w.includes("cfs-lock 'storage-ceph' error: got lock request timeout"));
      },
    });
    // the contention is real: the simulator failed clones on the lock, the daemon saw and retried them
    expect(lockFailures.length).toBeGreaterThan(0);
    const retried = logs.filter((l) => l.includes("clone failed: cfs-lock 'storage-ceph' error: got lock request timeout; retrying in"));
    expect(retried.length).toBeGreaterThan(0);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    expect(report.jobs.failed).toBe(0);
    expect(report.cap_violations).toBe(0);
    zeroLeaks(report);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 600_000);
});
