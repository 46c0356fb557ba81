/**
 * The linked slots of one storage lock, with their starts spaced in time. A shared storage's cfs
 * lock is unfair (a waiter retries its mkdir once a second) and the locked steps of a linked clone
 * (cloud-init volume, then base disk) or of a destroy (one vdisk_free per volume) come back to
 * back, so the holder takes the lock again at once for its next step: a clone that asks just after
 * another took the lock waits for that one's whole locked sequence, not one step (a local flock is
 * handed to a waiter at once: one step), and two started together can make the second wait out
 * PVE's 10 s. Entries of a lock
 * therefore start apart: as long as another runs, an entry starts only once the lock is projected
 * free within half an entry's time, so it waits for the lock half an entry at most and the two
 * interleave instead of queueing at once — and within 5 s at most, half of PVE's timeout, however
 * long the entries are: on a storage that slow, a clone started earlier would be one that times out.
 *
 * The projection: each kind (clone, destroy) has an estimate per lock, how long an entry keeps the
 * lock busy once it could have it: measured on the daemon's clock from its start, or from the end
 * of the entries running when it started if they ended later. A running entry is done an estimate
 * after the later of its start and the previous one's projected end (the last entry that ended, for
 * the first). Taking the whole entry as locked is what a linked clone is (its work is the storage
 * steps) and errs long for the rest. Being late only lengthens the gaps: an entry running past its
 * projection may be holding the lock for longer than thought, so nothing starts until it ends; a
 * kind with no estimate yet runs alone, nothing else starting until it ended; a sample longer than
 * the estimate replaces it, a shorter one moves it half-way. Each of those waits ends after 30 s
 * (six times the 5 s cap): an entry that old is stuck elsewhere (a lost answer, a hung task), and
 * one stuck clone must not stop every other on its storage until the clone timeout.
 */
import type { Clock } from '../clock.js';

export type SpacedKind = 'clone' | 'destroy';

interface Entry {
  kind: SpacedKind;
  start: number;
  /** the entries running when this one started: it could not have the lock before they ended */
  ahead: Entry[];
  ended?: number;
}

export class SpacedSlots {
  private readonly waiting: Array<{ kind: SpacedKind; go: (e: Entry) => void }> = [];
  private readonly running: Entry[] = [];
  private readonly estimates = new Map<SpacedKind, number>();
  private lastEnd = -Infinity;
  private alarm?: { at: number; stop: AbortController };

  /** `maxWaitMs`: the longest an entry is started to wait for the lock (Timings.lockWaitMs, half of PVE's 10 s) */
  constructor(private readonly clock: Clock, private readonly limit: number, private readonly maxWaitMs: number) {}

  /** Runs `f` once a slot is free and the spacing allows, FIFO. */
  async run(kind: SpacedKind, f: () => Promise<void>): Promise<void> {
    const entry = await new Promise<Entry>((go) => {
      this.waiting.push({ kind, go });
      this.pump();
    });
    let ok = false;
    try {
      await f();
      ok = true;
    } finally {
      this.end(entry, ok);
    }
  }

  /** The estimate of `kind` on this lock, once one of that kind ended (what the tests check the update rule by). */
  estimate(kind: SpacedKind): number | undefined {
    return this.estimates.get(kind);
  }

  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (!next) return this.disarm();
      const now = this.clock.now();
      const at = this.startAt(next.kind, now);
      if (at === undefined) return this.disarm(); // an end decides
      if (at > now) return this.arm(at);
      this.waiting.shift();
      const entry: Entry = { kind: next.kind, start: now, ahead: [...this.running] };
      this.running.push(entry);
      next.go(entry);
    }
  }

  /**
   * An entry running this long holds its slot but no longer the others' start: its clone's answer
   * was lost or its task hangs (an end may be minutes away, at the clone timeout), and an entry
   * holding the lock that long would make any waiter fail PVE's 10 s anyway — which is retried.
   */
  private get staleMs(): number {
    return 6 * this.maxWaitMs;
  }

  /** When an entry of `kind` may start; undefined: not before a running entry ends. */
  private startAt(kind: SpacedKind, now: number): number | undefined {
    if (this.running.length >= this.limit) return undefined;
    const live = this.running.filter((e) => now - e.start < this.staleMs);
    if (live.length === 0) return now;
    // waiting on a live entry lasts until it ends, or until it is stale
    const stale = Math.min(...live.map((e) => e.start + this.staleMs));
    const own = this.estimates.get(kind);
    if (own === undefined) return stale;
    let done = this.lastEnd;
    for (const e of live) {
      const est = this.estimates.get(e.kind);
      if (est === undefined) return stale; // it runs alone
      done = Math.max(done, e.start) + est;
      if (done < now) return stale;
    }
    return Math.min(done - Math.min(own / 2, this.maxWaitMs), stale);
  }

  private end(entry: Entry, ok: boolean): void {
    const now = this.clock.now();
    entry.ended = now;
    this.running.splice(this.running.indexOf(entry), 1);
    if (ok) {
      const free = Math.max(entry.start, ...entry.ahead.map((a) => a.ended ?? -Infinity));
      const sample = now - free;
      const old = this.estimates.get(entry.kind);
      this.estimates.set(entry.kind, old === undefined || sample > old ? sample : (old + sample) / 2);
    }
    entry.ahead = [];
    this.lastEnd = Math.max(this.lastEnd, now);
    this.pump();
  }

  private arm(at: number): void {
    if (this.alarm && this.alarm.at <= at) return; // an earlier wake-up decides again anyway
    this.disarm();
    const alarm = { at, stop: new AbortController() };
    this.alarm = alarm;
    void this.clock.sleep(at - this.clock.now(), alarm.stop.signal).then(() => {
      if (alarm.stop.signal.aborted) return;
      this.alarm = undefined;
      this.pump();
    });
  }

  private disarm(): void {
    this.alarm?.stop.abort();
    this.alarm = undefined;
  }
}
