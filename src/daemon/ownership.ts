import type { PoolConfig } from '../config/types.js';
import { OWNER_TAG, parseRunnerName } from '../planner/names.js';
import type { VmConfigValue } from '../proxmox/api.js';
import { parseVmDescription } from '../proxmox/vm-meta.js';
import { drainMarks } from '../planner/drain.js';

/**
 * Why a VM's current config does not let pve-runners change it, or undefined when it does: both
 * tags (`pve-runners`, `pvr-pool.<pool>`) and a VMID in that pool's range. A half-made clone to
 * adopt carries no tags yet; it must instead carry our name for exactly this VMID and our
 * description for that name, and no lock. Decided on a config read just before the change, never
 * on what a cache remembers: a person may have taken the VM over since.
 */
export function whyNotOurs(pools: readonly PoolConfig[], pool: PoolConfig, vmid: number, cfg: Record<string, VmConfigValue>, adopting: boolean): string | undefined {
  if (vmid < pool.vmidRange.lo || vmid > pool.vmidRange.hi) return `VMID ${vmid} lies outside pool ${pool.name}'s range`;
  if (!adopting) {
    const tags = String(cfg.tags ?? '').split(/[;,\s]+/).filter(Boolean).map((t) => t.toLowerCase());
    const missing = [OWNER_TAG, pool.tag.toLowerCase()].filter((t) => !tags.includes(t));
    return missing.length ? `its tags (${tags.join(', ') || 'none'}) lack ${missing.join(' and ')}` : undefined;
  }
  if (cfg.lock !== undefined) return `it is locked (${String(cfg.lock)})`;
  // Both tags are set in one call, so a crash leaves none: one of them means a person edited it.
  const tags = String(cfg.tags ?? '').split(/[;,\s]+/).filter(Boolean).map((t) => t.toLowerCase());
  const ours = tags.filter((t) => t === OWNER_TAG || t.startsWith('pvr-pool.'));
  if (ours.length) return `it carries only ${ours.join(', ')} of our two tags: someone edited it`;
  const name = typeof cfg.name === 'string' ? cfg.name : '';
  const parsed = parseRunnerName(pools, name);
  if (parsed?.vmid !== vmid || parsed.pool !== pool) return `its name '${name}' is not one pve-runners gives VM ${vmid}`;
  const meta = parseVmDescription(typeof cfg.description === 'string' ? cfg.description : undefined);
  if (meta?.pool !== pool.name || meta.runner !== name) return 'its description no longer holds the metadata pve-runners wrote';
  return undefined;
}

/**
 * Why a VM the planner drains (no configured pool holds it, see planner/drain.ts) may not be
 * removed, or undefined when it may: its current config still carries our marks for `pool` and
 * `name`, and no configured pool has taken it back since (a reload between plan and removal).
 */
export function whyNotDrainable(pools: readonly PoolConfig[], pool: string, name: string, vmid: number, cfg: Record<string, VmConfigValue>): { why: string; retaken?: true } | undefined {
  const tags = String(cfg.tags ?? '').split(/[;,\s]+/).filter(Boolean);
  const current = typeof cfg.name === 'string' ? cfg.name : '';
  if (current !== name) return { why: `its name is '${current}', not ${name}` };
  const marked = drainMarks(tags, current, parseVmDescription(typeof cfg.description === 'string' ? cfg.description : undefined));
  if (marked !== pool.toLowerCase()) return { why: `its tags and description no longer both name pool ${pool}` };
  const holder = pools.find((p) => p.name.toLowerCase() === marked && vmid >= p.vmidRange.lo && vmid <= p.vmidRange.hi);
  if (holder) return { why: `pool ${holder.name} holds it again`, retaken: true };
  return undefined;
}
