import type { RemoveVmAction } from './actions.js';
import { unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { Creation } from './creation.js';
import type { Demand } from './demand.js';
import { removal } from './tiers.js';

/**
 * Phase: room for queued jobs that a cap kept from a runner. Hot runners are exempt from
 * idle_timeout and warm VMs never time out, so without this a pool full of idle runners in one
 * repository would starve a job of another: idle runners no queued job of theirs wants, and warm
 * VMs, are removed — one per capped job, counting the removals already under way — and the job gets
 * the capacity on a later tick (demand is planned before the pools are refilled).
 */
export function giveWay(ctx: PlanContext, owned: readonly OwnedVm[], demand: Demand, capped: Creation['capped'], removing: ReadonlySet<number>, started: ReadonlySet<number>): RemoveVmAction[] {
  if (!ctx.cleanup || capped.length === 0) return [];
  const pending = unlistedCreations(ctx);
  const full = (pool: string) => owned.filter((o) => o.pool.name === pool).length + pending.filter((c) => c.pool === pool).length >= ctx.poolByName.get(pool.toLowerCase())!.maxRunners;
  // VMs on their way out free their capacity soon: counted before anything else is removed.
  const leaving = owned.filter((o) => removing.has(o.vm.vmid) || o.role === 'busy-op');
  const victims = owned
    // never a warm VM this plan starts
    .filter((o) => !removing.has(o.vm.vmid) && !started.has(o.vm.vmid) && (o.role === 'warm' || (o.role === 'idle' && !demand.has(o.pool, o.scope))))
    // warm VMs first (no registration to undo), then the idle runners that have waited longest
    .sort((a, b) => Number(b.role === 'warm') - Number(a.role === 'warm') || (b.ageMs ?? 0) - (a.ageMs ?? 0));
  const out: RemoveVmAction[] = [];
  for (const c of capped) {
    const pool = c.want.pool;
    // Under max_total_runners another pool's VM makes room only if the job's own pool has some left.
    const fits = (o: OwnedVm) => o.pool === pool || (c.cap === 'total' && !full(pool.name));
    const free = leaving.findIndex(fits);
    if (free >= 0) {
      leaving.splice(free, 1);
      continue;
    }
    const i = victims.findIndex(fits);
    if (i < 0) continue;
    const [o] = victims.splice(i, 1);
    out.push(removal(ctx, o!, `makes room for queued job ${c.want.job!.id} (${c.want.job!.repo}), which ${c.cap === 'pool' ? `pool ${pool.name}'s max_runners ${pool.maxRunners}` : `max_total_runners ${ctx.cfg.maxTotalRunners}`} keeps waiting: ${o!.role === 'warm' ? 'warm VMs' : 'idle runners'} give way to queued jobs`));
  }
  return out;
}
