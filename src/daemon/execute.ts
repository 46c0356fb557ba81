import PQueue from 'p-queue';
import type { Clock } from '../clock.js';
import type { Config, PoolConfig } from '../config/types.js';
import type { GithubApi } from '../github/api.js';
import { describeScope, parseScopeKey } from '../github/scope.js';
import type { Logger } from '../log.js';
import type { InstanceConfig } from '../planner/instance.js';
import type { Action } from '../planner/actions.js';
import { runnerName } from '../planner/names.js';
import type { InFlight } from '../planner/observation.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import type { SnippetStore } from '../snippets/store.js';
import type { CloneSlotLimits } from './clone-slots.js';
import { Creator, Skipped } from './create-vm.js';
import { ExecutorState } from './executor-state.js';
import type { ExecutorMetrics } from '../metrics/recorder.js';
import type { HiddenVmids } from './hidden-vmids.js';
import type { PermissionLog } from './permission-log.js';
import { ProxmoxSteps } from './proxmox-steps.js';
import type { Timings } from './timings.js';
import { VmChanges } from './vm-changes.js';

export interface ExecutorDeps {
  config: Config;
  github: GithubApi;
  githubApiUrl: string;
  proxmox: ProxmoxApi;
  /** resource pool for new VMs (PROXMOX_POOL) */
  proxmoxPool?: string;
  snippets: SnippetStore;
  clock: Clock;
  log: Logger;
  timings: Timings;
  /** 4 random [a-z0-9] for runner names */
  suffix: () => string;
  /** actions at once; clones are further limited per storage lock (see clone-slots.ts) */
  concurrency?: number;
  cloneSlots?: CloneSlotLimits;
  /** VMIDs taken by VMs the token cannot see (shared with the observer) */
  hidden?: HiddenVmids;
  /** Called with each registration secret as soon as it exists, so the logger can redact it. */
  onSecret?: (secret: string) => void;
  /** says once what GitHub permission a refused call lacks */
  permissions?: PermissionLog;
  /** told how each action, clone and VM start went */
  metrics?: ExecutorMetrics;
  /** this installation's id, written into every VM it makes; a VM of another live instance is never changed */
  instance?: InstanceConfig;
}


export interface ActionOutcome {
  action: Action;
  ok: boolean;
  detail?: string;
}

/**
 * Carries out planned actions with bounded concurrency. Every step that fails leaves state the next
 * tick can read — a tagged stopped VM, an offline registration with no VM, a snippet with no VM — and
 * the planner removes it; nothing half-made is only known to this process.
 */
export class Executor {
  private readonly queue: PQueue;
  /**
   * Clones wait for a slot of their storage lock (clone-slots.ts), for minutes behind full clones:
   * they queue apart, so warm starts and removals never wait behind them for an action slot.
   */
  private readonly clones: PQueue;
  private readonly s: ExecutorState;
  private readonly creator: Creator;
  private readonly changes: VmChanges;
  private readonly outcomes: ActionOutcome[] = [];
  private accepting = true;

  constructor(private readonly d: ExecutorDeps) {
    this.queue = new PQueue({ concurrency: d.concurrency ?? 8 });
    this.clones = new PQueue({ concurrency: 4 * (d.concurrency ?? 8) });
    this.s = new ExecutorState(d.timings);
    const steps = new ProxmoxSteps(d);
    this.changes = new VmChanges(d, this.s, steps, (a) => this.meta(a));
    this.creator = new Creator(d, this.s, steps, this.changes);
  }

  /**
   * What this process has under way — and, with `since`, also the creations that ended after it: a
   * tick passes its start time, so work that finished while it was observing is not mistaken for
   * something nobody made.
   */
  inFlight(since?: number): InFlight {
    return this.s.snapshot(this.d.clock.now(), since);
  }

  /**
   * A reload: actions started from now on look their pool up in `config` (the parts below share
   * these deps). What is under way keeps going; a creation for a removed pool is drained later.
   */
  reconfigure(config: Config): void {
    this.d.config = config;
  }

  /** Forgets VMs a person took over once they no longer exist. */
  pruneDisowned(liveVmids: ReadonlySet<number>): void {
    for (const id of this.s.disowned) if (!liveVmids.has(id)) this.s.disowned.delete(id);
  }

  /** Runner names seen online; kept only while their VM exists. */
  noteOnline(names: Iterable<string>, liveVmNames: ReadonlySet<string>): void {
    for (const n of names) this.s.seenOnline.add(n);
    for (const n of this.s.seenOnline) if (!liveVmNames.has(n)) this.s.seenOnline.delete(n);
  }

  /** The clone tasks this process started and is awaiting: a running clone task not among them is unexplained. */
  cloneTasks(): ReadonlySet<string> {
    return new Set(this.s.cloneUpids);
  }

  /** `cb` runs whenever a VM has been destroyed: capacity for waiting jobs may be free now. */
  onFreed(cb: () => void): void {
    this.s.freedListeners.push(cb);
  }

  get pending(): number {
    return this.queue.size + this.queue.pending + this.clones.size + this.clones.pending;
  }

  /** What finished since the last call (for the tick summary). */
  drainOutcomes(): ActionOutcome[] {
    return this.outcomes.splice(0);
  }

  /** Starts the actions; they run on after the tick. Nothing new is accepted after stop(). */
  submit(actions: readonly Action[]): void {
    if (!this.accepting) return;
    for (const a of actions) {
      // Claim what the action works on now, so the next plan sees it even before the queue runs it.
      if (a.kind === 'create') {
        // The name is fixed now, so the next plan knows the registration and snippet to come.
        const name = runnerName(this.pool(a.pool), a.vmid, this.d.suffix());
        this.s.creating.set(a.vmid, { pool: a.pool, scope: a.scope, vmid: a.vmid, node: a.node, runnerName: name, memoryBytes: a.memoryBytes, ...(a.purpose === 'warm' ? { warm: true } : {}) });
      }
      if (a.kind === 'start-warm') this.s.creating.set(a.vmid, { pool: a.pool, scope: a.scope, vmid: a.vmid, node: a.node, runnerName: a.name, memoryBytes: a.memoryBytes });
      if (a.kind === 'remove-vm' || a.kind === 'stop-vm' || a.kind === 'adopt-vm') this.s.busyVmids.add(a.vmid);
      if (a.kind === 'delete-runner') this.s.deletingRunners.add(a.runnerId);
      if (a.kind === 'remove-vm' && a.runner) this.s.deletingRunners.add(a.runner.id);
      void (a.kind === 'create' ? this.clones : this.queue).add(() => this.run(a));
    }
  }

  stop(): void {
    this.accepting = false;
  }

  /** Resolves when every submitted action has finished. */
  async drain(): Promise<void> {
    while (this.pending > 0) await Promise.all([this.queue.onIdle(), this.clones.onIdle()]);
  }

  /** Resolves true when every submitted action has finished, false once `timeoutMs` passed first. */
  async idle(timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    const done = await Promise.race([this.drain().then(() => true), this.d.clock.sleep(timeoutMs, abort.signal).then(() => false)]);
    abort.abort();
    return done;
  }

  private async run(a: Action): Promise<void> {
    let ok = false;
    let skipped = false;
    const began = this.d.clock.now();
    try {
      switch (a.kind) {
        case 'create':
          await this.creator.create(a);
          break;
        case 'start-warm':
          await this.creator.startWarm(a);
          break;
        case 'remove-vm':
          await this.changes.removeVm(a);
          break;
        case 'stop-vm':
          await this.changes.stopVm(a);
          break;
        case 'delete-runner':
          await this.changes.deleteRunner(a);
          break;
        case 'delete-snippet':
          await this.changes.deleteSnippet(a);
          break;
        case 'adopt-vm':
          await this.changes.adopt(a);
          break;
      }
      this.outcomes.push({ action: a, ok: true });
      ok = true;
    } catch (e) {
      const detail = (e as Error).message;
      skipped = e instanceof Skipped;
      this.outcomes.push({ action: a, ok: false, detail });
      if (e instanceof Skipped) this.d.log.debug(`${a.kind} skipped: ${detail}`, this.meta(a));
      else if (!this.d.permissions?.report(e, `${a.kind} (${a.reason})`, this.where(a))) {
        this.d.log.warn(`${a.kind} failed; the next tick will see what is left: ${detail}`, this.meta(a));
      }
    } finally {
      this.d.metrics?.actionDone(a, ok ? 'ok' : skipped ? 'skipped' : 'failed', this.d.clock.now() - began);
      if (a.kind === 'create' || a.kind === 'start-warm') {
        const entry = this.s.ended(a.vmid, this.d.clock.now(), a.kind === 'start-warm' && !ok);
        // A clone whose answer or task was lost may still be running, invisible to this token.
        if (entry && a.kind === 'create') this.d.hidden?.suspect(entry.vmid);
      }
      if (a.kind === 'remove-vm' || a.kind === 'stop-vm' || a.kind === 'adopt-vm') this.s.busyVmids.delete(a.vmid);
      if (a.kind === 'delete-runner') this.s.deletingRunners.delete(a.runnerId);
      if (a.kind === 'remove-vm' && a.runner) this.s.deletingRunners.delete(a.runner.id);
    }
  }

  private meta(a: Action): Record<string, string | number | undefined> {
    const m: Record<string, string | number | undefined> = { action: a.kind };
    if ('pool' in a) m.pool = a.pool;
    if ('vmid' in a) m.vmid = a.vmid;
    if ('name' in a) m.runner = a.name;
    if ((a.kind === 'create' || a.kind === 'start-warm') && a.forJob !== undefined) m.job = a.forJob;
    if (a.kind === 'delete-snippet') m.file = a.file;
    return m;
  }

  /** The repository or organisation an action's GitHub calls are about. */
  private where(a: Action): string {
    const key = a.kind === 'create' || a.kind === 'start-warm' || a.kind === 'delete-runner' ? a.scope : a.kind === 'remove-vm' ? (a.runner?.scope ?? a.scope) : undefined;
    return key ? describeScope(parseScopeKey(key)) : 'GitHub';
  }

  private pool(name: string): PoolConfig {
    const p = this.d.config.pools.find((x) => x.name === name);
    if (!p) throw new Error(`pool ${name} is not configured`);
    return p;
  }
}
