/**
 * `check`'s lines about the pools' VMID ranges: VMs in them that are not ours, and VMIDs taken by VMs
 * the token cannot see.
 */
import type { PoolConfig } from '../config/types.js';
import type { PveVm } from '../proxmox/api.js';
import type { ProxmoxProbeDeps } from './proxmox.js';
import { describeForeign, foreignVmsInRanges } from './ranges.js';
import { compactIds, fail, listed, ok, warn, type CheckLine } from './result.js';

export type Hidden = ReadonlyArray<{ vmid: number; pool: string }>;

export function rangeLines(d: ProxmoxProbeDeps, vms: readonly PveVm[], hidden: Hidden | undefined): CheckLine[] {
  const foreign = foreignVmsInRanges(d.config.pools, vms);
  const lines = d.config.pools.flatMap((pool) => {
    const { lo, hi } = pool.vmidRange;
    const what = `pool ${pool.name}: VMID range ${lo}-${hi}`;
    const mine = foreign.filter((f) => f.pool === pool.name);
    const unseen = (hidden ?? []).filter((h) => h.pool === pool.name);
    const usable = hi - lo + 1 - mine.length - unseen.length;
    const out: CheckLine[] = [];
    if (mine.length === 0 && unseen.length === 0) out.push(ok(what, 'holds no VM that is not ours'));
    if (mine.length > 0) {
      const list = listed(mine, describeForeign);
      const short = usable < pool.maxRunners ? `; only ${Math.max(usable, 0)} VMIDs are left, fewer than max_runners ${pool.maxRunners}` : '';
      out.push(usable <= 0
        ? fail(what, `every VMID is taken by VMs that are not ours: ${list}${unseen.length ? ` and by ${unseen.length} VM(s) this token cannot see` : ''}`, `move those VMs to VMIDs outside the range, or change pools[${pool.index}].vmid_range`)
        : warn(what, `holds ${mine.length} VM(s) that are not ours: ${list}${short}`, `none needed for \`run\`: it never touches them and skips their VMIDs (${usable} usable); to reclaim them, move the VM(s) or change pools[${pool.index}].vmid_range`));
    }
    if (unseen.length > 0) out.push(hiddenLine(d, pool, unseen, usable));
    return out;
  });
  if (hidden === undefined) lines.push(warn('VMIDs the token cannot see', 'cannot ask Proxmox which VMIDs of the ranges are taken (GET /cluster/nextid failed)', 'check that Proxmox answers GET /cluster/nextid?vmid=<id> for this token (any user may call it)'));
  return lines;
}

/**
 * VMIDs taken by VMs the token may not list: `run` cannot tell whose they are. It skips them, and
 * while each might be a clone of its own in progress (qemu-server adds a clone to its resource
 * pool only when the task ends) it counts it against the pool's caps.
 */
function hiddenLine(d: ProxmoxProbeDeps, pool: PoolConfig, unseen: Hidden, usable: number): CheckLine {
  const user = d.tokenId.split('!')[0]!;
  const what = `pool ${pool.name}: VMIDs the token cannot see`;
  const ids = compactIds(unseen.map((h) => h.vmid));
  const detail = `${ids} in ${pool.vmidRange.lo}-${pool.vmidRange.hi} are taken (Proxmox's nextid says so) by VMs the token may not list (no VM.Audit on them): \`run\` skips those VMIDs, and counts them against max_runners ${pool.maxRunners} and max_total_runners only while clone tasks of its own token that it is not awaiting are running (a clone of its own from before a restart is invisible until it ends), one for each such task — or, when it cannot list the tasks, each for the clone timeout after it first meets it — so up to ${unseen.length} fewer runners for that long${usable < pool.maxRunners ? `; only ${Math.max(usable, 0)} VMIDs are left, fewer than max_runners ${pool.maxRunners}` : ''}`;
  const fix = `grant the token read-only VM.Audit on /vms so it sees every VM and can tell whose they are (\`pveum acl modify /vms --roles PVEAuditor --users ${user} --tokens '${d.tokenId}'\`), or move those VMs to VMIDs outside the range, or change pools[${pool.index}].vmid_range`;
  return usable <= 0 ? fail(what, detail, fix) : warn(what, detail, fix);
}
