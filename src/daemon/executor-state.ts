import type { InFlight } from '../planner/observation.js';
import type { Timings } from './timings.js';

export type Creating = InFlight['creating'][number];

const FINISHED_KEPT_MS = 10 * 60_000;

/**
 * What the executor remembers between actions: work under way, and the few facts Proxmox and
 * GitHub report late (a VMID just freed, a registration just deleted, a runner seen online). All of
 * it may be lost on restart; each tick reads the rest again.
 */
export class ExecutorState {
  readonly creating = new Map<number, Creating>();
  /** creations that ended recently (epoch ms): a tick that observed while they ran must still see them */
  readonly finished: Array<{ entry: Creating; at: number }> = [];
  readonly busyVmids = new Set<number>();
  readonly deletingRunners = new Set<number>();
  /** registrations this process deleted (epoch ms): GitHub may still list them for a while */
  readonly deletedRunners = new Map<number, number>();
  /** scope key → until when (epoch ms) registrations are not tried: GitHub refused them for a missing permission */
  readonly cannotRegister = new Map<string, number>();
  readonly recentlyFreed = new Map<number, number>();
  readonly seenOnline = new Set<string>();
  /** VMs a person took over (our marks removed): never changed again, while they exist */
  readonly disowned = new Set<number>();
  /** UPIDs of the clone tasks this process is awaiting */
  readonly cloneUpids = new Set<string>();
  readonly freedListeners: Array<() => void> = [];

  constructor(private readonly timings: Timings) {}

  /**
   * A creation (or a warm VM's start) ended, however: it stays visible to ticks that observed while
   * it ran — unless `forget`: a warm VM's start that failed started nothing, and counting it as a
   * runner on its way would keep its job waiting for one that never comes.
   */
  ended(vmid: number, now: number, forget = false): Creating | undefined {
    const entry = this.creating.get(vmid);
    this.creating.delete(vmid);
    if (entry && !forget) this.finished.push({ entry, at: now });
    return entry;
  }

  freed(vmid: number, name: string, now: number): void {
    this.recentlyFreed.set(vmid, now);
    this.seenOnline.delete(name);
    for (const cb of this.freedListeners) cb();
  }

  /** See Executor.inFlight. */
  snapshot(now: number, since?: number): InFlight {
    const t = this.timings;
    for (const [vmid, at] of this.recentlyFreed) if (now - at > t.vmidCooldownMs) this.recentlyFreed.delete(vmid);
    for (const [id, at] of this.deletedRunners) if (now - at > t.deletedRunnerMemoryMs) this.deletedRunners.delete(id);
    while (this.finished.length && now - this.finished[0]!.at > Math.max(FINISHED_KEPT_MS, t.statusLagMs)) this.finished.shift();
    // Ended creations stay visible while Proxmox's resource list may still show the old state, and
    // to a tick that began observing before they ended.
    const recent = (f: { at: number }) => now - f.at < t.statusLagMs || (since !== undefined && f.at >= since);
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
}
