/**
 * GitHub's listings show the world some seconds late: a job still `queued` after a runner took it, a
 * runner idle (or offline) after it took a job, a deleted runner still listed. Every change to what
 * a listing shows of a job or a runner is recorded with its time, and a read at `now` shows each
 * object as it was at `now - lag` (an object made after that is not shown yet). Only reads lag:
 * mutations and the checks they make (DELETE of a busy runner, a JIT name conflict) see the live
 * state. Evidence and choices: docs/simulator.md, "Listing lag".
 */
import type { SimClock } from '../clock.js';
import type { Job, Runner } from './model.js';

/** What a listing shows of a job. */
export type JobState = Pick<Job, 'status' | 'conclusion' | 'startedAtMs' | 'completedAtMs' | 'runner'>;
/** What a listing shows of a runner. */
export type RunnerState = Pick<Runner, 'status' | 'busy' | 'version'>;

export interface LagConfig {
  jobsMs: number;
  runnersMs: number;
  runnerDeletionMs: number;
}

/** The states an object went through, oldest first; only as far back as a lagged read can look. */
class History<S> {
  private readonly entries: Array<{ at: number; state: S }> = [];

  constructor(private readonly horizonMs: number) {}

  record(at: number, state: S): void {
    this.entries.push({ at, state });
    // Keep the newest entry at or before the horizon: it is what a read at the horizon shows.
    while (this.entries.length > 1 && this.entries[1]!.at <= at - this.horizonMs) this.entries.shift();
  }

  /** The state shown at time `t` (with its time), or undefined when the object did not exist yet. */
  at(t: number): { at: number; state: S } | undefined {
    let found: { at: number; state: S } | undefined;
    for (const e of this.entries) {
      if (e.at > t) break;
      found = e;
    }
    return found;
  }
}

export class Lag {
  private readonly jobs = new WeakMap<Job, History<JobState>>();
  private readonly runners = new WeakMap<Runner, History<RunnerState>>();
  /** deleted registrations, still listed until `until` (scenario ms) */
  private readonly departed = new Map<number, { runner: Runner; until: number }>();

  constructor(readonly cfg: LagConfig, private readonly clock: SimClock) {}

  private now(): number {
    return this.clock.nowMs();
  }

  /** Call after every change to a job's status, conclusion, times or runner (and at its creation). */
  jobChanged(job: Job): void {
    let h = this.jobs.get(job);
    if (!h) this.jobs.set(job, (h = new History(this.cfg.jobsMs)));
    h.record(this.now(), { status: job.status, conclusion: job.conclusion, startedAtMs: job.startedAtMs, completedAtMs: job.completedAtMs, runner: job.runner && { ...job.runner } });
  }

  /** Call after every change to a runner's status, busy flag or version (and at its registration). */
  runnerChanged(runner: Runner): void {
    let h = this.runners.get(runner);
    if (!h) this.runners.set(runner, (h = new History(this.cfg.runnersMs)));
    h.record(this.now(), { status: runner.status, busy: runner.busy, version: runner.version });
  }

  /** The registration was deleted: listings keep showing it for `runner_deletion`. */
  runnerDeleted(runner: Runner): void {
    this.runnerChanged(runner);
    this.departed.set(runner.id, { runner, until: this.now() + this.cfg.runnerDeletionMs });
  }

  /** The job as listings show it now, or undefined while it is too new to be listed. */
  job(job: Job): (Job & { listedAtMs: number }) | undefined {
    const seen = this.jobs.get(job)?.at(this.now() - this.cfg.jobsMs);
    return seen && { ...job, ...seen.state, listedAtMs: seen.at };
  }

  /** The runner as listings show it now, or undefined while it is too new to be listed. */
  runner(runner: Runner): Runner | undefined {
    const seen = this.runners.get(runner)?.at(this.now() - this.cfg.runnersMs);
    return seen && { ...runner, ...seen.state };
  }

  /** Registrations deleted recently enough to be still listed. */
  stillListed(): Runner[] {
    const now = this.now();
    for (const [id, d] of this.departed) if (d.until <= now) this.departed.delete(id);
    return [...this.departed.values()].map((d) => d.runner);
  }
}
