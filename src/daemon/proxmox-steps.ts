import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { ProxmoxError, TaskFailedError } from '../proxmox/errors.js';
import { awaitTask } from '../proxmox/tasks.js';
import { CloneSlots, type CloneSlotLimits } from './clone-slots.js';
import type { Timings } from './timings.js';

type Meta = Record<string, string | number | undefined>;

/** The Proxmox calls every action is made of: awaiting a task, retrying on lock contention, clone slots per storage lock. */
export class ProxmoxSteps {
  readonly cloneSlots: CloneSlots;

  constructor(private readonly d: { proxmox: ProxmoxApi; clock: Clock; log: Logger; timings: Timings; cloneSlots?: CloneSlotLimits }) {
    this.cloneSlots = new CloneSlots(d.proxmox, { clock: d.clock, lockWaitMs: d.timings.lockWaitMs }, d.cloneSlots);
  }

  wait(upid: string, operation: string, timeoutMs: number): Promise<void> {
    const t = this.d.timings;
    return awaitTask(this.d.proxmox, this.d.clock, upid, operation, { timeoutMs, pollMs: t.taskPollMs, maxPollMs: t.taskMaxPollMs, fastForMs: t.taskFastPollForMs });
  }

  /** Retries a Proxmox call (or call and task) that met lock contention, with doubling delays. */
  async withLockRetry<T>(what: string, f: () => Promise<T>, meta: Meta): Promise<T> {
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

  /** A config change, and its task when Proxmox runs it as one, retried on lock contention. */
  async configure(node: string, vmid: number, params: Record<string, string | number>, meta: Meta): Promise<void> {
    await this.withLockRetry(`configure ${vmid}`, async () => {
      const upid = await this.d.proxmox.updateConfig(node, vmid, params);
      if (upid) await this.wait(upid, `configure ${vmid}`, this.d.timings.configTimeoutMs);
    }, meta);
  }
}
