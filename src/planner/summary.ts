import type { Action, PoolSummary } from './actions.js';
import { unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { Demand } from './demand.js';
import type { HotRunners } from './tiers.js';
import { sizesOf } from './context.js';

/** Phase: per pool, what the tick saw and decided (the INFO summary line and `status`). */
export function summarise(ctx: PlanContext, owned: readonly OwnedVm[], demand: Demand, hot: HotRunners, actions: readonly Action[], limitedBy: ReadonlyMap<string, string>): PoolSummary[] {
  const pending = unlistedCreations(ctx);
  return ctx.pools.map((p) => {
    const mine = owned.filter((o) => o.pool === p);
    const queued = [...demand.byKey.entries()].filter(([k]) => k.startsWith(`${p.name}\n`)).reduce((n, [, j]) => n + j.length, 0);
    return {
      pool: p.name,
      queued,
      idle: mine.filter((o) => o.role === 'idle').length,
      busy: mine.filter((o) => o.role === 'running-job').length,
      booting: mine.filter((o) => o.role === 'booting' || o.role === 'creating' || o.role === 'locked').length + pending.filter((c) => c.pool === p.name && !c.warm).length,
      hot: mine.filter((o) => hot.kept.has(o.vm.vmid)).length,
      warm: mine.filter((o) => o.role === 'warm').length,
      sizes: sizesOf(ctx, p),
      vms: mine.length,
      create: actions.filter((a) => a.kind === 'create' && a.pool === p.name).length,
      remove: actions.filter((a) => (a.kind === 'remove-vm' || a.kind === 'stop-vm') && a.pool === p.name).length,
      start: actions.filter((a) => a.kind === 'start-warm' && a.pool === p.name).length,
      limitedBy: limitedBy.get(p.name),
    };
  });
}
