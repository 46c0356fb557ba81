/**
 * How many clones run at once, and against what. Proxmox takes a storage's lock for every storage
 * step of a clone (pve-storage cluster_lock_storage: a flock per node for a local storage, one cfs
 * lock for the whole cluster for a shared one) and fails a clone that waited 10 s for it; the
 * copies of full clones share the storage's bandwidth. So clones are limited per storage lock,
 * not per node: two linked clones in flight per lock, their starts spaced (lock-spacing.ts) so that
 * the second asks for the lock late in the first one's use of it, not together with it: the lock
 * is unfair and a clone's locked steps come back to back, so a clone that asks just after another
 * took it waits for the other's whole locked sequence, not one step. Spaced, a clone waits for the
 * lock about half a clone's time and 5 s at most, and the lock is never idle while the daemon polls
 * a task that ended. Full clones have their own two slots per storage, so a linked clone never queues
 * behind minutes of copying: a third copy would gain nothing (N copies at once each take N times as
 * long), a second overlaps its allocation and the daemon's gaps with the first's copy (their starts
 * are not spaced: a copy's time says nothing of its allocations'). A destroy frees its volumes
 * under the same lock (vdisk_free), so it takes a linked slot too. See docs/simulator.md "Locks
 * during a clone" and the measurements in README "Clone concurrency".
 */
import PQueue from 'p-queue';
import type { Clock } from '../clock.js';
import type { ProxmoxApi, VmConfigValue } from '../proxmox/api.js';
import { SpacedSlots, type SpacedKind } from './lock-spacing.js';

export interface CloneSlotLimits {
  /** linked clones at once per storage lock (2) */
  linked: number;
  /** full clones at once per storage (2) */
  full: number;
}

export const DEFAULT_CLONE_SLOTS: CloneSlotLimits = { linked: 2, full: 2 };

export interface CloneTarget {
  node: string;
  templateVmid: number;
  full: boolean;
  /** a full clone's target storage, when the pool names one */
  storage?: string;
}

const DISK = /^(scsi|virtio|sata|ide)\d+$/;

export class CloneSlots {
  /** full clones per storage */
  private readonly queues = new Map<string, PQueue>();
  /** linked clones and destroys per storage lock */
  private readonly spaced = new Map<string, SpacedSlots>();
  /** node/template → the template's disk storage and whether it is shared (asked once, by the first clone) */
  private readonly storages = new Map<string, Promise<{ storage: string; shared: boolean } | undefined>>();
  /** storage@node → shared or not */
  private readonly shared = new Map<string, Promise<boolean>>();

  constructor(
    private readonly proxmox: ProxmoxApi,
    /** the daemon's clock and Timings.lockWaitMs: the spacing of linked slots (lock-spacing.ts) */
    private readonly spacing: { clock: Clock; lockWaitMs: number },
    private readonly limits: CloneSlotLimits = DEFAULT_CLONE_SLOTS,
  ) {}

  /** Runs `f` (the clone request and its task) in a slot of the storage lock it will take. */
  async run(t: CloneTarget, f: () => Promise<void>): Promise<void> {
    const key = await this.lockOf(t);
    if (t.full) await this.queue(key).add(f);
    else await this.linked(key, 'clone', f);
  }

  /**
   * Runs `f` (a destroy and its task) in a linked-clone slot of the storage lock its removals take:
   * the storage of the VM's first disk, as for a clone of its template.
   */
  async runDestroy(node: string, config: Record<string, VmConfigValue>, f: () => Promise<void>): Promise<void> {
    const storage = diskStorage(config);
    const shared = storage === undefined ? undefined : await this.isShared(node, storage).catch(() => undefined);
    const key = storage === undefined || shared === undefined ? `node ${node}` : shared ? `storage ${storage}` : `storage ${storage}@${node}`;
    await this.linked(key, 'destroy', f);
  }

  private linked(key: string, kind: SpacedKind, f: () => Promise<void>): Promise<void> {
    let s = this.spaced.get(key);
    if (!s) this.spaced.set(key, (s = new SpacedSlots(this.spacing.clock, this.limits.linked, this.spacing.lockWaitMs)));
    return s.run(kind, f);
  }

  private queue(key: string): PQueue {
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = new PQueue({ concurrency: this.limits.full })));
    return q;
  }

  /**
   * The lock a clone takes: its storage's, on its node or cluster-wide. When that cannot be read
   * (the token lacks Datastore.Audit, Proxmox is restarting), the node: as if the storage were local.
   */
  private async lockOf(t: CloneTarget): Promise<string> {
    const known = await this.templateStorage(t).catch(() => undefined);
    if (!known) return `node ${t.node}`;
    const storage = t.full && t.storage ? t.storage : known.storage;
    const shared = storage === known.storage ? known.shared : await this.isShared(t.node, storage).catch(() => false);
    return shared ? `storage ${storage}` : `storage ${storage}@${t.node}`;
  }

  private templateStorage(t: CloneTarget): Promise<{ storage: string; shared: boolean } | undefined> {
    const k = `${t.node}/${t.templateVmid}`;
    let p = this.storages.get(k);
    if (!p) {
      this.storages.set(k, (p = this.readTemplateStorage(t)));
      p.catch(() => this.storages.delete(k)); // asked again by the next clone
    }
    return p;
  }

  private async readTemplateStorage(t: CloneTarget): Promise<{ storage: string; shared: boolean } | undefined> {
    const storage = diskStorage(await this.proxmox.getConfig(t.node, t.templateVmid));
    if (storage === undefined) return undefined;
    return { storage, shared: await this.isShared(t.node, storage) };
  }

  private isShared(node: string, storage: string): Promise<boolean> {
    const k = `${storage}@${node}`;
    let p = this.shared.get(k);
    if (!p) {
      this.shared.set(k, (p = this.proxmox.nodeStorages(node).then((list) => {
        const s = list.find((x) => x.storage === storage);
        if (!s) throw new Error(`storage ${storage} is not listed on ${node}`);
        return s.shared;
      })));
      p.catch(() => this.shared.delete(k));
    }
    return p;
  }
}

/** The storage of the first disk in PVE's order that is not cloud-init: the one a clone's storage steps lock. */
function diskStorage(config: Record<string, VmConfigValue>): string | undefined {
  const disk = Object.keys(config).filter((o) => DISK.test(o)).sort()
    .map((o) => String(config[o]))
    .filter((v) => !v.includes('media=cdrom'))
    .map((v) => v.split(',')[0]!)
    .find((v) => v.includes(':'));
  return disk === undefined ? undefined : disk.slice(0, disk.indexOf(':'));
}
