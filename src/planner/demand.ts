import type { PoolConfig } from '../config/types.js';
import { selectPool } from '../config/labels.js';
import type { Plan } from './actions.js';
import { key, unlistedCreations, type OwnedVm, type PlanContext } from './context.js';
import type { ObservedJob } from './observation.js';

export interface Demand {
  /** queued jobs per (pool, scope) key, oldest first */
  byKey: ReadonlyMap<string, readonly ObservedJob[]>;
  unmatched: Plan['unmatched'];
  /** whether a runner of `pool` in `scope` may still be wanted (unknown demand counts as some) */
  has(pool: PoolConfig, scope: string | undefined): boolean;
}

/** A runner wanted: for a job no runner of ours covers yet, or to keep a pool's hot runners. */
export interface Want {
  pool: PoolConfig;
  scope: string;
  purpose: 'job' | 'hot';
  /** the job, for purpose 'job' */
  job?: ObservedJob;
}

export interface Uncovered {
  /** oldest job first */
  wanted: Want[];
  /** per (pool, scope) key: runners on their way or waiting that no queued job takes */
  spare: ReadonlyMap<string, number>;
}

const byAge = (a: ObservedJob, b: ObservedJob) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id;

/** Phase: the queued jobs each pool must serve, per scope, oldest first. */
export function demandOf(ctx: PlanContext): Demand {
  const byKey = new Map<string, ObservedJob[]>();
  const unmatched: Plan['unmatched'] = [];
  for (const job of [...ctx.obs.jobs].sort(byAge)) {
    const pool = selectPool(ctx.pools, job.labels);
    if (!pool) {
      unmatched.push({ id: job.id, repo: job.repo, labels: job.labels });
      continue;
    }
    const k = key(pool.name, job.scope);
    byKey.set(k, [...(byKey.get(k) ?? []), job]);
  }
  const failed = ctx.obs.jobScopesFailed;
  return {
    byKey,
    unmatched,
    has: (pool, scope) => scope === undefined || (byKey.get(key(pool.name, scope))?.length ?? 0) > 0 || failed.includes(scope),
  };
}

/**
 * Phase: the jobs not covered by runners on their way or waiting (per pool and scope), oldest first
 * overall. `removing` are VMs this plan removes: they cover nothing.
 */
export function uncovered(ctx: PlanContext, demand: Demand, owned: readonly OwnedVm[], removing: ReadonlySet<number>): Uncovered {
  const supply = new Map<string, number>();
  const add = (k: string) => supply.set(k, (supply.get(k) ?? 0) + 1);
  for (const o of owned) {
    if (o.scope === undefined || removing.has(o.vm.vmid)) continue;
    // 'unknown': running, but its registration could not be checked this tick; counting it errs
    // towards creating one VM too few for a tick rather than one too many.
    if (o.role === 'creating' || o.role === 'booting' || o.role === 'idle' || o.role === 'unknown' || (o.role === 'locked' && o.vm.lock === 'clone')) add(key(o.pool.name, o.scope));
  }
  for (const c of unlistedCreations(ctx)) if (!c.warm) add(key(c.pool, c.scope));

  const wanted: Want[] = [];
  const spare = new Map(supply);
  for (const [k, jobs] of demand.byKey) {
    const covered = supply.get(k) ?? 0;
    spare.set(k, Math.max(0, covered - jobs.length));
    const pool = ctx.poolByName.get(k.slice(0, k.indexOf('\n')).toLowerCase())!;
    for (const job of jobs.slice(covered)) wanted.push({ pool, scope: job.scope, purpose: 'job', job });
  }
  return { wanted: wanted.sort((a, b) => byAge(a.job!, b.job!)), spare };
}
