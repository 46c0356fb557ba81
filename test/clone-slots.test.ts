/**
 * The daemon's clone slots (src/daemon/clone-slots.ts) against the simulated Proxmox through the
 * real client: clones are limited per storage lock — per node for a local storage, once for the
 * whole cluster for a shared one — with two linked and, apart, two full clones in flight per lock.
 */
import { CloneSlots, type CloneTarget } from '../src/daemon/clone-slots.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { ManualDaemonClock } from './helpers/manual-daemon-clock.js';
import { startPve, WIDE_ACCESS, type PveHarness } from './helpers/pve-sim.js';

const CLUSTER = `nodes: [{name: pve1, memory_mb: 8192}, {name: pve2, memory_mb: 8192}]
templates:
  - {name: tpl, vmid: 9000, node: pve1}
  - {name: tpl, vmid: 9100, node: pve2}
  - {name: shared-tpl, vmid: 9001, node: pve1, storage: ceph, shared_storage: true}
  - {name: shared-tpl, vmid: 9101, node: pve2, storage: ceph, shared_storage: true}
${WIDE_ACCESS}`;

let h: PveHarness;
let slots: CloneSlots;
// a clock that never moves: every entry takes 0 s, so the spacing of starts (test/lock-spacing.test.ts) is nil here
beforeAll(async () => {
  h = await startPve(CLUSTER);
  slots = new CloneSlots(createProxmoxClient({ url: h.info.url, tokenId: h.info.tokenId, tokenSecret: h.info.tokenSecret, verifySsl: true, queryTimeoutMs: 5_000 }), { clock: new ManualDaemonClock(), lockWaitMs: 5_000 });
});
afterAll(async () => h.close());

/** A clone of `t`, or a destroy of a VM with this config on `node`, run in its slot. */
type Slotted = (f: () => Promise<void>) => Promise<void>;
const cloneOf = (t: CloneTarget): Slotted => (f) => slots.run(t, f);

/** Submits every target at once; each holds its slot until the test lets it go. Returns the most in flight at once. */
async function peak(clones: Array<CloneTarget | Slotted>): Promise<number> {
  const targets = clones.map((t) => (typeof t === 'function' ? t : cloneOf(t)));
  let now = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const started = () => new Promise<void>((resolve) => {
    now++;
    most = Math.max(most, now);
    releases.push(() => {
      now--;
      resolve();
    });
  });
  // the storages are asked once; from then on a slot is decided without I/O
  await Promise.all(targets.map((t) => t(async () => {})));
  const runs = targets.map((t) => t(started));
  // every slot that can start has started once the promise jobs are done: then end them one by one
  const settle = () => new Promise((r) => setImmediate(r));
  for (let ended = 0; ended < targets.length; ended++) {
    await settle();
    releases.shift()!();
  }
  await Promise.all(runs);
  return most;
}

const linked = (node: string, templateVmid: number): CloneTarget => ({ node, templateVmid, full: false });

it('two linked clones at once per node on local storage: each node has its own lock', async () => {
  expect(await peak([1, 2, 3, 4].map(() => linked('pve1', 9000)))).toBe(2);
  expect(await peak([...[1, 2, 3].map(() => linked('pve1', 9000)), ...[1, 2, 3].map(() => linked('pve2', 9100))])).toBe(4);
});

it('two linked clones at once in the whole cluster on a shared storage: its cfs lock is one', async () => {
  expect(await peak([...[1, 2, 3].map(() => linked('pve1', 9001)), ...[1, 2, 3].map(() => linked('pve2', 9101))])).toBe(2);
});

it('two full clones at a time per storage, in slots of their own: a linked clone never waits behind a copy', async () => {
  const full = (storage?: string): CloneTarget => ({ ...linked('pve1', 9000), full: true, ...(storage ? { storage } : {}) });
  expect(await peak([1, 2, 3, 4].map(() => full()))).toBe(2);
  // a full clone to another storage is limited by that one
  expect(await peak([full(), full(), full('ceph'), full('ceph')])).toBe(4);
  expect(await peak([full(), full(), full(), linked('pve1', 9000), linked('pve1', 9000), linked('pve1', 9000)])).toBe(4);
});

it('a destroy takes a linked-clone slot of the lock its volumes\' removals take (vdisk_free under the storage lock)', async () => {
  const destroy = (node: string, disk: string): Slotted => (f) => slots.runDestroy(node, { scsi0: `${disk},size=32G`, ide2: `${disk.split(':')[0]}:vm-201-cloudinit,media=cdrom` }, f);
  expect(await peak([linked('pve1', 9000), linked('pve1', 9000), destroy('pve1', 'local-lvm:base-9000-disk-0/vm-201-disk-0')])).toBe(2);
  // another node's local storage is another lock
  expect(await peak([linked('pve1', 9000), linked('pve1', 9000), destroy('pve2', 'local-lvm:base-9100-disk-0/vm-201-disk-0')])).toBe(3);
  // a shared storage's lock is the whole cluster's
  expect(await peak([linked('pve1', 9001), linked('pve1', 9001), destroy('pve2', 'ceph:base-9101-disk-0/vm-201-disk-0')])).toBe(2);
});
