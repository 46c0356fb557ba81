import type { PoolConfig } from '../config/types.js';
import { freeVmid } from '../planner/plan.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { ProxmoxError, TaskFailedError } from '../proxmox/errors.js';
import type { HiddenVmids } from './hidden-vmids.js';

const MAX_VMID_COLLISIONS = 3;

/**
 * Proxmox refusing a clone's VMID as taken: "unable to create VM N: config file already exists"
 * (the target node has it) or pmxcfs's "File exists" (another node has it) — synchronous or as the
 * task's exit status. Nothing of the clone exists then: another VMID is tried.
 */
export function isVmidCollision(e: unknown): boolean {
  const text = e instanceof ProxmoxError ? e.pveMessage : e instanceof TaskFailedError ? e.exitstatus : undefined;
  return text !== undefined && /already exists|File exists/.test(text);
}

export interface VmidClaim {
  proxmox: ProxmoxApi;
  hidden?: HiddenVmids;
  pool: PoolConfig;
  now: () => number;
  /** VMIDs not to move to: this process's other creations, and those destroyed recently (epoch ms) */
  busy: () => Iterable<number>;
  recentlyFreed: ReadonlyMap<number, number>;
  cooldownMs: number;
  log: (msg: string) => void;
}

/**
 * Clones into `first`, or into the next free VMID of the pool's range when someone holds it: the
 * listing shows only what the token may audit, so Proxmox is asked first (nextid sees every VMID),
 * and the clone call stays the arbiter. `clone(vmid)` runs the whole clone; `moved(vmid)` tells the
 * caller a new VMID is tried. Resolves with the VMID cloned into.
 */
export async function cloneIntoFreeVmid(c: VmidClaim, first: number, clone: (vmid: number) => Promise<void>, moved: (vmid: number) => void): Promise<number> {
  let vmid = first;
  for (let collisions = 0; ; collisions++) {
    if (await isFree(c, vmid)) {
      try {
        await clone(vmid);
        return vmid;
      } catch (e) {
        if (!isVmidCollision(e)) throw e;
      }
    }
    // (remembers `vmid` if it is hidden, also when giving up)
    const next = await nextAfter(c, vmid);
    if (collisions >= MAX_VMID_COLLISIONS) throw new Error(`clone into VMID ${vmid}: taken, as were the ${collisions} VMIDs tried before it; the next tick tries again`);
    if (next === undefined) throw new Error(`clone into VMID ${vmid}: taken, and no other VMID of pool ${c.pool.name}'s range is free`);
    c.log(`VMID ${vmid} is taken${c.hidden?.has(vmid) ? ' by a VM this token cannot see' : ''}; trying ${next}`);
    vmid = next;
    moved(vmid);
  }
}

/** When the question itself fails, the clone call decides (it refuses a taken VMID). */
async function isFree(c: VmidClaim, vmid: number): Promise<boolean> {
  try {
    return await c.proxmox.isVmidFree(vmid);
  } catch (e) {
    c.log(`cannot check that VMID ${vmid} is free (${(e as Error).message}); cloning, which refuses a taken VMID`);
    return true;
  }
}

/** The next VMID to try; `taken` is remembered as hidden when the listing does not show it, so no later plan picks it. */
async function nextAfter(c: VmidClaim, taken: number): Promise<number | undefined> {
  const now = c.now();
  const used = new Set((await c.proxmox.listVms()).map((v) => v.vmid));
  if (!used.has(taken)) c.hidden?.noteTaken(taken, now);
  for (const id of c.busy()) used.add(id);
  for (const id of c.hidden?.snapshot().keys() ?? []) used.add(id);
  used.add(taken);
  return freeVmid(c.pool, used, c.recentlyFreed, now, c.cooldownMs);
}
