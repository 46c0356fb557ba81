/**
 * A VM's config lock as a destroy holds it: qemu-server API2/Qemu.pm destroy_vm's worker runs
 * `PVE::QemuConfig->lock_config($vmid, …)` around all of PVE::QemuServer::destroy_vm — every
 * vdisk_free, then the config — so a second destroy of the same VM (its synchronous checks pass: the
 * config carries no `lock` property meanwhile) blocks in flock(2) on
 * `/var/lock/qemu-server/lock-<vmid>.conf` for lock_file's default 10 s. Waiters are woken in no
 * particular order (as for the storage locks); one that gets the lock then re-runs the early checks
 * and finds the config gone if the holder removed it.
 */
import type { SimClock } from '../clock.js';
import type { Rng } from '../rng.js';
import type { Vm } from './cluster.js';

export const CONFIG_LOCK_TIMEOUT_MS = 10_000;

interface Waiter {
  take: () => void;
}

export class ConfigLocks {
  private readonly held = new WeakMap<Vm, Waiter[]>();

  constructor(private readonly clock: SimClock, private readonly rng: Rng) {}

  isHeld(vm: Vm): boolean {
    return this.held.has(vm);
  }

  /** `locked(release)` once the lock is had (release it when done), or `timedOut()` after 10 s. */
  acquire(vm: Vm, locked: (release: () => void) => void, timedOut: () => void): void {
    const release = () => {
      const waiters = this.held.get(vm)!;
      if (waiters.length === 0) return void this.held.delete(vm);
      waiters.splice(this.rng.int(0, waiters.length - 1), 1)[0]!.take();
    };
    const waiters = this.held.get(vm);
    if (!waiters) {
      this.held.set(vm, []);
      return locked(release);
    }
    const waiter: Waiter = {
      take: () => {
        cancel();
        locked(release);
      },
    };
    const cancel = this.clock.after(CONFIG_LOCK_TIMEOUT_MS, () => {
      waiters.splice(waiters.indexOf(waiter), 1);
      timedOut();
    });
    waiters.push(waiter);
  }
}
