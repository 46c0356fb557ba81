import type { Action, Plan } from './actions.js';
import { classifyVms } from './classify.js';
import { planContext, type PlanConfig } from './context.js';
import { creations } from './creation.js';
import { demandOf, uncovered } from './demand.js';
import type { Observation } from './observation.js';
import { registrationRemovals, snippetRemovals, vmRemovals } from './removals.js';
import { summarise } from './summary.js';
import { giveWay } from './give-way.js';
import { drainRemovals } from './drain.js';
import { hotRunners, hotWants } from './tiers.js';

export type { PlanConfig } from './context.js';
export { freeVmid } from './creation.js';

/**
 * The decisions of one tick, from what it observed. Pure: no I/O, no clock, no randomness — the same
 * observation always gives the same plan (the sizes a schedule puts in force are part of the
 * observation). Each phase is a pure function of the context and of what the phases before it
 * decided:
 *   classify (whose VMs, doing what) → demand (jobs per pool and scope) → hot runners (which idle
 *   ones are kept) → removals (VMs, drained VMs no pool holds, registrations, snippets) → uncovered jobs (demand less supply)
 *   → hot refill → creation (warm VMs started first, then clones, within the caps; warm VMs topped
 *   up) → give way (idle and warm VMs removed for jobs a cap holds back) → summary.
 */
export function plan(cfg: PlanConfig, obs: Observation): Plan {
  const ctx = planContext(cfg, obs);
  const { owned, adopt, draining, notes } = classifyVms(ctx);
  const demand = demandOf(ctx);
  const hot = hotRunners(ctx, owned);
  const vms = vmRemovals(ctx, owned, demand, hot);
  const drained = drainRemovals(ctx, draining);
  const { wanted, spare } = uncovered(ctx, demand, owned, vms.removing);
  const created = creations(ctx, owned, [...wanted, ...hotWants(ctx, hot, spare)], vms.removing, draining.length);
  const surplus = cfg.disableCleanup ? [] : created.surplus;
  const gone = new Set([...vms.removing, ...surplus.map((a) => a.vmid)]);
  const yielded = giveWay(ctx, owned, demand, created.capped, gone, created.started);
  const actions: Action[] = [...adopt, ...vms.actions, ...drained.actions, ...surplus, ...yielded, ...registrationRemovals(ctx), ...snippetRemovals(ctx, draining, drained.removing), ...created.actions];
  notes.push(...created.notes);
  if (cfg.disableCleanup) notes.push('DISABLE_CLEANUP is set: nothing is removed');
  const drainingOut = draining.map((d) => ({ vmid: d.vm.vmid, node: d.vm.node, name: d.vm.name, pool: d.pool, state: drained.removing.has(d.vm.vmid) ? 'removing' : d.state, why: d.why }));
  return { actions, pools: summarise(ctx, owned, demand, hot, actions, created.limitedBy), unmatched: demand.unmatched, notes, draining: drainingOut, otherInstances: ctx.others };
}
