import type { PoolConfig } from '../config/types.js';
import { formatDuration } from '../util/duration.js';
import type { RemoveVmAction } from './actions.js';
import { key, sizesOf, unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { Want } from './demand.js';
import { runnerNameOfSnippet } from './names.js';
import type { ObservedVm } from './observation.js';

/**
 * Hot runners: the idle runners of a pool kept booted and registered in its hot scopes, so GitHub
 * hands a job to one the moment it is queued. Which idle runner is "hot" is not stored anywhere:
 * within each (pool, scope) the youngest idle runners, up to the scope's share of the hot count,
 * are kept; the rest follow idle_timeout like any other.
 */
export interface HotRunners {
  /** VMIDs exempt from idle_timeout */
  kept: ReadonlySet<number>;
  /** per (pool, scope) key: how many hot runners are wanted there */
  targets: ReadonlyMap<string, number>;
}

/** The pool's hot count spread over its hot scopes, the first scopes taking the remainder. */
export function hotTargets(ctx: PlanContext, pool: PoolConfig): Map<string, number> {
  const count = sizesOf(ctx, pool).hot;
  const scopes = pool.hotScopes;
  const out = new Map<string, number>();
  if (count <= 0 || scopes.length === 0) return out;
  scopes.forEach((s, i) => out.set(key(pool.name, s), Math.floor(count / scopes.length) + (i < count % scopes.length ? 1 : 0)));
  return out;
}

const isAging = (o: OwnedVm) => o.ageMs !== undefined && o.ageMs > o.pool.hotMaxAgeMs;

export function hotRunners(ctx: PlanContext, owned: readonly OwnedVm[]): HotRunners {
  const targets = new Map<string, number>();
  for (const p of ctx.pools) for (const [k, n] of hotTargets(ctx, p)) targets.set(k, n);
  const kept = new Set<number>();
  for (const [k, n] of targets) {
    // Past hot_max_age still counts while within the count: agedHotRunners replaces those one at a
    // time, where idle_timeout would take them all at once.
    const idle = owned.filter((o) => o.role === 'idle' && o.scope !== undefined && key(o.pool.name, o.scope) === k);
    idle.sort((a, b) => (a.ageMs ?? 0) - (b.ageMs ?? 0));
    for (const o of idle.slice(0, n)) kept.add(o.vm.vmid);
  }
  return { kept, targets };
}

/**
 * Hot runners past hot_max_age are replaced one at a time per (pool, scope): the oldest goes only
 * while no other runner of that scope is on its way, so the others keep serving meanwhile.
 */
export function agedHotRunners(ctx: PlanContext, owned: readonly OwnedVm[], hot: HotRunners): OwnedVm[] {
  const out: OwnedVm[] = [];
  for (const k of hot.targets.keys()) {
    const mine = owned.filter((o) => o.scope !== undefined && key(o.pool.name, o.scope) === k);
    // A removal under way (busy-op) may be the last replacement's predecessor: its successor is not made yet.
    const onItsWay = mine.some((o) => o.role === 'creating' || o.role === 'booting' || o.role === 'busy-op' || (o.role === 'locked' && o.vm.lock === 'clone')) || unlistedCreations(ctx).some((c) => !c.warm && key(c.pool, c.scope) === k);
    if (onItsWay) continue;
    const aged = mine.filter((o) => o.role === 'idle' && isAging(o)).sort((a, b) => (b.ageMs ?? 0) - (a.ageMs ?? 0));
    if (aged[0]) out.push(aged[0]);
  }
  return out;
}

export function hotAgeReason(o: OwnedVm): string {
  return `hot runner older than hot_max_age ${formatDuration(o.pool.hotMaxAgeMs)}: replaced so images and registrations stay fresh`;
}

/**
 * Whether a warm VM was cloned from a template that is no longer the pool's on its node: the
 * template was rebuilt (a new VMID, or the same VMID with a new creation time) or removed.
 */
export function staleWarm(ctx: PlanContext, o: OwnedVm): string | undefined {
  const warm = o.vm.meta?.warm;
  if (!warm) return undefined;
  const ref = o.pool.template;
  const copy = ctx.obs.vms.find((t: ObservedVm) => t.template && t.node === o.vm.node && (ref.kind === 'vmid' ? t.vmid === ref.vmid : t.name === ref.name));
  if (!copy) return `its template is gone from ${o.vm.node}`;
  if (copy.vmid !== warm.template) return `its template was rebuilt (now VMID ${copy.vmid}, cloned from ${warm.template})`;
  if (warm.stamp !== undefined && copy.stamp !== undefined && copy.stamp !== warm.stamp) return `its template ${copy.vmid} was rebuilt since it was cloned`;
  return undefined;
}

/**
 * Warm VMs of `pool` that may be started: ready, not stale, not being removed, and with nothing a
 * failed start left (a registration or snippet of its name, which this tick removes: starting it
 * now would race that cleanup).
 */
export function usableWarm(ctx: PlanContext, owned: readonly OwnedVm[], pool: PoolConfig, removing: ReadonlySet<number>): OwnedVm[] {
  const leftover = (o: OwnedVm) => ctx.ourRunners.has(o.vm.name) || (ctx.obs.snippets ?? []).some((s) => runnerNameOfSnippet(s.file) === o.vm.name);
  return owned.filter((o) => o.pool === pool && o.role === 'warm' && !removing.has(o.vm.vmid) && staleWarm(ctx, o) === undefined && !leftover(o)).sort((a, b) => a.vm.vmid - b.vm.vmid);
}

/** Removing a VM of ours: its registration goes first (a busy answer cancels the removal). */
export function removal(ctx: PlanContext, o: OwnedVm, reason: string): RemoveVmAction {
  const runner = o.runner && !ctx.obs.inFlight.deletingRunners.has(o.runner.id) ? { id: o.runner.id, scope: o.runner.scope } : undefined;
  return { kind: 'remove-vm', pool: o.pool.name, vmid: o.vm.vmid, node: o.vm.node, name: o.vm.name, running: o.vm.status === 'running', runner, scope: o.scope, reason };
}

/** Phase (after demand): hot runners to make so each hot scope has its share ready beyond the jobs queued there. */
export function hotWants(ctx: PlanContext, hot: HotRunners, spare: ReadonlyMap<string, number>): Want[] {
  const out: Want[] = [];
  for (const [k, target] of hot.targets) {
    const [poolName, scope] = k.split('\n') as [string, string];
    const pool = ctx.poolByName.get(poolName.toLowerCase())!;
    for (let n = spare.get(k) ?? 0; n < target; n++) out.push({ pool, scope, purpose: 'hot' });
  }
  return out;
}
