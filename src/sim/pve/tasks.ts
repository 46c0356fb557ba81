/**
 * Asynchronous PVE tasks (workers) with real-format UPIDs (pve-common PVE/UPID.pm):
 * `UPID:<node>:<pid 8hex>:<pstart 8hex>:<starttime 8hex>:<type>:<id>:<user>:`. A task is `running`
 * until it ends, then `stopped` with exitstatus `OK`, `WARNINGS: <n>` or the error text; every end
 * is recorded.
 */
import type { SimContext } from '../contracts.js';
import type { Rng } from '../rng.js';

export interface TaskInfo {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  /** epoch seconds it ended */
  endtime?: number;
  log: string[];
}

/**
 * What a worker does once it has run for its duration: returns normally (OK) or throws (error).
 * It may return warnings: each is logged as `WARN: <text>` (pve-common RESTEnvironment::warn, what
 * log_warn calls in a worker) and the task then ends `WARNINGS: <n>`, which PVE counts as success.
 */
export type TaskFinish = () => void | { warnings: string[]; log?: string[] };

/**
 * A worker that paces itself (waits on locks, shares a disk) instead of running a fixed duration:
 * it may add lines to its log, and calls `end()` when its work is over — `finish` then runs as for
 * a timed worker — or `end(error)` when it failed, having undone its work itself.
 */
export type TaskRun = (log: string[], end: (error?: string) => void) => void;

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

export class Tasks {
  private readonly tasks = new Map<string, TaskInfo>();
  private readonly rng: Rng;
  private pstart: number;
  /** task types whose workers may not end yet, and the ends waiting for that (tests only) */
  private readonly held = new Set<string>();
  private parked: Array<{ type: string; end: () => void }> = [];

  constructor(private readonly ctx: SimContext) {
    this.rng = ctx.rng.fork('pve-tasks');
    this.pstart = this.rng.int(1_000_000, 90_000_000);
  }

  get(upid: string): TaskInfo | undefined {
    return this.tasks.get(upid);
  }

  /** Every task of `node`, newest first (the order of the task index, read backwards). */
  onNode(node: string): TaskInfo[] {
    return [...this.tasks.values()].filter((t) => t.node === node).reverse();
  }

  /** Number of tasks not yet ended (for shutdown/settling). */
  running(): number {
    return [...this.tasks.values()].filter((t) => t.status === 'running').length;
  }

  /**
   * Forks a worker. `finish` runs after `durationMs` of scenario time (or once `run` ends it); what
   * it throws becomes the exitstatus. `failNow` ends the task at once with that error (checks a real worker makes first).
   */
  start(opts: { node: string; type: string; id: string | number; user: string; durationMs: number; log?: string[]; finish: TaskFinish; failNow?: string; run?: TaskRun }): string {
    const pid = this.rng.int(1000, 4_000_000);
    this.pstart += this.rng.int(1, 500);
    const starttime = Math.floor(this.ctx.clock.epochMs() / 1000);
    const upid = `UPID:${opts.node}:${hex8(pid)}:${hex8(this.pstart)}:${hex8(starttime)}:${opts.type}:${opts.id}:${opts.user}:`;
    const task: TaskInfo = { upid, node: opts.node, pid, pstart: this.pstart, starttime, type: opts.type, id: String(opts.id), user: opts.user, status: 'running', log: [...(opts.log ?? [])] };
    this.tasks.set(upid, task);
    if (opts.failNow !== undefined) {
      const reason = opts.failNow;
      this.ctx.clock.after(0, () => this.end(task, reason));
      return upid;
    }
    const complete = () => {
      try {
        const done = opts.finish();
        if (done && done.warnings.length > 0) {
          task.log.push(...(done.log ?? []), ...done.warnings.map((w) => `WARN: ${w}`));
          this.end(task, undefined, done.warnings.length);
        } else this.end(task, undefined);
      } catch (e) {
        this.end(task, (e as Error).message);
      }
    };
    if (opts.run) opts.run(task.log, (error) => this.unlessHeld(opts.type, () => (error === undefined ? complete() : this.end(task, error))));
    else this.ctx.clock.after(opts.durationMs, () => this.unlessHeld(opts.type, complete));
    return upid;
  }

  /**
   * Workers of `type` that reach their end stay `running` (their VM locked) until `release`:
   * a test that must meet a task in progress makes it so rather than racing its duration.
   */
  hold(type: string): void {
    this.held.add(type);
  }

  /** Ends, in order, every worker of `type` held past its duration; later ones end on time. */
  release(type: string): void {
    this.held.delete(type);
    const due = this.parked.filter((p) => p.type === type);
    this.parked = this.parked.filter((p) => p.type !== type);
    for (const p of due) p.end();
  }

  private unlessHeld(type: string, end: () => void): void {
    if (this.held.has(type)) this.parked.push({ type, end });
    else end();
  }

  private end(task: TaskInfo, error: string | undefined, warnings = 0): void {
    task.status = 'stopped';
    task.endtime = Math.floor(this.ctx.clock.epochMs() / 1000);
    // pve-common PVE/UPID.pm: the last log line is `TASK OK`, `TASK WARNINGS: <n>` or `TASK ERROR: <msg>`
    if (error !== undefined) {
      task.exitstatus = error;
      task.log.push(`TASK ERROR: ${error}`);
    } else if (warnings > 0) {
      task.exitstatus = `WARNINGS: ${warnings}`;
      task.log.push(`TASK WARNINGS: ${warnings}`);
    } else {
      task.exitstatus = 'OK';
      task.log.push('TASK OK');
    }
    this.ctx.recorder.task(error === undefined, task.upid);
  }
}
