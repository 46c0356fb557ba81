/**
 * pve-storage's per-storage lock (Plugin.pm `cluster_lock_storage`), which vdisk_alloc, vdisk_clone
 * and vdisk_free take around every allocation, snapshot-clone and removal of a volume:
 * - local storage: `PVE::Tools::lock_file` on `/var/lock/pve-manager/pve-storage-<storeid>` — a
 *   flock on that node only, so each node's local-lvm has its own lock. Waiters block in flock(2)
 *   and, when it is released, whichever the kernel wakes first takes it: no queue order. After 10 s
 *   (lock_file_full's default, vdisk_* pass no timeout) `can't lock file '<path>' - got timeout`.
 * - shared storage: `PVE::Cluster::cfs_lock_storage`, a mkdir of `/etc/pve/priv/lock/storage-<id>`
 *   in pmxcfs, one lock for the whole cluster. Waiters retry the mkdir on their own schedule (sleeps
 *   of min(remaining, 10) × 100 ms), so a freed lock sits idle until someone's next try; they give
 *   up with `cfs-lock 'storage-<id>' error: got lock request timeout` once the next sleep would
 *   reach 10 s, and work under the lock is cut off after 60 s (`'storage-<id>'-locked command timed
 *   out - aborting`).
 */
import type { SimClock } from '../clock.js';
import type { Rng } from '../rng.js';

export interface StorageRef {
  storage: string;
  /** the node the worker runs on: a local storage's lock is that node's */
  node: string;
  shared: boolean;
}

/** The lock's acquisition timeout: lock_file_full's and cfs_lock's default, which vdisk_* keep. */
export const STORAGE_LOCK_TIMEOUT_MS = 10_000;
/** cfs_lock's fixed limit on the work done while holding a cluster lock. */
export const CFS_LOCKED_COMMAND_MS = 60_000;

export const localLockPath = (storage: string) => `/var/lock/pve-manager/pve-storage-${storage}`;

interface Waiter {
  take: () => void;
  cancel: () => void;
}

export class StorageLocks {
  private readonly held = new Set<string>();
  /** flock waiters per local lock; cfs waiters poll and are not listed */
  private readonly blocked = new Map<string, Waiter[]>();

  constructor(private readonly clock: SimClock, private readonly rng: Rng) {}

  /** Whether the lock of `ref` is held now (for tests and the report). */
  isHeld(ref: StorageRef): boolean {
    return this.held.has(key(ref));
  }

  /**
   * Runs `holdMs` of work under the lock of `ref`, then `done()`; or `failed(message)` when the
   * lock is not had in time (nothing was done then). Lines a real worker prints while it waits go
   * to `log`.
   */
  run(ref: StorageRef, holdMs: number, log: string[], done: () => void, failed: (message: string) => void): void {
    const k = key(ref);
    const work = () => {
      this.held.add(k);
      const cut = ref.shared && holdMs > CFS_LOCKED_COMMAND_MS;
      this.clock.after(cut ? CFS_LOCKED_COMMAND_MS : holdMs, () => {
        this.release(k);
        if (cut) failed(`'storage-${ref.storage}'-locked command timed out - aborting`);
        else done();
      });
    };
    if (ref.shared) this.pollCfs(k, ref.storage, log, work, failed);
    else this.flock(k, ref.storage, log, work, failed);
  }

  private flock(k: string, storage: string, log: string[], work: () => void, failed: (message: string) => void): void {
    if (!this.held.has(k)) return work();
    // lock_file_full prints this without a newline, then " OK" once flock returns
    const line = log.push('trying to acquire lock...') - 1;
    const waiters = this.blocked.get(k) ?? [];
    this.blocked.set(k, waiters);
    const waiter: Waiter = {
      take: () => {
        cancelTimeout();
        log[line] = 'trying to acquire lock... OK';
        work();
      },
      cancel: () => waiters.splice(waiters.indexOf(waiter), 1),
    };
    const cancelTimeout = this.clock.after(STORAGE_LOCK_TIMEOUT_MS, () => {
      waiter.cancel();
      failed(`can't lock file '${localLockPath(storage)}' - got timeout`);
    });
    waiters.push(waiter);
  }

  /** cfs_lock's loop, step for step: try, sleep, try, … until the sleeps would reach the timeout. */
  private pollCfs(k: string, storage: string, log: string[], work: () => void, failed: (message: string) => void): void {
    const timeoutS = STORAGE_LOCK_TIMEOUT_MS / 1000;
    const since = this.clock.nowMs();
    let sleptUs = 0;
    const attempt = () => {
      if (!this.held.has(k)) return work();
      // PVE's sleeps are accurate to the millisecond; the simulator's timers come late under load
      // (at --speed 20, 5 ms late is 0.1 s of scenario time a sleep), which would let a waiter
      // give up later than PVE's would: what it slept counts as at least the time that passed.
      sleptUs = Math.max(sleptUs, (this.clock.nowMs() - since) * 1000);
      const sleptS = Math.floor(sleptUs / 1e6);
      const remainingS = Math.max(timeoutS - sleptS, 1);
      const sleepUs = Math.min(remainingS, 10) * 100_000;
      const nextSleptS = Math.floor((sleptUs + sleepUs) / 1e6);
      if (nextSleptS >= timeoutS) return failed(`cfs-lock 'storage-${storage}' error: got lock request timeout`);
      if (nextSleptS > sleptS) log.push(`trying to acquire cfs lock 'storage-${storage}' ...`);
      sleptUs += sleepUs;
      this.clock.after(sleepUs / 1000, attempt);
    };
    attempt();
  }

  private release(k: string): void {
    this.held.delete(k);
    const waiters = this.blocked.get(k);
    if (!waiters?.length) return;
    // flock(2) wakes the blocked waiters and one of them wins: not necessarily the first to ask.
    const next = waiters[this.rng.int(0, waiters.length - 1)]!;
    next.cancel();
    next.take();
  }
}

/** One lock (and one device) per local storage per node; one per shared storage for the cluster. */
export const storageKey = (ref: StorageRef) => (ref.shared ? `cfs:${ref.storage}` : `${ref.node}:${ref.storage}`);
const key = storageKey;
