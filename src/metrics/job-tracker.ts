/**
 * Job pickup, job duration and boot-to-registered, from what the ticks list. Pickup is GitHub's own
 * `started_at − created_at` of a job one of our runners took — the wait a user sees on the job page —
 * observed once per job; its tier is hot when the runner was listed online before the job was
 * queued, warm when its VM was a warm VM started, else cold. Job duration is `completed_at −
 * started_at` when a listing shows the job completed, else until the first complete tick that no
 * longer lists it (its run ended between ticks). Boot-to-registered runs from the end of the VM's
 * start task to the first tick that lists its runner online or names it on a job.
 */
import type { PoolConfig } from '../config/types.js';
import { parseRunnerName } from '../planner/names.js';
import type { Observation } from '../planner/observation.js';
import type { ListedJob } from './recorder.js';

export type Tier = 'hot' | 'warm' | 'cold';

export interface JobObservers {
  pickup(pool: string, tier: Tier, seconds: number): void;
  job(pool: string, seconds: number): void;
  boot(pool: string, seconds: number): void;
}

export interface JobTrackerDeps {
  pools: readonly PoolConfig[];
  /** the daemon's clock (epoch ms) in GitHub's time: the same but in the demo, where it is the scenario's */
  wallTime: (now: number) => number;
  /** daemon ms × scale = GitHub ms (the demo's --speed) */
  scale: number;
  /** daemon clock when the process began: jobs started before it were counted by an earlier process */
  since: number;
  observe: JobObservers;
}

/* A job or VM not heard of for this long is forgotten: memory stays bounded over months. */
const FORGET_MS = 6 * 3600_000;

interface TrackedJob {
  pool: string;
  startedMs: number;
  done: boolean;
  seenAt: number;
}

export class JobTracker {
  private readonly jobs = new Map<number, TrackedJob>();
  private readonly listed = new Set<number>();
  private readonly onlineSince = new Map<string, number>();
  private readonly started = new Map<string, { pool: string; at: number }>();
  private readonly fromWarm = new Set<string>();
  private tickAt = 0;
  private readonly sinceWall: number;

  constructor(private readonly d: JobTrackerDeps) {
    this.sinceWall = d.wallTime(d.since);
  }

  vmStarted(pool: string, runner: string, fromWarm: boolean, at: number): void {
    this.started.set(runner, { pool, at });
    if (fromWarm) this.fromWarm.add(runner);
  }

  tickStarted(at: number): void {
    this.tickAt = at;
    this.listed.clear();
  }

  jobsListed(jobs: readonly ListedJob[], at: number): void {
    for (const j of jobs) {
      this.listed.add(j.id);
      if (j.status === 'queued' || !j.runnerName || !j.startedAt) continue;
      const pool = parseRunnerName(this.d.pools, j.runnerName)?.pool.name;
      if (!pool) continue; // a job someone else's runner took
      this.registered(j.runnerName, at);
      const startedMs = Date.parse(j.startedAt);
      const createdMs = Date.parse(j.createdAt);
      if (!Number.isFinite(startedMs) || !Number.isFinite(createdMs)) continue;
      let t = this.jobs.get(j.id);
      if (!t) {
        t = { pool, startedMs, done: startedMs < this.sinceWall, seenAt: at };
        this.jobs.set(j.id, t);
        if (!t.done) this.d.observe.pickup(pool, this.tierOf(j.runnerName, createdMs), Math.max(0, startedMs - createdMs) / 1000);
      }
      t.seenAt = at;
      const completedMs = j.completedAt ? Date.parse(j.completedAt) : NaN;
      if (j.status === 'completed' && !t.done && Number.isFinite(completedMs)) {
        t.done = true;
        this.d.observe.job(pool, Math.max(0, completedMs - startedMs) / 1000);
      }
    }
  }

  tickEnded(at: number, o: Observation): void {
    for (const r of o.runners) {
      if (r.status !== 'online') continue;
      if (!this.onlineSince.has(r.name)) this.onlineSince.set(r.name, this.tickAt);
      this.registered(r.name, this.tickAt);
    }
    // A job whose run ended between ticks leaves the listings: it ended by now.
    if (o.jobScopesFailed.length === 0) {
      for (const [id, t] of this.jobs) {
        if (t.done || this.listed.has(id)) continue;
        t.done = true;
        this.d.observe.job(t.pool, Math.max(0, this.d.wallTime(at) - t.startedMs) / 1000);
      }
    }
    const names = new Set([...o.vms.map((v) => v.name), ...o.runners.map((r) => r.name)]);
    for (const n of this.onlineSince.keys()) if (!names.has(n)) this.onlineSince.delete(n);
    for (const n of this.fromWarm) if (!names.has(n) && !this.started.has(n)) this.fromWarm.delete(n);
    for (const [n, s] of this.started) if (at - s.at > FORGET_MS / this.d.scale) this.started.delete(n);
    for (const [id, t] of this.jobs) if (t.done && at - t.seenAt > FORGET_MS / this.d.scale) this.jobs.delete(id);
  }

  /** how many jobs and runners it remembers (tests: memory stays bounded) */
  size(): number {
    return this.jobs.size + this.onlineSince.size + this.started.size + this.fromWarm.size;
  }

  private registered(runner: string, at: number): void {
    const s = this.started.get(runner);
    if (!s) return;
    this.started.delete(runner);
    this.d.observe.boot(s.pool, (Math.max(0, at - s.at) * this.d.scale) / 1000);
  }

  private tierOf(runner: string, createdMs: number): Tier {
    const online = this.onlineSince.get(runner);
    if (online !== undefined && this.d.wallTime(online) <= createdMs) return 'hot';
    return this.fromWarm.has(runner) ? 'warm' : 'cold';
  }
}
