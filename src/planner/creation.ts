import type { PoolConfig } from '../config/types.js';
import type { CreateAction, RemoveVmAction, StartWarmAction } from './actions.js';
import { sizesOf, unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { Want } from './demand.js';
import type { ObservedVm, Observation } from './observation.js';
import { removal, staleWarm, usableWarm } from './tiers.js';

const MIB = 1024 * 1024;

export interface Creation {
  actions: Array<CreateAction | StartWarmAction>;
  /** warm VMs beyond the size in force */
  surplus: RemoveVmAction[];
  /** per pool: why fewer runners are made than jobs wait */
  limitedBy: Map<string, string>;
  /** queued jobs a cap kept from a runner, per pool and cap (the give-way phase makes room for them) */
  capped: Array<{ want: Want; cap: 'pool' | 'total' }>;
  /** warm VMs this plan starts: nothing else may act on them in the same plan */
  started: Set<number>;
  notes: string[];
}

/**
 * Phase: a runner per want — jobs oldest first, then hot runners to top up — started from a warm
 * VM of the pool when one fits its node, else cloned, as far as the caps (max_total_runners, each
 * pool's max_runners), the free VMIDs of the pool's range and the nodes' free memory allow. Then
 * each pool's warm VMs are brought to the size in force, with what capacity is left.
 */
export function creations(ctx: PlanContext, owned: readonly OwnedVm[], wanted: readonly Want[], removing: ReadonlySet<number>, draining = 0): Creation {
  const { cfg, obs } = ctx;
  const out: Creation = { actions: [], surplus: [], limitedBy: new Map(), capped: [], started: new Set(), notes: [] };
  const pending = unlistedCreations(ctx);

  const poolCount = new Map<string, number>();
  const count = (pool: string) => poolCount.set(pool, (poolCount.get(pool) ?? 0) + 1);
  for (const o of owned) count(o.pool.name);
  for (const c of pending) count(c.pool);
  // Drained VMs (no pool's any more) still load the cluster: they count against max_total_runners.
  let total = [...poolCount.values()].reduce((a, b) => a + b, 0) + draining;

  const usedVmids = new Set<number>([...obs.vms.map((v) => v.vmid), ...ctx.creatingByVmid.keys(), ...obs.hiddenVmids.keys()]);
  const reserved = new Map<string, number>(); // node → bytes promised to VMs not yet running
  const reserve = (node: string, bytes: number) => reserved.set(node, (reserved.get(node) ?? 0) + bytes);
  for (const c of obs.inFlight.creating) if (!c.warm) reserve(c.node, c.memoryBytes);
  const templates = obs.vms.filter((v) => v.template);
  const warmLeft = new Map(ctx.pools.map((p) => [p.name, usableWarm(ctx, owned, p, removing)]));

  const stoppedVms = owned.filter((o) => o.role === 'stopped');
  const paused = cfg.pauseOnStopped && stoppedVms.length > 0;
  if (paused && wanted.length > 0) {
    out.notes.push(`PAUSE_ON_STOPPED: creating nothing while runner VMs are stopped (${stoppedVms.map((o) => o.vm.vmid).join(', ')})`);
    for (const w of wanted) out.limitedBy.set(w.pool.name, 'PAUSE_ON_STOPPED');
  }
  /** Why nothing more can be made for `p`, or undefined; 'total'/'pool' name a cap. */
  const capOf = (p: PoolConfig): { why: string; cap?: 'pool' | 'total' } | undefined => {
    if (cfg.maxTotalRunners > 0 && total >= cfg.maxTotalRunners) return { why: `max_total_runners ${cfg.maxTotalRunners}`, cap: 'total' };
    if ((poolCount.get(p.name) ?? 0) >= p.maxRunners) return { why: `max_runners ${p.maxRunners}`, cap: 'pool' };
    return undefined;
  };
  /** A new clone of `p`'s template, or why not. */
  const clone = (p: PoolConfig): { vmid: number; node: string; templateVmid: number; templateStamp?: string; memoryBytes: number } | string => {
    const vmid = freeVmid(p, usedVmids, obs.inFlight.recentlyFreed, obs.now, cfg.vmidCooldownMs);
    if (vmid === undefined) return `no free VMID in ${p.vmidRange.lo}-${p.vmidRange.hi}`;
    const placement = place(p, templates, obs, reserved);
    if (typeof placement === 'string') return placement;
    usedVmids.add(vmid);
    count(p.name);
    total++;
    return { vmid, ...placement };
  };

  // Another live instance creates in these pools: a VM from us too would put them past the caps.
  for (const [name, other] of ctx.standingDown) out.limitedBy.set(name, `another pve-runners instance '${other.id}' live in its VMID range`);
  const capKind = new Map<string, 'pool' | 'total'>();
  /** a job a cap holds back, if a clone for it could be placed but for the cap: only then is room worth making */
  const holdBack = (w: Want, cap: 'pool' | 'total') => {
    if (w.purpose === 'job' && placeable(w.pool)) out.capped.push({ want: w, cap });
  };
  const placeable = (p: PoolConfig) => freeVmid(p, usedVmids, obs.inFlight.recentlyFreed, obs.now, cfg.vmidCooldownMs) !== undefined && typeof place(p, templates, obs, reserved) !== 'string';
  for (const w of wanted) {
    const p = w.pool;
    if (ctx.standingDown.has(p.name)) continue;
    const why = w.purpose === 'job' ? `job ${w.job!.id} (${w.job!.repo}, ${w.job!.name}) is queued and no idle or booting runner of pool ${p.name} covers it` : `pool ${p.name} keeps ${sizesOf(ctx, p).hot} hot runner(s) and ${w.scope} has fewer ready`;
    // A warm VM is already counted against the caps: starting it needs none of their room.
    const warm = paused ? undefined : takeWarm(p, warmLeft.get(p.name)!, obs, reserved);
    if (!warm && out.limitedBy.has(p.name)) {
      const kind = capKind.get(p.name);
      if (kind) holdBack(w, kind);
      continue;
    }
    if (warm) {
      reserve(warm.o.vm.node, warm.memoryBytes);
      out.started.add(warm.o.vm.vmid);
      out.actions.push({ kind: 'start-warm', purpose: w.purpose, pool: p.name, scope: w.scope, vmid: warm.o.vm.vmid, node: warm.o.vm.node, name: warm.o.vm.name, memoryBytes: warm.memoryBytes, forJob: w.job?.id, reason: `${why}: starting warm VM` });
      continue;
    }
    const cap = capOf(p);
    if (cap) {
      const limited = cap.cap === 'total' ? wanted.map((x) => x.pool.name) : [p.name];
      for (const name of limited) {
        if (out.limitedBy.has(name)) continue;
        out.limitedBy.set(name, cap.why);
        capKind.set(name, cap.cap!);
      }
      holdBack(w, cap.cap!);
      continue;
    }
    const made = clone(p);
    if (typeof made === 'string') {
      out.limitedBy.set(p.name, made);
      continue;
    }
    reserve(made.node, made.memoryBytes);
    out.actions.push({ kind: 'create', purpose: w.purpose, pool: p.name, scope: w.scope, ...made, forJob: w.job?.id, reason: why });
  }

  for (const p of ctx.pools) {
    const target = sizesOf(ctx, p).warm;
    const left = warmLeft.get(p.name)!;
    // warm VMs kept from starting this tick only while a failed start's leftovers are removed: still warm
    const waiting = owned.filter((o) => o.pool === p && o.role === 'warm' && !removing.has(o.vm.vmid) && !out.started.has(o.vm.vmid) && !left.includes(o) && staleWarm(ctx, o) === undefined).length;
    // a warm VM under someone's lock (a backup) is still one: not replaced while the lock lasts
    const warming = waiting + owned.filter((o) => o.pool === p && (o.role === 'warming' || (o.role === 'locked' && o.vm.meta?.warm !== undefined))).length + pending.filter((c) => c.pool === p.name && c.warm).length;
    // Oldest first: the one most likely to be behind its template goes first.
    for (const o of [...left].sort((a, b) => (b.ageMs ?? 0) - (a.ageMs ?? 0)).slice(0, Math.max(0, left.length + warming - target))) {
      out.surplus.push(removal(ctx, o, `warm VMs above the ${target} pool ${p.name} keeps now`));
    }
    if (paused || ctx.standingDown.has(p.name)) continue;
    for (let n = left.length + warming; n < target; n++) {
      const limit = out.limitedBy.get(p.name) ?? capOf(p)?.why;
      const made = limit ?? clone(p);
      if (typeof made === 'string') {
        out.notes.push(`pool ${p.name} keeps ${n} of ${target} warm VMs: ${made}`);
        break;
      }
      out.actions.push({ kind: 'create', purpose: 'warm', pool: p.name, scope: '', ...made, reason: `pool ${p.name} keeps ${target} warm VM(s) and has ${n}` });
    }
  }
  return out;
}

/** The first warm VM whose node is online and has the memory to start it; taken off `left`. */
function takeWarm(p: PoolConfig, left: OwnedVm[], obs: Observation, reserved: ReadonlyMap<string, number>): { o: OwnedVm; memoryBytes: number } | undefined {
  const memoryOf = (o: OwnedVm) => (p.memoryMb !== undefined ? p.memoryMb * MIB : o.vm.maxmemBytes);
  const i = left.findIndex((o) => {
    const node = obs.nodes.find((n) => n.name === o.vm.node);
    return node?.online === true && deliverable(p, node) && freeMemory(node, obs, reserved) >= memoryOf(o);
  });
  if (i < 0) return undefined;
  const o = left.splice(i, 1)[0]!;
  return { o, memoryBytes: memoryOf(o) };
}

/** A node the pool's snippets can reach: SFTP delivery skips a node it cannot upload to, as an offline one. */
function deliverable(p: PoolConfig, node: Observation['nodes'][number]): boolean {
  return p.delivery !== 'sftp' || node.sftpDown === undefined;
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

/**
 * A node's `mem` is what is in use now, and a fresh guest touches its memory only gradually: what
 * the running VMs may claim is the safer measure of what is taken.
 */
function freeMemory(node: Observation['nodes'][number], obs: Observation, reserved: ReadonlyMap<string, number>): number {
  const committed = obs.vms.filter((v) => v.node === node.name && v.status === 'running' && !v.template).reduce((n, v) => n + v.maxmemBytes, 0);
  return node.maxmemBytes - Math.max(node.memBytes, committed) - (reserved.get(node.name) ?? 0);
}

/** The node with the most free memory among the pool's nodes that hold a copy of its template. */
function place(p: PoolConfig, templates: readonly ObservedVm[], obs: Observation, reserved: ReadonlyMap<string, number>): { node: string; templateVmid: number; templateStamp?: string; memoryBytes: number } | string {
  const copies = templates.filter((t) => (p.template.kind === 'vmid' ? t.vmid === p.template.vmid : t.name === p.template.name));
  if (copies.length === 0) return `template ${p.template.kind === 'vmid' ? p.template.vmid : `'${p.template.name}'`} not found`;
  let best: { node: string; templateVmid: number; templateStamp?: string; memoryBytes: number; free: number } | undefined;
  for (const nodeName of p.nodes) {
    const copy = copies.find((t) => t.node === nodeName);
    const node = obs.nodes.find((n) => n.name === nodeName);
    if (!copy || !node?.online || !deliverable(p, node)) continue;
    const memoryBytes = p.memoryMb !== undefined ? p.memoryMb * MIB : copy.maxmemBytes;
    const free = freeMemory(node, obs, reserved);
    if (free < memoryBytes) continue;
    if (!best || free > best.free) best = { node: nodeName, templateVmid: copy.vmid, ...(copy.stamp !== undefined ? { templateStamp: copy.stamp } : {}), memoryBytes, free };
  }
  if (!best) {
    const down = p.delivery === 'sftp' ? obs.nodes.filter((n) => p.nodes.includes(n.name) && n.sftpDown !== undefined).map((n) => `${n.name}: ${n.sftpDown}`) : [];
    return `no node of ${p.nodes.join(', ')} is online with the template and enough free memory${down.length ? ` and reachable over SFTP (${down.join('; ')})` : ''}`;
  }
  const { free: _free, ...placement } = best;
  return placement;
}
