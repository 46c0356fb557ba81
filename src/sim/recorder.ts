/**
 * What the simulator saw, for the report: requests per endpoint, tasks, VM lifecycle and peaks,
 * job timings, and any touch of something that was not ours to touch. Times are scenario ms.
 */
import { Timeline } from './timeline.js';

export type Side = 'github' | 'proxmox';

export interface RequestRecord {
  side: Side;
  endpoint: string; // `METHOD /path/{template}`
  status: number;
  countedAgainstRateLimit: boolean;
  notModified: boolean;
  /** `METHOD /path?query` as sent (GitHub side), for the request log */
  target?: string;
  /** answered as a secondary rate limit (GitHub side) */
  secondaryLimited?: boolean;
}

/** One request in the log kept with `keepRequests`: when (scenario ms) and what. */
export interface LoggedRequest extends RequestRecord {
  t: number;
}

export interface JobTimes {
  id: number;
  repo: string;
  labels: string[];
  queuedAt: number;
  /** the first answer to a jobs listing that showed it (the daemon polls; it is the only lister) */
  listedAt?: number;
  takenAt?: number;
  completedAt?: number;
  conclusion?: 'success' | 'failure' | 'cancelled';
  runnerName?: string;
  takenByForeign?: boolean;
}

export class Recorder {
  readonly requests = new Map<string, { side: Side; count: number; counted: number; notModified: number; errors: number }>();
  tasks = 0;
  taskFailures = 0;
  readonly jobs = new Map<number, JobTimes>();
  readonly foreignTouches: string[] = [];
  /** requests the official schemas refuse (PVE parameter verification, unserved methods, GitHub 422 "Invalid request") */
  readonly invalidRequests: string[] = [];
  readonly capViolations: string[] = [];
  /** GitHub's secondary limits: answers refused by them, and the peaks of one credential (sim/github/http/secondary-limit.ts) */
  readonly githubSecondary = { limited: 0, peakPointsPerMinute: 0, peakInFlight: 0 };
  vmsCreated = 0;
  vmsDestroyed = 0;
  private readonly live = new Map<number, string | undefined>(); // vmid → pool, once tagged
  peakTotal = 0;
  readonly peakByPool = new Map<string, number>();
  readonly events: Array<{ t: number; what: string }> = [];
  /** every request, in order, with `keepRequests` (tests counting requests per repository and minute) */
  readonly requestLog: LoggedRequest[] = [];
  /** each runner VM's moments, for the pickup breakdown */
  readonly timeline: Timeline;
  /** VMs per pool and in total after each change, for "waiting for capacity" */
  readonly counts: Array<{ tMs: number; total: number; pools: Record<string, number> }> = [];

  constructor(private readonly now: () => number, readonly caps?: { total?: number; pools: Record<string, number> }, private readonly keepEvents = false, private readonly keepRequests = false) {
    this.timeline = new Timeline(now);
  }

  request(r: RequestRecord): void {
    if (this.keepRequests) this.requestLog.push({ ...r, t: this.now() });
    const key = `${r.side} ${r.endpoint}`;
    const e = this.requests.get(key) ?? { side: r.side, count: 0, counted: 0, notModified: 0, errors: 0 };
    e.count++;
    if (r.countedAgainstRateLimit) e.counted++;
    if (r.notModified) e.notModified++;
    if (r.status >= 400) e.errors++;
    if (r.secondaryLimited) this.githubSecondary.limited++;
    this.requests.set(key, e);
  }

  task(ok: boolean, upid?: string): void {
    this.tasks++;
    if (!ok) this.taskFailures++;
    if (upid !== undefined) this.timeline.taskEnded(upid, ok);
  }

  /** A clone came into existence: it counts toward the total from this moment. */
  vmCreated(vmid: number): void {
    this.vmsCreated++;
    this.live.set(vmid, undefined);
    this.event(`vm ${vmid} created`);
    const total = this.live.size;
    this.count();
    this.peakTotal = Math.max(this.peakTotal, total);
    if (this.caps?.total !== undefined && total > this.caps.total) this.capViolations.push(`t=${this.now().toFixed(0)}ms total VMs ${total} > max_total_runners ${this.caps.total}`);
  }

  /** The VM got its `pvr-pool.<pool>` tag: it counts toward that pool from this moment. */
  vmPooled(vmid: number, pool: string): void {
    if (!this.live.has(vmid) || this.live.get(vmid) === pool) return;
    this.live.set(vmid, pool);
    this.event(`vm ${vmid} pooled ${pool}`);
    const inPool = [...this.live.values()].filter((p) => p === pool).length;
    this.count();
    this.timeline.vmPooled(vmid, pool);
    this.peakByPool.set(pool, Math.max(this.peakByPool.get(pool) ?? 0, inPool));
    const cap = this.caps?.pools[pool];
    if (cap !== undefined && inPool > cap) this.capViolations.push(`t=${this.now().toFixed(0)}ms pool ${pool} VMs ${inPool} > max_runners ${cap}`);
  }

  vmDestroyed(vmid: number): void {
    if (this.live.delete(vmid)) this.vmsDestroyed++;
    this.count();
    this.timeline.vmDestroyed(vmid);
    this.event(`vm ${vmid} destroyed`);
  }

  /** A person took the VM over: it no longer counts as pve-runners' (caps, leaks). */
  vmDisowned(vmid: number): void {
    this.live.delete(vmid);
    this.count();
    this.timeline.vmDestroyed(vmid);
    this.event(`vm ${vmid} disowned by a person (marks stripped)`);
  }

  invalidRequest(what: string): void {
    this.invalidRequests.push(`t=${this.now().toFixed(0)}ms ${what}`);
    this.event(`INVALID REQUEST ${what}`);
  }

  foreignTouched(what: string): void {
    this.foreignTouches.push(`t=${this.now().toFixed(0)}ms ${what}`);
    this.event(`FOREIGN TOUCH ${what}`);
  }

  jobQueued(id: number, repo: string, labels: string[]): void {
    this.jobs.set(id, { id, repo, labels, queuedAt: this.now() });
  }

  jobTaken(id: number, runnerName: string, foreign: boolean): void {
    const j = this.jobs.get(id);
    if (j) Object.assign(j, { takenAt: this.now(), runnerName, takenByForeign: foreign });
    this.timeline.runnerBusy(runnerName);
    this.event(`job ${id} taken by ${runnerName}`);
  }

  /** A jobs listing answered with these jobs in it. */
  jobsListed(ids: readonly number[]): void {
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j && j.listedAt === undefined) j.listedAt = this.now();
    }
  }

  jobCompleted(id: number, conclusion: 'success' | 'failure' = 'success'): void {
    const j = this.jobs.get(id);
    if (j) Object.assign(j, { completedAt: this.now(), conclusion });
    this.event(`job ${id} completed (${conclusion})`);
  }

  jobCancelled(id: number): void {
    const j = this.jobs.get(id);
    if (j) Object.assign(j, { completedAt: this.now(), conclusion: 'cancelled' });
    this.event(`job ${id} cancelled`);
  }

  private count(): void {
    const pools: Record<string, number> = {};
    for (const p of this.live.values()) if (p !== undefined) pools[p] = (pools[p] ?? 0) + 1;
    this.counts.push({ tMs: this.now(), total: this.live.size, pools });
  }

  event(what: string): void {
    if (this.keepEvents) this.events.push({ t: this.now(), what });
  }
}
