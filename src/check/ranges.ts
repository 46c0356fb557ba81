import type { PoolConfig } from '../config/types.js';
import { OWNER_TAG, parseRunnerName } from '../planner/names.js';

export interface RangeVm {
  readonly vmid: number;
  readonly node: string;
  readonly name: string;
  readonly template: boolean;
  readonly tags: readonly string[];
}

export interface ForeignVm {
  vmid: number;
  node: string;
  name: string;
  template: boolean;
  /** the pool whose VMID range it lies in */
  pool: string;
}

/**
 * VMs inside a pool's VMID range that pve-runners did not make: it never touches them and skips
 * their VMIDs. Ours are the VMs with both ownership tags, and clones whose tags are not set yet
 * (our name shape for exactly that VMID: a clone in progress, or one the daemon will adopt).
 */
export function foreignVmsInRanges(pools: readonly PoolConfig[], vms: readonly RangeVm[]): ForeignVm[] {
  const out: ForeignVm[] = [];
  for (const vm of vms) {
    const pool = pools.find((p) => vm.vmid >= p.vmidRange.lo && vm.vmid <= p.vmidRange.hi);
    if (!pool) continue;
    const tags = vm.tags.map((t) => t.toLowerCase());
    const tagged = tags.includes(OWNER_TAG) && tags.includes(pool.tag.toLowerCase());
    const named = parseRunnerName(pools, vm.name);
    const ours = !vm.template && (tagged || (named?.pool === pool && named.vmid === vm.vmid));
    if (!ours) out.push({ vmid: vm.vmid, node: vm.node, name: vm.name, template: vm.template, pool: pool.name });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

/** VMIDs of the pool's range that no VM at all occupies. */
export function freeVmids(pool: PoolConfig, vms: readonly { vmid: number }[]): number {
  const used = new Set(vms.map((v) => v.vmid).filter((id) => id >= pool.vmidRange.lo && id <= pool.vmidRange.hi));
  return pool.vmidRange.hi - pool.vmidRange.lo + 1 - used.size;
}

export function describeForeign(f: ForeignVm): string {
  return `${f.vmid} (${f.template ? 'template ' : ''}${f.name || 'unnamed'} on ${f.node})`;
}

/**
 * VMIDs of the pools' ranges that Proxmox calls taken (GET /cluster/nextid sees every VMID) but the
 * listing does not show: VMs the token may not audit. One request per unlisted VMID; undefined when
 * Proxmox could not be asked.
 */
export async function hiddenVmidsInRanges(pools: readonly PoolConfig[], vms: readonly { vmid: number }[], isFree: (vmid: number) => Promise<boolean>, concurrency = 8): Promise<Array<{ vmid: number; pool: string }> | undefined> {
  const listed = new Set(vms.map((v) => v.vmid));
  const ids: Array<{ vmid: number; pool: string }> = [];
  for (const p of pools) for (let id = p.vmidRange.lo; id <= p.vmidRange.hi; id++) if (!listed.has(id)) ids.push({ vmid: id, pool: p.name });
  const taken: Array<{ vmid: number; pool: string }> = [];
  try {
    for (let i = 0; i < ids.length; i += concurrency) {
      const batch = ids.slice(i, i + concurrency);
      const free = await Promise.all(batch.map((x) => isFree(x.vmid)));
      batch.forEach((x, j) => free[j] || taken.push(x));
    }
  } catch {
    return undefined;
  }
  return taken;
}
