/**
 * pve-storage's per-storage lock around each storage step of a clone, and full-clone copies sharing
 * a storage's bandwidth, on a clock only the test moves (see docs/simulator.md "Storage locks").
 */
import { startPve, WIDE_ACCESS, type PveHarness } from './helpers/pve-sim.js';
import { ManualClock } from './helpers/manual-clock.js';

const cluster = (timings: string) => `nodes: [{name: pve1, memory_mb: 8192}, {name: pve2, memory_mb: 8192}]
templates:
  - {name: tpl, vmid: 9000, node: pve1}
  - {name: tpl, vmid: 9100, node: pve2}
  - {name: shared-tpl, vmid: 9001, node: pve1, storage: ceph, shared_storage: true}
  - {name: shared-tpl, vmid: 9101, node: pve2, storage: ceph, shared_storage: true}
timings: {${timings}}
${WIDE_ACCESS}`;

let h: PveHarness;
let clock: ManualClock;
afterEach(async () => h.close());

/** Every timer fires `lateMs` after it is due: the real-time clock under load, at a high --speed. */
class LateClock extends ManualClock {
  constructor(private readonly lateMs: number) {
    super();
  }
  override after(ms: number, fn: () => void): () => void {
    return super.after(ms + this.lateMs, fn);
  }
}

async function open(timings: string, lateMs = 0): Promise<void> {
  clock = lateMs ? new LateClock(lateMs) : new ManualClock();
  h = await startPve(cluster(timings), { clock });
}

async function clone(node: string, template: number, newid: number, full = false): Promise<string> {
  const r = await h.raw('POST', `/nodes/${node}/qemu/${template}/clone`, { body: `newid=${newid}&name=ci-${newid}${full ? '&full=1' : ''}` });
  expect(r.status).toBe(200);
  return r.json.data as string;
}

async function task(upid: string): Promise<{ status: string; exitstatus?: string; log: string[] }> {
  const node = upid.split(':')[1]!;
  const st = (await h.raw('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)).json.data;
  const log = ((await h.raw('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/log?limit=100`)).json.data as Array<{ t: string }>).map((l) => l.t);
  return { status: st.status, exitstatus: st.exitstatus, log };
}

/** Moves the clock in 100 ms steps and returns when (scenario ms) each task stopped, and how. */
async function runUntilStopped(upids: string[], limitMs: number): Promise<Array<{ at: number; exitstatus: string }>> {
  const ends: Array<{ at: number; exitstatus: string } | undefined> = upids.map(() => undefined);
  for (let t = 0; t <= limitMs && ends.some((e) => !e); t += 100) {
    for (const [i, u] of upids.entries()) {
      if (ends[i]) continue;
      const s = await task(u);
      if (s.status === 'stopped') ends[i] = { at: clock.nowMs(), exitstatus: s.exitstatus! };
    }
    clock.advance(100);
  }
  return ends.map((e) => e ?? { at: -1, exitstatus: 'still running' });
}

describe('the storage lock around the storage steps of a clone', () => {
  it('serializes two linked clones on one node\'s local storage: each step waits for the other\'s', async () => {
    // 4 s each, all of it the two locked steps (cloud-init volume, base-disk snapshot) of 2 s
    await open('clone: 4s');
    const a = await clone('pve1', 9000, 201);
    const b = await clone('pve1', 9000, 202);
    const ends = await runUntilStopped([a, b], 20_000);
    // alone each takes 4 s; A: 0–2 then 4–6, B waits, then 2–4 and 6–8
    expect(ends).toEqual([{ at: 6000, exitstatus: 'OK' }, { at: 8000, exitstatus: 'OK' }]);
    const log = (await task(b)).log;
    expect(log).toEqual(expect.arrayContaining(['create full clone of drive ide2 (local-lvm:cloudinit)', 'trying to acquire lock... OK', 'create linked clone of drive scsi0 (local-lvm:base-9000-disk-0)']));
  });

  it('does not serialize clones on two nodes\' local storages: each node has its own lock', async () => {
    await open('clone: 4s');
    const ends = await runUntilStopped([await clone('pve1', 9000, 201), await clone('pve2', 9100, 202)], 20_000);
    expect(ends).toEqual([{ at: 4000, exitstatus: 'OK' }, { at: 4000, exitstatus: 'OK' }]);
  });

  it('a waiter gives up after PVE\'s 10 s with lock_file\'s message, and its placeholder VM goes', async () => {
    // a slow storage step (an LVM thin pool busy for 11 s)
    await open('clone: 22s, storage_lock: 11s');
    const a = await clone('pve1', 9000, 201);
    const b = await clone('pve1', 9000, 202);
    clock.advance(9_999);
    expect((await task(b)).status).toBe('running');
    clock.advance(1); // 10 s: the timeout; clone_vm then sleeps 1 s before it cleans up and dies
    expect((await task(b)).status).toBe('running');
    expect((await h.raw('GET', '/nodes/pve1/qemu/202/config')).json.data.lock).toBe('clone');
    clock.advance(1_000);
    const failed = await task(b);
    expect(failed.exitstatus).toBe("clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
    expect(failed.log).toContain('trying to acquire lock...');
    expect((await h.raw('GET', '/nodes/pve1/qemu/202/config')).status).toBe(500);
    // the holder is unaffected
    expect((await runUntilStopped([a], 30_000))[0]!.exitstatus).toBe('OK');
  });

  it('shared storage has one cluster-wide cfs lock: a clone on the other node gives up at cfs_lock\'s last try (9.9 s)', async () => {
    await open('clone: 22s, storage_lock: 11s');
    const a = await clone('pve1', 9001, 201);
    const b = await clone('pve2', 9101, 202);
    clock.advance(9_899);
    expect((await task(b)).status).toBe('running');
    clock.advance(1 + 1_000);
    const failed = await task(b);
    expect(failed.exitstatus).toBe("clone failed: cfs-lock 'storage-ceph' error: got lock request timeout");
    expect(failed.log).toContain("trying to acquire cfs lock 'storage-ceph' ...");
    expect((await task(a)).status).toBe('running');
  });

  it('timers that come late do not stretch a cfs waiter\'s 10 s: it counts the time that passed, as PVE\'s accurate sleeps do', async () => {
    // A's two steps of 5.25 s end at 10.8 s (late too); 150 ms late each, ten sleeps counted as
    // slept would last 11.4 s, and the waiter would find the lock free at its try after 10.8 s
    await open('clone: 10500ms, storage_lock: 5250ms', 150);
    const a = await clone('pve1', 9001, 201);
    const b = await clone('pve2', 9101, 202);
    const ends = await runUntilStopped([b], 30_000);
    expect(ends[0]!.exitstatus).toBe("clone failed: cfs-lock 'storage-ceph' error: got lock request timeout");
    expect((await task(a)).exitstatus).toBe('OK');
  });

  it('a freed cfs lock is only taken at the waiter\'s next try', async () => {
    // Steps of 1.5 s. A holds 0–1.5 and, nobody being woken, again 1.5–3. B tries at 0, 1.0, 1.9,
    // 2.8 (sleeps of 1, 0.9, 0.9, 0.8 s), finds the lock free at 3.6: 3.6–5.1, then 5.1–6.6.
    await open('clone: 3s');
    const ends = await runUntilStopped([await clone('pve1', 9001, 201), await clone('pve2', 9101, 202)], 20_000);
    expect(ends).toEqual([{ at: 3000, exitstatus: 'OK' }, { at: 6600, exitstatus: 'OK' }]);
  });
});

describe('destroy frees its volumes under the same lock', () => {
  it('behind a clone\'s long step it waits, warns after 10 s for the disk it could not free, and the VM is gone', async () => {
    await open('clone: 22s, storage_lock: 11s, destroy: 2s');
    expect((await runUntilStopped([await clone('pve1', 9000, 201)], 30_000))[0]!.exitstatus).toBe('OK');
    const t0 = clock.nowMs();
    await clone('pve1', 9000, 202); // holds the lock for its cloud-init volume for 11 s
    const d = await h.raw('DELETE', '/nodes/pve1/qemu/201');
    // the disk waits 10 s and is given up on; the cloud-init volume waits 1 s more, then takes 1 s
    const [end] = await runUntilStopped([d.json.data as string], 30_000);
    expect(end).toEqual({ at: t0 + 12_000, exitstatus: 'WARNINGS: 1' });
    expect((await task(d.json.data as string)).log).toContain("WARN: Could not remove disk 'local-lvm:base-9000-disk-0/vm-201-disk-0', check manually: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
    expect((await h.raw('GET', '/nodes/pve1/qemu/201/config')).status).toBe(500);
  });

  it('the config stays, unlocked, while the disks go; a second destroy meanwhile waits on the config lock and finds the config gone', async () => {
    await open('clone: 4s, destroy: 2s');
    expect((await runUntilStopped([await clone('pve1', 9000, 201)], 30_000))[0]!.exitstatus).toBe('OK');
    const t0 = clock.nowMs();
    const first = (await h.raw('DELETE', '/nodes/pve1/qemu/201')).json.data as string;
    const again = await h.raw('DELETE', '/nodes/pve1/qemu/201');
    expect(again.status).toBe(200); // its synchronous checks pass: no lock property, not running
    const cfg = (await h.raw('GET', '/nodes/pve1/qemu/201/config')).json.data;
    expect([cfg.name, cfg.lock]).toEqual(['ci-201', undefined]);
    expect(await runUntilStopped([first, again.json.data as string], 30_000)).toEqual([
      { at: t0 + 2_000, exitstatus: 'OK' },
      { at: t0 + 2_000, exitstatus: "Configuration file 'nodes/pve1/qemu-server/201.conf' does not exist" },
    ]);
  });

  it('a second destroy that waits on the config lock past 10 s fails with its lock timeout', async () => {
    await open('clone: 22s, storage_lock: 11s, destroy: 2s');
    expect((await runUntilStopped([await clone('pve1', 9000, 201)], 30_000))[0]!.exitstatus).toBe('OK');
    const t0 = clock.nowMs();
    await clone('pve1', 9000, 202); // the first destroy waits behind it and takes 12 s
    const first = (await h.raw('DELETE', '/nodes/pve1/qemu/201')).json.data as string;
    const again = (await h.raw('DELETE', '/nodes/pve1/qemu/201')).json.data as string;
    expect(await runUntilStopped([first, again], 30_000)).toEqual([
      { at: t0 + 12_000, exitstatus: 'WARNINGS: 1' },
      { at: t0 + 10_000, exitstatus: "can't lock file '/var/lock/qemu-server/lock-201.conf' - got timeout" },
    ]);
  });

  it('alone it takes its destroy time', async () => {
    await open('clone: 4s, destroy: 2s');
    expect((await runUntilStopped([await clone('pve1', 9000, 201)], 30_000))[0]!.exitstatus).toBe('OK');
    const t0 = clock.nowMs();
    const d = await h.raw('DELETE', '/nodes/pve1/qemu/201');
    expect(await runUntilStopped([d.json.data as string], 30_000)).toEqual([{ at: t0 + 2_000, exitstatus: 'OK' }]);
  });
});

describe('full clones: allocation under the lock, the copy outside it on a shared disk', () => {
  it('two full copies on one storage share its bandwidth: both take about twice as long', async () => {
    // 60 s alone: two locked allocations of 1 s and a 58 s copy
    await open('clone: 2s, storage_lock: 1s, full_clone: 60s');
    const ends = await runUntilStopped([await clone('pve1', 9000, 201, true), await clone('pve1', 9000, 202, true)], 200_000);
    // allocations: A 0–1, B 1–2, A 2–3, B 3–4; A copies alone 3–4, then both at half speed
    expect(ends).toEqual([{ at: 118_000, exitstatus: 'OK' }, { at: 119_000, exitstatus: 'OK' }]);
  });

  it('copies on two nodes\' local storages do not slow each other', async () => {
    await open('clone: 2s, storage_lock: 1s, full_clone: 60s');
    const ends = await runUntilStopped([await clone('pve1', 9000, 201, true), await clone('pve2', 9100, 202, true)], 200_000);
    expect(ends).toEqual([{ at: 60_000, exitstatus: 'OK' }, { at: 60_000, exitstatus: 'OK' }]);
  });
});
