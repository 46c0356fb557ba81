import { renderUserData } from '../cloudinit/render.js';
import type { PoolConfig } from '../config/types.js';
import { missingPermission } from '../github/permissions.js';
import { describeScope, parseScopeKey, type Scope } from '../github/scope.js';
import type { CreateAction, StartWarmAction } from '../planner/actions.js';
import { OWNER_TAG, runnerName, snippetFile } from '../planner/names.js';
import { formatVmDescription, parseVmDescription } from '../proxmox/vm-meta.js';
import type { Registration } from '../cloudinit/render.js';
import { agentRunnerEnv, deliverThroughAgent } from './agent-delivery.js';
import type { ExecutorDeps } from './execute.js';
import type { ExecutorState } from './executor-state.js';
import type { ProxmoxSteps } from './proxmox-steps.js';
import { register, type Registered } from './registration.js';
import type { VmChanges } from './vm-changes.js';
import { cloneIntoFreeVmid } from './vmid-claim.js';

/** An action not attempted, for a reason already reported; it fails quietly. */
export class Skipped extends Error {}

type Log = (msg: string, extra?: Record<string, string | number | undefined>) => void;

/**
 * Making runners: a clone for a job or a hot runner (registration minted while the clone runs),
 * a warm VM (a clone with our marks and nothing else), and starting a warm VM (no clone at all).
 */
export class Creator {
  constructor(
    private readonly d: ExecutorDeps,
    private readonly s: ExecutorState,
    private readonly steps: ProxmoxSteps,
    private readonly changes: VmChanges,
  ) {}

  async create(a: CreateAction): Promise<void> {
    const pool = this.pool(a.pool);
    const warm = a.purpose === 'warm';
    let vmid = a.vmid;
    let name = this.s.creating.get(a.vmid)?.runnerName ?? runnerName(pool, vmid, this.d.suffix());
    const log: Log = (msg, extra = {}) => this.d.log.info(msg, { pool: pool.name, vmid, runner: name, node: a.node, job: a.forJob, ...extra });
    const scope = warm ? undefined : parseScopeKey(a.scope);
    if (scope) this.checkMayRegister(a.scope, scope);
    log(`creating ${warm ? 'warm VM' : 'runner VM'}: ${a.reason}`);

    // The registration is minted while the clone runs: both wait on someone else, neither on the
    // other. It is asked for when the clone gets its storage-lock slot, not before: GitHub spaces
    // mutations a second apart, so in a burst the order of minting must follow the order of cloning.
    const reg: { minting?: Promise<Registered>; for?: string } = {};
    const startMinting = () => {
      if (!scope || reg.minting) return;
      reg.minting = this.mint(pool, a.scope, scope, name, log);
      reg.for = name;
    };
    try {
      const claim = { proxmox: this.d.proxmox, hidden: this.d.hidden, pool, now: () => this.d.clock.now(), busy: () => [...this.s.creating.values()].map((c) => c.vmid), recentlyFreed: this.s.recentlyFreed, cooldownMs: this.d.timings.vmidCooldownMs, log };
      vmid = await cloneIntoFreeVmid(claim, vmid, (id) => this.clone(a, pool, id, name, startMinting), (id) => {
        vmid = id;
        name = runnerName(pool, id, this.d.suffix());
        this.s.creating.set(a.vmid, { pool: a.pool, scope: a.scope, vmid: id, node: a.node, runnerName: name, memoryBytes: a.memoryBytes, ...(warm ? { warm } : {}) });
      });
      const file = snippetFile(name);
      const config: Record<string, string | number> = { tags: [OWNER_TAG, pool.tag].join(';') };
      if (!warm && pool.delivery !== 'guest-agent') config.cicustom = `user=${this.d.snippets.volid(file)}`;
      if (pool.cores !== undefined) config.cores = pool.cores;
      if (pool.memoryMb !== undefined) config.memory = pool.memoryMb;
      await this.steps.configure(a.node, vmid, config, { vmid });
      startMinting();
      if (!scope || !reg.minting) {
        log('warm VM ready');
        return;
      }
      if (reg.for !== name) {
        // The VMID moved, and the runner's name with it: the registration minted for the old name goes.
        await this.discard(a.scope, scope, await reg.minting.catch(() => undefined), log);
        reg.minting = this.mint(pool, a.scope, scope, name, log);
        reg.for = name;
      }
      const { registration } = await reg.minting;
      if (pool.delivery === 'guest-agent') {
        await this.bootWithAgent(pool, a.node, vmid, name, registration, log);
      } else {
        await this.boot(a.node, vmid, file, this.render(pool, { runnerName: name, vmid, pool: pool.name, node: a.node, registration }));
        log('runner VM started');
      }
      this.d.metrics?.vmStarted(pool.name, name, false, this.d.clock.now());
    } catch (e) {
      if (reg.minting && !(e instanceof Skipped)) await this.discard(a.scope, scope!, await reg.minting.catch(() => undefined), log);
      throw e;
    }
  }

  /** A warm VM of ours, started for a job or a hot runner: registration, snippet, description, start. */
  async startWarm(a: StartWarmAction): Promise<void> {
    const pool = this.pool(a.pool);
    const scope = parseScopeKey(a.scope);
    const log: Log = (msg, extra = {}) => this.d.log.info(msg, { pool: pool.name, vmid: a.vmid, runner: a.name, node: a.node, job: a.forJob, ...extra });
    this.checkMayRegister(a.scope, scope);
    const cfg = await this.changes.currentConfig(a, false);
    if (!cfg) throw new Skipped(`VM ${a.vmid} is no longer ours`);
    const meta = parseVmDescription(typeof cfg.description === 'string' ? cfg.description : undefined);
    if (!meta?.warm || cfg.lock !== undefined) throw new Skipped(`VM ${a.vmid} is no longer a warm VM ready to start`);
    log(`starting warm VM: ${a.reason}`);
    const minted = await this.mint(pool, a.scope, scope, a.name, log);
    const file = snippetFile(a.name);
    // Described as a runner of its scope before it starts: a start that fails leaves a stopped VM
    // of ours, which the next tick removes, never a warm VM that has been booted.
    const description = formatVmDescription({ pool: pool.name, scope: a.scope, runner: a.name, createdAt: this.d.clock.now(), ...this.instance() });
    try {
      if (pool.delivery === 'guest-agent') {
        await this.bootWithAgent(pool, a.node, a.vmid, a.name, minted.registration, log, { description });
      } else {
        const userData = this.render(pool, { runnerName: a.name, vmid: a.vmid, pool: pool.name, node: a.node, registration: minted.registration });
        await this.boot(a.node, a.vmid, file, userData, { cicustom: `user=${this.d.snippets.volid(file)}`, description });
      }
    } catch (e) {
      // Its credentials go now, not when a later tick finds them: the snippet holds a live JIT config.
      await this.d.snippets.remove(a.node, file).catch(() => {});
      await this.discard(a.scope, scope, minted, log);
      throw e;
    }
    this.d.metrics?.vmStarted(pool.name, a.name, true, this.d.clock.now());
    log('runner VM started from warm');
  }

  /** Snippet, config, start; the snippet goes once the start task has built the cloud-init drive. */
  private async boot(node: string, vmid: number, file: string, userData: string, config?: Record<string, string | number>): Promise<void> {
    await this.d.snippets.write(node, file, userData);
    if (config) await this.steps.configure(node, vmid, config, { vmid });
    const startUpid = await this.d.proxmox.start(node, vmid);
    await this.steps.wait(startUpid, `start ${vmid}`, this.d.timings.startTimeoutMs);
    await this.d.snippets.remove(node, file);
  }

  private render(pool: PoolConfig, values: Parameters<typeof renderUserData>[1]): string {
    if (!pool.userData) throw new Error(`pool ${pool.name} has no user_data to render a snippet from`);
    return renderUserData(pool.userData.text, values, pool.userData.path);
  }

  /**
   * delivery: guest-agent: config, start, then runner.env through the agent (agent-delivery.ts).
   * A VM whose agent never answers, or whose write failed, is stopped at once: the next tick
   * destroys it, and the job it was for gets another VM instead of waiting out boot_timeout.
   */
  private async bootWithAgent(pool: PoolConfig, node: string, vmid: number, name: string, reg: Registration, log: Log, config?: Record<string, string | number>): Promise<void> {
    const content = agentRunnerEnv(name, reg);
    if (config) await this.steps.configure(node, vmid, config, { vmid });
    const startUpid = await this.d.proxmox.start(node, vmid);
    await this.steps.wait(startUpid, `start ${vmid}`, this.d.timings.startTimeoutMs);
    log('runner VM started; waiting for its guest agent');
    try {
      const file = await deliverThroughAgent({ proxmox: this.d.proxmox, clock: this.d.clock, pollMs: this.d.timings.agentPollMs }, { node, vmid, deadline: this.d.clock.now() + pool.bootTimeoutMs }, content);
      log(`runner inputs written to ${file} through the guest agent`);
    } catch (e) {
      log(`runner inputs not delivered through the guest agent: ${(e as Error).message}; stopping the VM`);
      await this.d.proxmox.stop(node, vmid).catch(() => undefined);
      throw e;
    }
  }

  private checkMayRegister(key: string, scope: Scope): void {
    const refusedUntil = this.s.cannotRegister.get(key);
    if (refusedUntil !== undefined && this.d.clock.now() < refusedUntil) {
      // A VM GitHub will not let us register would only be one to destroy again.
      throw new Skipped(`GitHub refused registrations in ${describeScope(scope)} for a missing permission; tried again from ${new Date(refusedUntil).toISOString()}`);
    }
  }

  /** Minting, handled at once: it may fail while the clone still runs, long before it is awaited. */
  private mint(pool: PoolConfig, key: string, scope: Scope, name: string, log: Log): Promise<Registered> {
    const p = this.registerIn(pool, key, scope, name, log);
    p.catch(() => {});
    return p;
  }

  private async registerIn(pool: PoolConfig, key: string, scope: Scope, name: string, log: Log): Promise<Registered> {
    try {
      const r = await register(this.d, pool, scope, name, log);
      this.s.cannotRegister.delete(key);
      return r;
    } catch (e) {
      if (missingPermission(e)) this.s.cannotRegister.set(key, this.d.clock.now() + this.d.timings.permissionRetryMs);
      throw e;
    }
  }

  /** A JIT registration no VM will use: deleted now (best effort; else the next ticks find it offline without a VM). */
  private async discard(key: string, scope: Scope, minted: Registered | undefined, log: Log): Promise<void> {
    if (minted?.runnerId === undefined) return;
    try {
      await this.d.github.deleteRunner(scope, minted.runnerId);
      this.s.deletedRunners.set(minted.runnerId, this.d.clock.now());
      log(`registration ${minted.runnerId} in ${describeScope(scope)} deleted: its VM did not come`);
    } catch (e) {
      this.d.log.debug(`cannot delete unused registration ${minted.runnerId} (${key}) now: ${(e as Error).message}; a later tick removes it`);
    }
  }

  /** The whole clone (request and task) holds a slot of its storage lock (clone-slots.ts); a clone that failed on a lock is retried. */
  private async clone(a: CreateAction, pool: PoolConfig, vmid: number, name: string, onSlot: () => void): Promise<void> {
    const now = this.d.clock.now();
    const warm = a.purpose === 'warm' ? { template: a.templateVmid, ...(a.templateStamp !== undefined ? { stamp: a.templateStamp } : {}) } : undefined;
    const description = formatVmDescription({ pool: pool.name, scope: a.scope, runner: name, createdAt: now, ...(warm ? { warm } : {}), ...this.instance() });
    const clone = () =>
      this.d.proxmox.clone(a.node, a.templateVmid, {
        newid: vmid,
        name,
        description,
        full: pool.clone === 'full',
        ...(pool.clone === 'full' && pool.storage ? { storage: pool.storage } : {}),
        ...(this.d.proxmoxPool ? { pool: this.d.proxmoxPool } : {}),
      });
    await this.steps.cloneSlots.run({ node: a.node, templateVmid: a.templateVmid, full: pool.clone === 'full', ...(pool.storage ? { storage: pool.storage } : {}) }, () =>
      // Parallel clones contend on the storage lock inside the task.
      this.steps.withLockRetry(`clone ${a.templateVmid} → ${vmid}`, async () => {
        onSlot();
        const began = this.d.clock.now();
        const upid = await clone();
        // Known while awaited: once given up on (timeout), a clone still running is unexplained.
        this.s.cloneUpids.add(upid);
        try {
          await this.steps.wait(upid, `clone ${a.templateVmid} → ${vmid}`, this.d.timings.cloneTimeoutMs);
          this.d.metrics?.cloned(pool.name, this.d.clock.now() - began);
        } finally {
          this.s.cloneUpids.delete(upid);
        }
      }, { pool: pool.name, vmid, runner: name }),
    );
  }

  private instance(): { instance?: string } {
    return this.d.instance ? { instance: this.d.instance.id } : {};
  }

  private pool(name: string): PoolConfig {
    const p = this.d.config.pools.find((x) => x.name === name);
    if (!p) throw new Error(`pool ${name} is not configured`);
    return p;
  }
}
