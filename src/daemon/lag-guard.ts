/**
 * GitHub's job listing can lag its runner listing: a runner of ours is already listed busy while
 * the job it took is still listed `queued`. Counted as demand, that job would get a second VM. So a
 * busy runner of ours that no listed job has ever named is taken to be running one of the jobs still
 * listed queued for its pool and scope (the oldest: GitHub hands out the oldest first), and that job
 * is left out of the demand, until the job listing catches up and names the runner.
 *
 * When the runner's job is not listed at all yet (a brand-new run), the job left out is a real one
 * waiting: it gets its VM a little later (the listing's lag), never a VM too many.
 */
import { selectPool } from '../config/labels.js';
import type { PoolConfig } from '../config/types.js';
import { parseRunnerName } from '../planner/names.js';
import type { ObservedJob, ObservedRunner } from '../planner/observation.js';

export interface LagGuardInput {
  jobs: readonly ObservedJob[];
  runners: readonly ObservedRunner[];
  /** scopes whose runner listing loaded this tick */
  runnerScopes: readonly string[];
  /** runner names that listed jobs (in progress or done) name: their job is accounted for */
  namedByJobs: ReadonlySet<string>;
}

export class LagGuard {
  /** our runners some listed job has named: their job is visible, they explain no queued one */
  private readonly named = new Set<string>();

  constructor(private pools: readonly PoolConfig[]) {}

  /** A reload: the pools from the next tick on (what it learnt of named runners stays true). */
  setPools(pools: readonly PoolConfig[]): void {
    this.pools = pools;
  }

  /** The jobs to count as demand, and which were left out (with the runner that explains each). */
  apply(i: LagGuardInput): { jobs: ObservedJob[]; leftOut: Array<{ job: ObservedJob; runner: string }> } {
    for (const n of i.namedByJobs) this.named.add(n);
    const loaded = new Set(i.runnerScopes);
    const listed = new Set(i.runners.map((r) => r.name));
    for (const n of this.named) if (!listed.has(n)) this.named.delete(n);
    const jobs = [...i.jobs].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
    // per scope, oldest first: each busy runner looks only at its own scope's jobs (not all of them)
    const byScope = new Map<string, ObservedJob[]>();
    for (const j of jobs) {
      const list = byScope.get(j.scope);
      if (list) list.push(j);
      else byScope.set(j.scope, [j]);
    }
    const leftOut: Array<{ job: ObservedJob; runner: string }> = [];
    for (const r of i.runners) {
      if (!loaded.has(r.scope) || r.status !== 'online' || !r.busy || this.named.has(r.name)) continue;
      const pool = parseRunnerName(this.pools, r.name)?.pool;
      if (!pool) continue;
      const candidates = byScope.get(r.scope) ?? [];
      const idx = candidates.findIndex((j) => selectPool(this.pools, j.labels) === pool);
      if (idx < 0) continue;
      leftOut.push({ job: candidates[idx]!, runner: r.name });
      candidates.splice(idx, 1);
    }
    if (leftOut.length === 0) return { jobs, leftOut };
    const out = new Set(leftOut.map((l) => l.job));
    return { jobs: jobs.filter((j) => !out.has(j)), leftOut };
  }
}
