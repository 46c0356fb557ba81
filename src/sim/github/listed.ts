/**
 * Runs and jobs as GitHub's listings show them: each job as it was `lag.jobs` ago (see lag.ts), and
 * a run's status, conclusion and `updated_at` derived from those lagged jobs, so a run, its job list
 * and a single job always agree with one another, and an ETag changes only when what is shown does.
 */
import { deriveRunState, type RunState } from './engine.js';
import type { Lag } from './lag.js';
import type { Job, Run } from './model.js';

export interface ListedRun extends RunState {
  run: Run;
  jobs: Job[];
  updatedAtMs: number;
}

export class Listings {
  constructor(private readonly lag: Lag, private readonly nowMs: () => number) {}

  job(job: Job): Job | undefined {
    return this.lag.job(job);
  }

  /** The run as listed now, or undefined while it is too new to be listed. */
  run(run: Run): ListedRun | undefined {
    if (run.createdAtMs > this.nowMs() - this.lag.cfg.jobsMs) return undefined;
    const listed = run.jobs.map((j) => this.lag.job(j)).filter((j): j is NonNullable<typeof j> => j !== undefined);
    const updatedAtMs = Math.max(run.createdAtMs, ...listed.map((j) => j.listedAtMs));
    return { run, jobs: listed, updatedAtMs, ...deriveRunState(listed, run.specs.length) };
  }
}
