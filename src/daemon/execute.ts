import PQueue from 'p-queue';
import { renderUserData, type Registration } from '../cloudinit/render.js';
import type { Clock } from '../clock.js';
import type { Config, PoolConfig } from '../config/types.js';
import type { GithubApi } from '../github/api.js';
import { describeScope, parseScopeKey } from '../github/scope.js';
import type { Logger } from '../log.js';
import type { Action, AdoptVmAction, CreateAction, DeleteRunnerAction, DeleteSnippetAction, RemoveVmAction, StopVmAction } from '../planner/actions.js';
import { OWNER_TAG, runnerName, snippetFile } from '../planner/names.js';
import type { InFlight } from '../planner/observation.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { ProxmoxError, TaskFailedError } from '../proxmox/errors.js';
import { awaitTask } from '../proxmox/tasks.js';
import { formatVmDescription } from '../proxmox/vm-meta.js';
import { missingPermission } from '../github/permissions.js';
import type { SnippetStore } from '../snippets/store.js';
import type { HiddenVmids } from './hidden-vmids.js';
import { whyNotOurs } from './ownership.js';
import { CloneSlots, type CloneSlotLimits } from './clone-slots.js';
import { cloneIntoFreeVmid } from './vmid-claim.js';
import type { PermissionLog } from './permission-log.js';
import { register } from './registration.js';
import type { Timings } from './timings.js';

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
  /** actions at once; clones are further limited per storage lock (clone-slots.ts) */
  concurrency?: number;
  cloneSlots?: CloneSlotLimits;
  /** VMIDs taken by VMs the token cannot see (shared with the observer) */
  hidden?: HiddenVmids;
  /** Called with each registration secret as soon as it exists, so the logger can redact it. */
  onSecret?: (secret: string) => void;
  /** says once what GitHub permission a refused call lacks */
  permissions?: PermissionLog;
}

/** An action not attempted, for a reason already reported; it fails quietly. */
class Skipped extends Error {}

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  detail?: string;
}

const FINISHED_KEPT_MS = 10 * 60_000;

/**
 * Carries out planned actions with bounded concurrency. Every step that fails leaves state the next
 * tick can read — a tagged stopped VM, an offline registration with no VM, a snippet with no VM — and
 * the planner removes it; nothing half-made is only known to this process.
 */
export class Executor {
  private readonly queue: PQueue;
  private readonly cloneSlots: CloneSlots;
  private readonly creating = new Map<number, InFlight['creating'][number]>();
  /** creations that ended recently (epoch ms): a tick that observed while they ran must still see them */
  private readonly finished: Array<{ entry: InFlight['creating'][number]; at: number }> = [];
  private readonly busyVmids = new Set<number>();
  private readonly deletingRunners = new Set<number>();
  /** registrations this process deleted (epoch ms): GitHub may still list them for a while */
  private readonly deletedRunners = new Map<number, number>();
  /** scope key → until when (epoch ms) registrations are not tried: GitHub refused them for a missing permission */
  private readonly cannotRegister = new Map<string, number>();
  private readonly recentlyFreed = new Map<number, number>();
  private readonly seenOnline = new Set<string>();
  /** VMs a person took over (our marks removed): never changed again, while they exist */
  private readonly disowned = new Set<number>();
  /** UPIDs of the clone tasks this process is awaiting */
  private readonly cloneUpids = new Set<string>();
  private readonly outcomes: ActionOutcome[] = [];
  private readonly freedListeners: Array<() => void> = [];
  private accepting = true;

  constructor(private readonly d: ExecutorDeps) {
    this.queue = new PQueue({ concurrency: d.concurrency ?? 8 });
    this.cloneSlots = new CloneSlots(d.proxmox, d.cloneSlots);
  }

  /**
   * What this process has under way — and, with `since`, also the creations that ended after it: a
   * tick passes its start time, so work that finished while it was observing is not mistaken for
   * something nobody made.
   */
  inFlight(since?: number): InFlight {
    const now = this.d.clock.now();
    for (const [vmid, at] of this.recentlyFreed) if (now - at > this.d.timings.vmidCooldownMs) this.recentlyFreed.delete(vmid);
    for (const [id, at] of this.deletedRunners) if (now - at > this.d.timings.deletedRunnerMemoryMs) this.deletedRunners.delete(id);
    while (this.finished.length && now - this.finished[0]!.at > Math.max(FINISHED_KEPT_MS, this.d.timings.statusLagMs)) this.finished.shift();
    // Ended creations stay visible while Proxmox's resource list may still show the old state, and
    // to a tick that began observing before they ended.
    const recent = (f: { at: number }) => now - f.at < this.d.timings.statusLagMs || (since !== undefined && f.at >= since);
    const ended = this.finished.filter((f) => recent(f) && !this.creating.has(f.entry.vmid)).map((f) => f.entry);
    return {
      creating: [...this.creating.values(), ...ended],
      busyVmids: new Set(this.busyVmids),
      // A registration deleted a moment ago may still be listed: acting on it again would only repeat the DELETE.
      deletingRunners: new Set([...this.deletingRunners, ...this.deletedRunners.keys()]),
      recentlyFreed: new Map(this.recentlyFreed),
      seenOnline: new Set(this.seenOnline),
      disowned: new Set(this.disowned),
    };
  }

  /** Forgets VMs a person took over once they no longer exist. */
  pruneDisowned(liveVmids: ReadonlySet<number>): void {
    for (const id of this.disowned) if (!liveVmids.has(id)) this.disowned.delete(id);
  }

  /** Runner names seen online; kept only while their VM exists. */
  noteOnline(names: Iterable<string>, liveVmNames: ReadonlySet<string>): void {
    for (const n of names) this.seenOnline.add(n);
    for (const n of this.seenOnline) if (!liveVmNames.has(n)) this.seenOnline.delete(n);
  }

  /** The clone tasks this process started and is awaiting: a running clone task not among them is unexplained. */
  cloneTasks(): ReadonlySet<string> {
    return new Set(this.cloneUpids);
  }

  /** `cb` runs whenever a VM has been destroyed: capacity for waiting jobs may be free now. */
  onFreed(cb: () => void): void {
    this.freedListeners.push(cb);
  }

  get pending(): number {
    return this.queue.size + this.queue.pending;
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
        this.creating.set(a.vmid, { pool: a.pool, scope: a.scope, vmid: a.vmid, node: a.node, runnerName: name, memoryBytes: a.memoryBytes });
      }
      if (a.kind === 'remove-vm' || a.kind === 'stop-vm' || a.kind === 'adopt-vm') this.busyVmids.add(a.vmid);
      if (a.kind === 'delete-runner') this.deletingRunners.add(a.runnerId);
      if (a.kind === 'remove-vm' && a.runner) this.deletingRunners.add(a.runner.id);
      void this.queue.add(() => this.run(a));
    }
  }

  stop(): void {
    this.accepting = false;
  }

  /** Resolves when every submitted action has finished. */
  drain(): Promise<void> {
    return this.queue.onIdle();
  }

  /** Resolves true when every submitted action has finished, false once `timeoutMs` passed first. */
  async idle(timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    const done = await Promise.race([this.drain().then(() => true), this.d.clock.sleep(timeoutMs, abort.signal).then(() => false)]);
    abort.abort();
    return done;
  }

  private async run(a: Action): Promise<void> {
    try {
      switch (a.kind) {
        case 'create':
          await this.create(a);
          break;
        case 'remove-vm':
          await this.removeVm(a);
          break;
        case 'stop-vm':
          await this.stopVm(a);
          break;
        case 'delete-runner':
          await this.deleteRunner(a);
          break;
        case 'delete-snippet':
          await this.deleteSnippet(a);
          break;
        case 'adopt-vm':
          await this.adopt(a);
          break;
      }
      this.outcomes.push({ action: a, ok: true });
    } catch (e) {
      const detail = (e as Error).message;
      this.outcomes.push({ action: a, ok: false, detail });
      if (e instanceof Skipped) this.d.log.debug(`${a.kind} skipped: ${detail}`, this.meta(a));
      else if (!this.d.permissions?.report(e, `${a.kind} (${a.reason})`, this.where(a))) {
        this.d.log.warn(`${a.kind} failed; the next tick will see what is left: ${detail}`, this.meta(a));
      }
    } finally {
      if (a.kind === 'create') {
        const entry = this.creating.get(a.vmid);
        this.creating.delete(a.vmid);
        if (entry) {
          this.finished.push({ entry, at: this.d.clock.now() });
          // A clone whose answer or task was lost may still be running, invisible to this token.
          this.d.hidden?.suspect(entry.vmid);
        }
      }
      if (a.kind === 'remove-vm' || a.kind === 'stop-vm' || a.kind === 'adopt-vm') this.busyVmids.delete(a.vmid);
      if (a.kind === 'delete-runner') this.deletingRunners.delete(a.runnerId);
      if (a.kind === 'remove-vm' && a.runner) this.deletingRunners.delete(a.runner.id);
    }
  }

  private meta(a: Action): Record<string, string | number | undefined> {
    const m: Record<string, string | number | undefined> = { action: a.kind };
    if ('pool' in a) m.pool = a.pool;
    if ('vmid' in a) m.vmid = a.vmid;
    if ('name' in a) m.runner = a.name;
    if (a.kind === 'create') m.job = a.forJob;
    if (a.kind === 'delete-snippet') m.file = a.file;
    return m;
  }

  /** The repository or organisation an action's GitHub calls are about. */
  private where(a: Action): string {
    const key = a.kind === 'create' || a.kind === 'delete-runner' ? a.scope : a.kind === 'remove-vm' ? (a.runner?.scope ?? a.scope) : undefined;
    return key ? describeScope(parseScopeKey(key)) : 'GitHub';
  }

  private pool(name: string): PoolConfig {
    const p = this.d.config.pools.find((x) => x.name === name);
    if (!p) throw new Error(`pool ${name} is not configured`);
    return p;
  }

  private wait(upid: string, operation: string, timeoutMs: number): Promise<void> {
    const t = this.d.timings;
    return awaitTask(this.d.proxmox, this.d.clock, upid, operation, { timeoutMs, pollMs: t.taskPollMs, maxPollMs: t.taskMaxPollMs });
  }

  /** Retries a Proxmox call (or call and task) that met lock contention, with doubling delays. */
  private async withLockRetry<T>(what: string, f: () => Promise<T>, meta: Record<string, string | number | undefined>): Promise<T> {
    let delay = this.d.timings.lockRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        const lock = (e instanceof ProxmoxError || e instanceof TaskFailedError) && e.isLockContention;
        if (!lock || attempt >= this.d.timings.lockRetries) throw e;
        this.d.log.info(`${what}: ${e instanceof ProxmoxError ? e.pveMessage : e.exitstatus}; retrying in ${Math.round(delay)}ms`, meta);
        await this.d.clock.sleep(delay);
        delay *= 2;
      }
    }
  }

  private async create(a: CreateAction): Promise<void> {
    const pool = this.pool(a.pool);
    const scope = parseScopeKey(a.scope);
    let vmid = a.vmid;
    let name = this.creating.get(a.vmid)?.runnerName ?? runnerName(pool, vmid, this.d.suffix());
    const log = (msg: string, extra: Record<string, string | number | undefined> = {}) =>
      this.d.log.info(msg, { pool: pool.name, vmid, runner: name, node: a.node, job: a.forJob, ...extra });
    const refusedUntil = this.cannotRegister.get(a.scope);
    if (refusedUntil !== undefined && this.d.clock.now() < refusedUntil) {
      // Cloning a VM GitHub will not let us register would only make a VM to destroy again.
      throw new Skipped(`GitHub refused registrations in ${describeScope(scope)} for a missing permission; tried again from ${new Date(refusedUntil).toISOString()}`);
    }
    log(`creating runner VM: ${a.reason}`);

    // 1. Clone. The clone call already carries our name and description; the tags follow at once.
    const claim = { proxmox: this.d.proxmox, hidden: this.d.hidden, pool, now: () => this.d.clock.now(), busy: () => [...this.creating.values()].map((c) => c.vmid), recentlyFreed: this.recentlyFreed, cooldownMs: this.d.timings.vmidCooldownMs, log };
    vmid = await cloneIntoFreeVmid(claim, vmid, (id) => this.clone(a, pool, id, name), (id) => {
      vmid = id;
      name = runnerName(pool, id, this.d.suffix());
      this.creating.set(a.vmid, { pool: a.pool, scope: a.scope, vmid: id, node: a.node, runnerName: name, memoryBytes: a.memoryBytes });
    });
    const file = snippetFile(name);
    const config: Record<string, string | number> = {
      tags: [OWNER_TAG, pool.tag].join(';'),
      cicustom: `user=${this.d.snippets.volid(file)}`,
    };
    if (pool.cores !== undefined) config.cores = pool.cores;
    if (pool.memoryMb !== undefined) config.memory = pool.memoryMb;
    await this.withLockRetry(`configure ${vmid}`, async () => {
      const upid = await this.d.proxmox.updateConfig(a.node, vmid, config);
      if (upid) await this.wait(upid, `configure ${vmid}`, this.d.timings.configTimeoutMs);
    }, { vmid });

    // 2. Registration: minted only once the VM exists, so a failed clone leaves no registration behind.
    let registration: Registration;
    try {
      registration = await register(this.d, pool, scope, name, log);
    } catch (e) {
      if (missingPermission(e)) this.cannotRegister.set(a.scope, this.d.clock.now() + this.d.timings.permissionRetryMs);
      throw e;
    }
    this.cannotRegister.delete(a.scope);

    // 3. Snippet, start, and the snippet goes once the start task has built the cloud-init drive.
    const userData = renderUserData(pool.userData.text, { runnerName: name, vmid, pool: pool.name, node: a.node, registration }, pool.userData.path);
    await this.d.snippets.write(a.node, file, userData);
    const startUpid = await this.d.proxmox.start(a.node, vmid);
    await this.wait(startUpid, `start ${vmid}`, this.d.timings.startTimeoutMs);
    await this.d.snippets.remove(a.node, file);
    log('runner VM started');
  }

  /** The whole clone (request and task) holds a slot of its storage lock's clone queue; a clone that failed on a lock is retried. */
  private async clone(a: CreateAction, pool: PoolConfig, vmid: number, name: string): Promise<void> {
    const description = formatVmDescription({ pool: pool.name, scope: a.scope, runner: name, createdAt: this.d.clock.now() });
    // Parallel clones contend on the storage lock inside the task.
    const clone = () =>
      this.d.proxmox.clone(a.node, a.templateVmid, {
        newid: vmid,
        name,
        description,
        full: pool.clone === 'full',
        ...(pool.clone === 'full' && pool.storage ? { storage: pool.storage } : {}),
        ...(this.d.proxmoxPool ? { pool: this.d.proxmoxPool } : {}),
      });
    await this.cloneSlots.run({ node: a.node, templateVmid: a.templateVmid, full: pool.clone === 'full', storage: pool.storage }, () =>
      this.withLockRetry(`clone ${a.templateVmid} → ${vmid}`, async () => {
        const upid = await clone();
        // Known while awaited: once given up on (timeout), a clone still running is unexplained.
        this.cloneUpids.add(upid);
        try {
          await this.wait(upid, `clone ${a.templateVmid} → ${vmid}`, this.d.timings.cloneTimeoutMs);
        } finally {
          this.cloneUpids.delete(upid);
        }
      }, { pool: pool.name, vmid, runner: name }),
    );
  }

  private async removeVm(a: RemoveVmAction): Promise<void> {
    const meta = this.meta(a);
    if (!(await this.stillOurs(a, false))) return;
    if (!a.running && (await this.d.proxmox.vmStatus(a.node, a.vmid)) === 'running') {
      // The resource list reports pvestatd's last round: a VM started a moment ago may still read
      // stopped there. Deregistering its runner now would kill the job it is about to take.
      this.d.log.info('listed as stopped, but it is running: left for a later tick', meta);
      return;
    }
    this.d.log.info(`removing runner VM: ${a.reason}`, meta);
    let runner = a.runner;
    if (!runner && a.running && a.scope) {
      // Absent from this tick's listing is not proof: a listing paged while runners came and went
      // can skip one. Ask for it by name before stopping a VM that may be running a job.
      const found = await this.d.github.findRunner(parseScopeKey(a.scope), a.name);
      if (found?.busy) {
        this.d.log.info('its runner is busy with a job after all: VM kept', meta);
        return;
      }
      if (found) runner = { id: found.id, scope: a.scope };
    }
    if (runner) {
      const result = await this.d.github.deleteRunner(parseScopeKey(runner.scope), runner.id);
      if (result === 'busy') {
        this.d.log.info('runner took a job meanwhile (GitHub answered 422): VM kept', meta);
        return;
      }
      this.deletedRunners.set(runner.id, this.d.clock.now());
    }
    if (a.running) {
      const upid = await this.withLockRetry(`stop ${a.vmid}`, () => this.d.proxmox.stop(a.node, a.vmid), meta);
      await this.wait(upid, `stop ${a.vmid}`, this.d.timings.stopTimeoutMs);
    }
    // The stop took a while: the destroy, which cannot be undone, is decided on a fresh read too.
    if (!(await this.stillOurs(a, false))) return;
    const upid = await this.withLockRetry(`destroy ${a.vmid}`, () => this.d.proxmox.destroy(a.node, a.vmid), meta);
    await this.wait(upid, `destroy ${a.vmid}`, this.d.timings.destroyTimeoutMs);
    this.recentlyFreed.set(a.vmid, this.d.clock.now());
    this.seenOnline.delete(a.name);
    this.d.log.info('runner VM destroyed', meta);
    for (const cb of this.freedListeners) cb();
  }

  private async stopVm(a: StopVmAction): Promise<void> {
    const meta = this.meta(a);
    if (!(await this.stillOurs(a, false))) return;
    this.d.log.warn(`stopping runner VM: ${a.reason}`, meta);
    const upid = await this.withLockRetry(`stop ${a.vmid}`, () => this.d.proxmox.stop(a.node, a.vmid), meta);
    await this.wait(upid, `stop ${a.vmid}`, this.d.timings.stopTimeoutMs);
  }

  /**
   * Reads the VM's config now and tells whether it still carries our marks. A VM that lost them was
   * taken over by a person: it is left alone from now on, and that is said once.
   */
  private async stillOurs(a: RemoveVmAction | StopVmAction | AdoptVmAction, adopting: boolean): Promise<boolean> {
    const cfg = await this.d.proxmox.getConfig(a.node, a.vmid);
    const why = whyNotOurs(this.d.config.pools, this.pool(a.pool), a.vmid, cfg, adopting);
    if (why === undefined) return true;
    this.disowned.add(a.vmid);
    this.d.log.warn(`VM ${a.vmid} no longer carries pve-runners' marks (${why}): someone took it over, so it is left alone from now on (${a.kind} not done)`, this.meta(a));
    return false;
  }

  private async deleteRunner(a: DeleteRunnerAction): Promise<void> {
    const result = await this.d.github.deleteRunner(parseScopeKey(a.scope), a.runnerId);
    if (result !== 'busy') this.deletedRunners.set(a.runnerId, this.d.clock.now());
    this.d.log.info(`runner registration ${result === 'busy' ? 'is busy, kept' : result === 'gone' ? 'was already gone' : 'deleted'}: ${a.reason}`, this.meta(a));
  }

  private async deleteSnippet(a: DeleteSnippetAction): Promise<void> {
    await this.d.snippets.remove(a.node, a.file);
    this.d.log.info(`snippet removed: ${a.reason}`, this.meta(a));
  }

  private async adopt(a: AdoptVmAction): Promise<void> {
    if (!(await this.stillOurs(a, true))) return;
    const upid = await this.withLockRetry(`tag ${a.vmid}`, () => this.d.proxmox.updateConfig(a.node, a.vmid, { tags: [OWNER_TAG, this.pool(a.pool).tag].join(';') }), this.meta(a));
    if (upid) await this.wait(upid, `tag ${a.vmid}`, this.d.timings.configTimeoutMs);
    this.d.log.info(`adopted VM: ${a.reason}`, this.meta(a));
  }
}
