import type { Action, Plan } from './actions.js';
import { classifyVms } from './classify.js';
import { planContext, type PlanConfig } from './context.js';
import { creations } from './creation.js';
import { demandOf, uncovered } from './demand.js';
import type { Observation } from './observation.js';
import { registrationRemovals, snippetRemovals, vmRemovals } from './removals.js';
import { summarise } from './summary.js';

export type { PlanConfig } from './context.js';
export { freeVmid } from './creation.js';

/**
 * The decisions of one tick, from what it observed. Pure: no I/O, no clock, no randomness — the same
 * observation always gives the same plan. Each phase is a pure function of the context and of what
 * the phases before it decided:
 *   classify (whose VMs, doing what) → demand (jobs per pool and scope) → removals (VMs,
 *   registrations, snippets) → uncovered jobs (demand less supply) → creation (caps, VMIDs,
 *   placement) → summary.
 */
export function plan(cfg: PlanConfig, obs: Observation): Plan {
  const ctx = planContext(cfg, obs);
  const { owned, adopt, notes } = classifyVms(ctx);
  const demand = demandOf(ctx);
  const vms = vmRemovals(ctx, owned, demand);
  const wanted = uncovered(ctx, demand, owned, vms.removing);
  const created = creations(ctx, owned, wanted);
  const actions: Action[] = [...adopt, ...vms.actions, ...registrationRemovals(ctx), ...snippetRemovals(ctx), ...created.actions];
  notes.push(...created.notes);
  if (cfg.disableCleanup) notes.push('DISABLE_CLEANUP is set: nothing is removed');
  return { actions, pools: summarise(ctx, owned, demand, actions, created.limitedBy), unmatched: demand.unmatched, notes };
}
