/**
 * The data copy of full clones (qemu-server clone_disk_copy_data: `qemu-img convert`, outside the
 * storage lock). Copies on one storage at once share its throughput evenly: with N running, each
 * moves at 1/N of the speed it has alone, so N copies started together all end after N times one
 * copy's time. Nothing in PVE divides bandwidth (a `bwlimit` only caps each copy); the device does.
 */
import type { SimClock } from '../clock.js';

interface Copy {
  /** ms of work left at full speed */
  left: number;
  done: () => void;
}

class Device {
  readonly copies = new Set<Copy>();
  private since = 0;
  private cancel: (() => void) | undefined;

  constructor(private readonly clock: SimClock) {}

  add(c: Copy): void {
    this.settle();
    this.copies.add(c);
    this.schedule();
  }

  /** Charges the time since the last change to every copy, at the speed each had. */
  private settle(): void {
    const now = this.clock.nowMs();
    const share = (now - this.since) / Math.max(1, this.copies.size);
    for (const c of this.copies) c.left -= share;
    this.since = now;
  }

  private schedule(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.copies.size === 0) return;
    const least = Math.min(...[...this.copies].map((c) => c.left));
    this.cancel = this.clock.after(Math.max(0, least) * this.copies.size, () => {
      this.cancel = undefined;
      this.settle();
      // float rounding: whatever is within a microsecond of done is done
      const finished = [...this.copies].filter((c) => c.left <= 1e-3);
      for (const c of finished) this.copies.delete(c);
      this.schedule();
      for (const c of finished) c.done();
    });
  }
}

export class DiskBandwidth {
  private readonly devices = new Map<string, Device>();

  constructor(private readonly clock: SimClock) {}

  /** Copies `workMs` (its time when alone on `device`), then calls `done`. */
  copy(device: string, workMs: number, done: () => void): void {
    let d = this.devices.get(device);
    if (!d) this.devices.set(device, (d = new Device(this.clock)));
    d.add({ left: workMs, done });
  }

  /** Copies running now on `device`. */
  running(device: string): number {
    return this.devices.get(device)?.copies.size ?? 0;
  }
}
