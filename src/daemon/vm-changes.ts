import { parseScopeKey } from '../github/scope.js';
import type { AdoptVmAction, DeleteRunnerAction, DeleteSnippetAction, RemoveVmAction, StartWarmAction, StopVmAction } from '../planner/actions.js';
import { OWNER_TAG } from '../planner/names.js';
import type { VmConfigValue } from '../proxmox/api.js';
import { ProxmoxError, TaskFailedError } from '../proxmox/errors.js';
import type { ExecutorDeps } from './execute.js';
import type { ExecutorState } from './executor-state.js';
import { whyNotDrainable, whyNotOurs } from './ownership.js';
import { actsOn } from '../planner/instance.js';
import { parseVmDescription } from '../proxmox/vm-meta.js';
import type { ProxmoxSteps } from './proxmox-steps.js';

type Meta = Record<string, string | number | undefined>;

/** qemu-server's load_config failing (synchronously, or in the worker once it had the lock): the VM is gone. */
function configGone(e: unknown): boolean {
  const text = e instanceof ProxmoxError ? e.pveMessage : e instanceof TaskFailedError ? e.exitstatus : '';
  return /^Configuration file '[^']+' does not exist/.test(text);
}
type Changed = RemoveVmAction | StopVmAction | AdoptVmAction | StartWarmAction;

/**
 * Changes to VMs that exist — removal, stop, adoption — and to registrations and snippets. Each
 * VM change is decided on the VM's current config, read just before it: a person may have taken
 * the VM over since the tick observed it.
 */
export class VmChanges {
  constructor(
    private readonly d: ExecutorDeps,
    private readonly s: ExecutorState,
    private readonly steps: ProxmoxSteps,
    private readonly meta: (a: Changed | DeleteRunnerAction | DeleteSnippetAction) => Meta,
  ) {}

  async removeVm(a: RemoveVmAction): Promise<void> {
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
      this.s.deletedRunners.set(runner.id, this.d.clock.now());
    }
    if (a.running) {
      const upid = await this.steps.withLockRetry(`stop ${a.vmid}`, () => this.d.proxmox.stop(a.node, a.vmid), meta);
      await this.steps.wait(upid, `stop ${a.vmid}`, this.d.timings.stopTimeoutMs);
    }
    // The stop took a while: the destroy, which cannot be undone, is decided on a fresh read too.
    const cfg = await this.currentConfig(a, false);
    if (!cfg) return;
    try {
      // A lock timeout in the task too is retried: another destroy may hold the config lock. Its
      // removals take the storage lock clones take, so each try runs in one of their slots (not
      // the waits between tries): at a burst's end, destroys had clones wait out the lock's 10 s.
      await this.steps.withLockRetry(`destroy ${a.vmid}`, () => this.steps.cloneSlots.runDestroy(a.node, cfg, async () => {
        const upid = await this.d.proxmox.destroy(a.node, a.vmid);
        await this.steps.wait(upid, `destroy ${a.vmid}`, this.d.timings.destroyTimeoutMs);
      }), meta);
    } catch (e) {
      if (!configGone(e)) throw e;
      // A destroy begun before a restart holds the VM's config lock until its disks are freed:
      // this one waited for it (and retried its lock timeouts), then found the config removed.
      this.d.log.info('runner VM destroyed by an earlier destroy still under way when this one was asked', meta);
      this.s.freed(a.vmid, a.name, this.d.clock.now());
      return;
    }
    this.d.log.info('runner VM destroyed', meta);
    this.s.freed(a.vmid, a.name, this.d.clock.now());
  }

  async stopVm(a: StopVmAction): Promise<void> {
    const meta = this.meta(a);
    if (!(await this.stillOurs(a, false))) return;
    this.d.log.warn(`stopping runner VM: ${a.reason}`, meta);
    const upid = await this.steps.withLockRetry(`stop ${a.vmid}`, () => this.d.proxmox.stop(a.node, a.vmid), meta);
    await this.steps.wait(upid, `stop ${a.vmid}`, this.d.timings.stopTimeoutMs);
  }

  /**
   * Reads the VM's config now; undefined when it no longer carries our marks. A VM that lost them
   * was taken over by a person: it is left alone from now on, and that is said once.
   */
  async currentConfig(a: Changed, adopting: boolean): Promise<Record<string, VmConfigValue> | undefined> {
    const cfg = await this.d.proxmox.getConfig(a.node, a.vmid);
    const pool = this.d.config.pools.find((p) => p.name === a.pool);
    const drain = a.kind === 'remove-vm' && a.drain ? whyNotDrainable(this.d.config.pools, a.pool, a.name, a.vmid, cfg) : undefined;
    if (drain?.retaken) {
      // Taken back by a reload between plan and removal: ours still, and the next tick plans it.
      this.d.log.info(`drained VM kept: ${drain.why}`, this.meta(a));
      return undefined;
    }
    const why = a.kind === 'remove-vm' && a.drain ? drain?.why : pool ? whyNotOurs(this.d.config.pools, pool, a.vmid, cfg, adopting) : `pool ${a.pool} is not configured`;
    if (why === undefined) {
      const meta = parseVmDescription(typeof cfg.description === 'string' ? cfg.description : undefined);
      if (actsOn(meta, this.d.instance, this.d.clock.now())) return cfg;
      // Not a person's doing: the VM is left to its instance, and taken over once that is gone.
      this.d.log.warn(`VM ${a.vmid} was made or started by another live pve-runners instance '${meta?.instance ?? ''}' since this tick observed it: left alone (${a.kind} not done)`, this.meta(a));
      return undefined;
    }
    this.s.disowned.add(a.vmid);
    this.d.log.warn(`VM ${a.vmid} no longer carries pve-runners' marks (${why}): someone took it over, so it is left alone from now on (${a.kind} not done)`, this.meta(a));
    return undefined;
  }

  private async stillOurs(a: Changed, adopting: boolean): Promise<boolean> {
    return (await this.currentConfig(a, adopting)) !== undefined;
  }

  async deleteRunner(a: DeleteRunnerAction): Promise<void> {
    const result = await this.d.github.deleteRunner(parseScopeKey(a.scope), a.runnerId);
    if (result !== 'busy') this.s.deletedRunners.set(a.runnerId, this.d.clock.now());
    this.d.log.info(`runner registration ${result === 'busy' ? 'is busy, kept' : result === 'gone' ? 'was already gone' : 'deleted'}: ${a.reason}`, this.meta(a));
  }

  async deleteSnippet(a: DeleteSnippetAction): Promise<void> {
    await this.d.snippets.remove(a.node, a.file);
    this.d.log.info(`snippet removed: ${a.reason}`, this.meta(a));
  }

  async adopt(a: AdoptVmAction): Promise<void> {
    if (!(await this.stillOurs(a, true))) return;
    const pool = this.d.config.pools.find((p) => p.name === a.pool)!;
    await this.steps.configure(a.node, a.vmid, { tags: [OWNER_TAG, pool.tag].join(';') }, this.meta(a));
    this.d.log.info(`adopted VM: ${a.reason}`, this.meta(a));
  }
}
