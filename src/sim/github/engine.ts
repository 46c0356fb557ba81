/**
 * Workflow runs and their jobs, and GitHub's dispatch of queued jobs to runners: an idle online
 * runner takes the oldest queued job it serves and fits; a newly queued job goes to the fitting idle
 * runner that has been online longest. Jobs run for their duration, then (ephemeral runners) the
 * registration is removed and the guest is told it may power off.
 */
import type { SimContext } from '../contracts.js';
import type { Ids } from './ids.js';
import { labelsFit } from './labels.js';
import type { Job, JobConclusion, JobSpec, Run, Runner } from './model.js';
import type { Timers } from './timers.js';
import { DEFAULT_GROUP, type World } from './world.js';

export interface RunState {
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
}

/** A run's status and conclusion from its jobs (`total`: how many it will have, chained ones included). */
export function deriveRunState(jobs: readonly Pick<Job, 'status' | 'conclusion'>[], total: number): RunState {
  const all = jobs.length === total && jobs.every((j) => j.status === 'completed');
  if (all) {
    const c = jobs.map((j) => j.conclusion);
    const conclusion = c.includes('failure') ? 'failure' : c.includes('cancelled') ? 'cancelled' : 'success';
    return { status: 'completed', conclusion };
  }
  const started = jobs.some((j) => j.status !== 'queued');
  return { status: started ? 'in_progress' : 'queued', conclusion: null };
}

export class Engine {
  readonly runs = new Map<number, Run>();
  readonly jobs = new Map<number, Job>();
  /** queued jobs, oldest first */
  private queue: Job[] = [];
  private readonly runNumbers = new Map<string, number>();
  private readonly workflowIds = new Map<string, number>();
  /** told of each job's queued / in_progress / completed as it happens (the webhook deliveries) */
  onJob: ((job: Job, action: 'queued' | 'in_progress' | 'completed') => void) | undefined;

  constructor(private readonly ctx: SimContext, private readonly world: World, private readonly ids: Ids, private readonly timers: Timers) {}

  private now(): number {
    return this.ctx.clock.nowMs();
  }

  queueRun(repoName: string, workflow: string, specs: JobSpec[], chain: boolean): number {
    const repo = this.world.repoByFullName(repoName);
    if (!repo) throw new Error(`queueRun: repository '${repoName}' is not in the scenario`);
    if (specs.length === 0) throw new Error('queueRun: a run needs at least one job');
    const wfKey = `${repo.fullName.toLowerCase()}#${workflow}`;
    const runNumber = (this.runNumbers.get(wfKey) ?? 0) + 1;
    this.runNumbers.set(wfKey, runNumber);
    let workflowId = this.workflowIds.get(wfKey);
    if (workflowId === undefined) this.workflowIds.set(wfKey, (workflowId = this.ids.workflow()));
    const now = this.now();
    const run: Run = {
      id: this.ids.run(), repo, workflow, workflowId, runNumber, checkSuiteId: this.ids.checkSuite(), headSha: this.ids.sha(),
      chain, specs: specs.map((s) => ({ ...s, labels: [...s.labels] })), jobs: [], createdAtMs: now, updatedAtMs: now, startedAtMs: now,
    };
    this.runs.set(run.id, run);
    if (chain) this.createJob(run, 0);
    else run.specs.forEach((_, i) => this.createJob(run, i));
    return run.id;
  }

  /** True once every job of every run has completed (chained jobs included). */
  done(): boolean {
    for (const run of this.runs.values()) {
      if (run.jobs.length < run.specs.length) return false;
      if (run.jobs.some((j) => j.status !== 'completed')) return false;
    }
    return true;
  }

  /** The run's status and conclusion as GitHub derives them from its jobs. */
  runState(run: Run): RunState {
    return deriveRunState(run.jobs, run.specs.length);
  }

  /** The runner is online and idle: it takes the oldest queued job it serves and fits, if any. */
  runnerIdle(runner: Runner): void {
    if (runner.status !== 'online' || runner.busy) return;
    const job = this.queue.find((j) => this.world.serves(runner, j.run.repo) && labelsFit(j.spec.labels, runner.labels));
    if (job) this.start(job, runner);
  }

  /** The runner vanished (its VM is gone): it is offline, a job it was running fails. */
  runnerLost(runner: Runner): void {
    runner.status = 'offline';
    runner.onlineSinceMs = undefined;
    this.ctx.recorder.timeline.runnerOffline(runner.name);
    runner.session?.cancelConnect?.();
    runner.session = undefined;
    const job = runner.jobId !== undefined ? this.jobs.get(runner.jobId) : undefined;
    runner.busy = false;
    runner.jobId = undefined;
    this.world.lag.runnerChanged(runner);
    if (job && job.status === 'in_progress') {
      // The runner's VM went away under a job it had taken: what the daemon must never cause.
      this.ctx.recorder.event(`JOB KILLED: job ${job.id} lost its runner ${runner.name} (its VM stopped or vanished mid-job)`);
      this.finish(job, 'failure');
    }
  }

  private createJob(run: Run, index: number): Job {
    const spec = run.specs[index]!;
    const now = this.now();
    const job: Job = {
      id: this.ids.job(), run, name: run.specs.length > 1 ? `job-${index + 1}` : 'build', spec, status: 'queued', conclusion: null,
      createdAtMs: now, cancels: [],
    };
    run.jobs.push(job);
    run.updatedAtMs = now;
    this.jobs.set(job.id, job);
    this.world.lag.jobChanged(job);
    this.queue.push(job);
    this.ctx.recorder.jobQueued(job.id, run.repo.fullName, spec.labels);
    this.onJob?.(job, 'queued');
    if (spec.cancelAfterMs !== undefined) {
      job.cancels.push(this.timers.after(spec.cancelAfterMs, () => {
        if (job.status === 'queued') this.finish(job, 'cancelled');
      }));
    }
    if (spec.foreignAfterMs !== undefined) {
      job.cancels.push(this.timers.after(spec.foreignAfterMs, () => {
        if (job.status === 'queued') this.startOnStranger(job);
      }));
    }
    this.offer(job);
    return job;
  }

  /**
   * A new job goes to the fitting idle runner online longest (ours or somebody's laptop) — after
   * GitHub's dispatch delay (`github.timings.dispatch`, the same for every job, so jobs are handed
   * out in the order they were queued): the job must be assigned and the message reach the
   * runner's long poll. Meanwhile a runner coming online may take it first.
   */
  private offer(job: Job): void {
    const delay = this.ctx.scenario.github.timings.dispatchMs;
    if (delay <= 0) return this.offerNow(job);
    job.cancels.push(this.timers.after(delay, () => {
      if (job.status === 'queued') this.offerNow(job);
    }));
  }

  private offerNow(job: Job): void {
    let best: Runner | undefined;
    for (const r of this.world.runners.values()) {
      if (r.status !== 'online' || r.busy || !this.world.serves(r, job.run.repo) || !labelsFit(job.spec.labels, r.labels)) continue;
      if (!best || (r.onlineSinceMs ?? 0) < (best.onlineSinceMs ?? 0)) best = r;
    }
    if (best) this.start(job, best);
  }

  private start(job: Job, runner: Runner): void {
    runner.busy = true;
    runner.jobId = job.id;
    this.world.lag.runnerChanged(runner);
    this.begin(job, { id: runner.id, name: runner.name, group: runner.group, registered: true }, runner.foreign);
  }

  /* foreign_after: a runner the token cannot see (another org's, an enterprise's) takes the job. */
  private startOnStranger(job: Job): void {
    this.begin(job, { id: this.ids.runner(), name: `elsewhere-${this.ids.hex(6)}`, group: DEFAULT_GROUP, registered: false }, true);
  }

  private begin(job: Job, runner: NonNullable<Job['runner']>, foreign: boolean): void {
    this.queue = this.queue.filter((j) => j !== job);
    job.cancels.forEach((c) => c());
    job.cancels = [];
    const now = this.now();
    job.status = 'in_progress';
    job.startedAtMs = now;
    job.runner = runner;
    job.run.updatedAtMs = now;
    this.world.lag.jobChanged(job);
    this.ctx.recorder.jobTaken(job.id, runner.name, foreign);
    this.onJob?.(job, 'in_progress');
    job.cancels.push(this.timers.after(job.spec.durationMs, () => this.finish(job, 'success')));
  }

  private finish(job: Job, conclusion: JobConclusion): void {
    if (job.status === 'completed') return;
    this.queue = this.queue.filter((j) => j !== job);
    job.cancels.forEach((c) => c());
    job.cancels = [];
    const now = this.now();
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAtMs = now;
    if (!job.startedAtMs) job.startedAtMs = now;
    job.run.updatedAtMs = now;
    this.world.lag.jobChanged(job);
    if (conclusion === 'cancelled') this.ctx.recorder.jobCancelled(job.id);
    else this.ctx.recorder.jobCompleted(job.id, conclusion === 'failure' ? 'failure' : 'success');
    this.onJob?.(job, 'completed');
    this.advanceChain(job, conclusion);
    const runner = job.runner?.registered ? this.world.runners.get(job.runner.id) : undefined;
    if (runner && runner.jobId === job.id) this.release(runner, job, conclusion);
  }

  /* `needs:` — the next job is created when this one succeeds; after a failure the rest are skipped. */
  private advanceChain(job: Job, conclusion: JobConclusion): void {
    const run = job.run;
    if (!run.chain || run.jobs.length >= run.specs.length) return;
    if (conclusion === 'success') {
      this.createJob(run, run.jobs.length);
      return;
    }
    for (let i = run.jobs.length; i < run.specs.length; i++) {
      const now = this.now();
      const skipped: Job = {
        id: this.ids.job(), run, name: `job-${i + 1}`, spec: run.specs[i]!, status: 'completed', conclusion: 'skipped',
        createdAtMs: now, startedAtMs: now, completedAtMs: now, cancels: [],
      };
      run.jobs.push(skipped);
      this.jobs.set(skipped.id, skipped);
      this.world.lag.jobChanged(skipped);
    }
  }

  private release(runner: Runner, job: Job, conclusion: JobConclusion): void {
    runner.busy = false;
    runner.jobId = undefined;
    this.world.lag.runnerChanged(runner);
    if (!runner.ephemeral) {
      this.runnerIdle(runner);
      return;
    }
    // An ephemeral runner un-configures itself after its one job: the registration disappears.
    runner.status = 'offline';
    this.world.unregister(runner);
    const session = runner.session;
    runner.session = undefined;
    session?.onExit({ reason: 'job-done', jobId: job.id, conclusion: conclusion === 'skipped' ? 'success' : conclusion });
  }
}
