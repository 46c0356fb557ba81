import type { PoolConfig } from '../config/types.js';
import type { CreateAction } from './actions.js';
import { unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { Want } from './demand.js';
import type { ObservedVm, Observation } from './observation.js';

const MIB = 1024 * 1024;

export interface Creation {
  actions: CreateAction[];
  /** per pool: why fewer VMs are created than jobs wait */
  limitedBy: Map<string, string>;
  notes: string[];
}

/**
 * Phase: one new VM per uncovered job, oldest first, as far as the caps (max_total_runners, each
 * pool's max_runners), the free VMIDs of the pool's range and the nodes' free memory allow.
 */
export function creations(ctx: PlanContext, owned: readonly OwnedVm[], wanted: readonly Want[]): Creation {
  const { cfg, obs } = ctx;
  const actions: CreateAction[] = [];
  const notes: string[] = [];
  const limitedBy = new Map<string, string>();
  const pending = unlistedCreations(ctx);

  const poolCount = new Map<string, number>();
  const count = (pool: string) => poolCount.set(pool, (poolCount.get(pool) ?? 0) + 1);
  for (const o of owned) count(o.pool.name);
  for (const c of pending) count(c.pool);
  let total = [...poolCount.values()].reduce((a, b) => a + b, 0);

  const usedVmids = new Set<number>([...obs.vms.map((v) => v.vmid), ...ctx.creatingByVmid.keys(), ...obs.hiddenVmids.keys()]);
  const reserved = new Map<string, number>(); // node → bytes promised to VMs not yet running
  for (const c of obs.inFlight.creating) reserved.set(c.node, (reserved.get(c.node) ?? 0) + c.memoryBytes);
  const templates = obs.vms.filter((v) => v.template);

  const stoppedVms = owned.filter((o) => o.role === 'stopped');
  if (cfg.pauseOnStopped && stoppedVms.length > 0 && wanted.length > 0) {
    notes.push(`PAUSE_ON_STOPPED: creating nothing while runner VMs are stopped (${stoppedVms.map((o) => o.vm.vmid).join(', ')})`);
    for (const w of wanted) limitedBy.set(w.pool.name, 'PAUSE_ON_STOPPED');
  }
  for (const w of wanted) {
    const p = w.pool;
    if (limitedBy.has(p.name)) continue;
    if (cfg.maxTotalRunners > 0 && total >= cfg.maxTotalRunners) {
      for (const x of wanted) if (!limitedBy.has(x.pool.name)) limitedBy.set(x.pool.name, `max_total_runners ${cfg.maxTotalRunners}`);
      break;
    }
    if ((poolCount.get(p.name) ?? 0) >= p.maxRunners) {
      limitedBy.set(p.name, `max_runners ${p.maxRunners}`);
      continue;
    }
    const vmid = freeVmid(p, usedVmids, obs.inFlight.recentlyFreed, obs.now, cfg.vmidCooldownMs);
    if (vmid === undefined) {
      limitedBy.set(p.name, `no free VMID in ${p.vmidRange.lo}-${p.vmidRange.hi}`);
      continue;
    }
    const placement = place(p, templates, obs, reserved);
    if (typeof placement === 'string') {
      limitedBy.set(p.name, placement);
      continue;
    }
    usedVmids.add(vmid);
    reserved.set(placement.node, (reserved.get(placement.node) ?? 0) + placement.memoryBytes);
    count(p.name);
    total++;
    actions.push({
      kind: 'create',
      pool: p.name,
      scope: w.scope,
      vmid,
      node: placement.node,
      templateVmid: placement.templateVmid,
      memoryBytes: placement.memoryBytes,
      forJob: w.job.id,
      reason: `job ${w.job.id} (${w.job.repo}, ${w.job.name}) is queued and no idle or booting runner of pool ${p.name} covers it`,
    });
  }
  return { actions, limitedBy, notes };
}

/** The lowest VMID of the pool's range that nothing uses and that was not freed within the cooldown. */
export function freeVmid(p: PoolConfig, used: ReadonlySet<number>, recentlyFreed: ReadonlyMap<number, number>, now: number, cooldownMs: number): number | undefined {
  for (let id = p.vmidRange.lo; id <= p.vmidRange.hi; id++) {
    if (used.has(id)) continue;
    const freedAt = recentlyFreed.get(id);
    if (freedAt !== undefined && now - freedAt < cooldownMs) continue;
    return id;
  }
  return undefined;
}

/** The node with the most free memory among the pool's nodes that hold a copy of its template. */
function place(p: PoolConfig, templates: readonly ObservedVm[], obs: Observation, reserved: ReadonlyMap<string, number>): { node: string; templateVmid: number; memoryBytes: number } | string {
  const copies = templates.filter((t) => (p.template.kind === 'vmid' ? t.vmid === p.template.vmid : t.name === p.template.name));
  if (copies.length === 0) return `template ${p.template.kind === 'vmid' ? p.template.vmid : `'${p.template.name}'`} not found`;
  let best: { node: string; templateVmid: number; memoryBytes: number; free: number } | undefined;
  for (const nodeName of p.nodes) {
    const copy = copies.find((t) => t.node === nodeName);
    const node = obs.nodes.find((n) => n.name === nodeName);
    if (!copy || !node?.online) continue;
    const memoryBytes = p.memoryMb !== undefined ? p.memoryMb * MIB : copy.maxmemBytes;
    // A node's `mem` is what is in use now, and a fresh guest touches its memory only gradually:
    // what the running VMs may claim is the safer measure of what is taken.
    const committed = obs.vms.filter((v) => v.node === nodeName && v.status === 'running' && !v.template).reduce((n, v) => n + v.maxmemBytes, 0);
    const free = node.maxmemBytes - Math.max(node.memBytes, committed) - (reserved.get(nodeName) ?? 0);
    if (free < memoryBytes) continue;
    if (!best || free > best.free) best = { node: nodeName, templateVmid: copy.vmid, memoryBytes, free };
  }
  if (!best) return `no node of ${p.nodes.join(', ')} is online with the template and enough free memory`;
  return { node: best.node, templateVmid: best.templateVmid, memoryBytes: best.memoryBytes };
}
