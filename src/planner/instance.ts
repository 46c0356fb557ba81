import type { PoolConfig } from '../config/types.js';
import type { ObservedVm, VmMeta } from './observation.js';

/**
 * Which installation a VM belongs to. Every installation has an id (INSTANCE_ID), written into
 * the description of each VM it makes. Two daemons on the same pools would each count the other's
 * runners as their own and create past the caps, so a VM of another instance that is still live
 * is never touched, and the pools it sits in get no new VMs. The daemon keeps no state, so the
 * only sign of another instance's life Proxmox shows is what it makes: the stamp (`createdAt`) of
 * its newest VM. An instance whose newest VM is older than `takeoverAfterMs` is gone (killed,
 * or its container replaced by one with another id): its VMs are taken over so none leaks.
 */
export interface InstanceConfig {
  /** this installation's id */
  id: string;
  /**
   * INSTANCE_TAKEOVER_AFTER: another instance that made or started no VM in our pools for this
   * long is gone. It must exceed the longest a VM of a live instance stays half-made (clone
   * timeout + start timeout): a clone configured but not yet started is a stopped VM that our own
   * rules would remove.
   */
  takeoverAfterMs: number;
}

/** Another installation seen in our pools' VMID ranges this tick. */
export interface OtherInstance {
  id: string;
  /** true: its newest VM is younger than the takeover bound — our pools in `pools` stand down */
  live: boolean;
  /** our pools whose VMID range holds its VMs */
  pools: string[];
  vmids: number[];
  /** epoch ms: the stamp of its newest VM there */
  lastActiveAt: number;
}

export type Claim = 'ours' | 'other-live' | 'other-gone';

/**
 * Whose a VM with this metadata is, for this instance at `now`. A VM without an instance id was
 * made before ids existed (by this installation's earlier release): ours. Without an id of our
 * own (tests of a lone daemon) every VM is ours. The one predicate for "ours AND this instance's".
 */
export function claimOf(meta: VmMeta | undefined, self: InstanceConfig | undefined, lastActiveOf: (id: string) => number | undefined, now: number): Claim {
  if (!self || meta?.instance === undefined || meta.instance === self.id) return 'ours';
  const last = lastActiveOf(meta.instance) ?? meta.createdAt;
  return now - last < self.takeoverAfterMs ? 'other-live' : 'other-gone';
}

/** True when the VM is this instance's to act on: made by it, before ids existed, or by an instance gone for the bound. */
export function actsOn(meta: VmMeta | undefined, self: InstanceConfig | undefined, now: number): boolean {
  return claimOf(meta, self, () => undefined, now) !== 'other-live';
}

/** The other instances whose VMs lie in our pools' ranges, each with the stamp of its newest one. */
export function otherInstances(pools: readonly PoolConfig[], vms: readonly ObservedVm[], self: InstanceConfig | undefined, now: number): OtherInstance[] {
  if (!self) return [];
  const byId = new Map<string, OtherInstance>();
  for (const vm of vms) {
    const id = vm.meta?.instance;
    if (vm.template || vm.kind === 'lxc' || id === undefined || id === self.id) continue;
    const pool = pools.find((p) => vm.vmid >= p.vmidRange.lo && vm.vmid <= p.vmidRange.hi);
    if (!pool) continue;
    const o = byId.get(id) ?? { id, live: false, pools: [], vmids: [], lastActiveAt: -Infinity };
    if (!o.pools.includes(pool.name)) o.pools.push(pool.name);
    o.vmids.push(vm.vmid);
    o.lastActiveAt = Math.max(o.lastActiveAt, vm.meta!.createdAt);
    byId.set(id, o);
  }
  const out = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const o of out) o.live = now - o.lastActiveAt < self.takeoverAfterMs;
  return out;
}

/** What to tell the operator about a live other instance (logged at err, shown by `status`). */
export function standDownMessage(self: InstanceConfig, o: OtherInstance, now: number): string {
  const ago = Math.max(0, Math.round((now - o.lastActiveAt) / 1000));
  return (
    `another pve-runners instance '${o.id}' is live in the VMID range of pool(s) ${o.pools.join(', ')} (VMs ${o.vmids.join(', ')}; newest ${ago}s old), ` +
    `so this instance '${self.id}' creates nothing there and touches none of its VMs: stop the other daemon, or give the two disjoint VMID ranges (and labels); ` +
    `if it is gone for good, its VMs are taken over once it made none for ${Math.round(self.takeoverAfterMs / 1000)}s (INSTANCE_TAKEOVER_AFTER)`
  );
}
