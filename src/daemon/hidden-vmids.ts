import type { PoolConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ProxmoxApi } from '../proxmox/api.js';

export interface HiddenVmidsDeps {
  proxmox: ProxmoxApi;
  pools: readonly PoolConfig[];
  log: Logger;
  /**
   * How long a hidden VMID may be a clone of ours still running (the planner counts it meanwhile):
   * past this it is re-probed only every `staleProbeMs`.
   */
  windowMs: number;
  staleProbeMs: number;
  /** probes at once */
  concurrency?: number;
}

interface Entry {
  /** epoch ms it was first found taken but unlisted */
  since: number;
  probedAt: number;
}

/**
 * VMIDs inside the pools' ranges that Proxmox calls taken (GET /cluster/nextid sees every VMID) but
 * the token's /cluster/resources does not list: a VM the token lacks VM.Audit on — someone else's,
 * or a clone of ours still running (qemu-server adds a clone to its resource pool only when the
 * task ends). Learnt cheaply: every unlisted VMID of every range is probed once at start; after
 * that only the known-hidden ones (each tick while they may be our clone, then every
 * `staleProbeMs`), VMIDs whose creation by this process ended (`suspect`), and what the executor
 * finds itself (`noteTaken`). A VMID that shows up in the listing costs no request: it is dropped.
 */
export class HiddenVmids {
  private readonly taken = new Map<number, Entry>();
  private readonly toProbe = new Set<number>();

  constructor(private readonly d: HiddenVmidsDeps) {
    for (const p of d.pools) for (let id = p.vmidRange.lo; id <= p.vmidRange.hi; id++) this.toProbe.add(id);
  }

  /** A reload: VMIDs of new or widened ranges are probed once; those outside every range are forgotten. */
  setPools(pools: readonly PoolConfig[]): void {
    const before = this.d.pools;
    this.d.pools = pools;
    const was = (id: number) => before.some((p) => id >= p.vmidRange.lo && id <= p.vmidRange.hi);
    for (const p of pools) for (let id = p.vmidRange.lo; id <= p.vmidRange.hi; id++) if (!was(id)) this.toProbe.add(id);
    for (const id of [...this.taken.keys(), ...this.toProbe]) {
      if (this.inRanges(id)) continue;
      this.taken.delete(id);
      this.toProbe.delete(id);
    }
  }

  /** VMID → epoch ms it was first found taken but unlisted. */
  snapshot(): ReadonlyMap<number, number> {
    return new Map([...this.taken].map(([id, e]) => [id, e.since]));
  }

  /** Whether the next refresh may find a VMID hidden: some are already, or some are still to be probed. */
  mayFind(): boolean {
    return this.taken.size > 0 || this.toProbe.size > 0;
  }

  has(vmid: number): boolean {
    return this.taken.has(vmid);
  }

  /** Found taken by a probe or a collision while this tick's listing did not show it. */
  noteTaken(vmid: number, now: number): void {
    if (!this.inRanges(vmid)) return;
    const known = this.taken.get(vmid);
    if (known) known.probedAt = now;
    else {
      this.taken.set(vmid, { since: now, probedAt: now });
      // the planner says what it makes of it, once
      this.d.log.debug(`VMID ${vmid} is taken (Proxmox's nextid) but not listed`, { vmid });
    }
    this.toProbe.delete(vmid);
  }

  /** A creation of this process ended: if its VM is not listed next tick, ask whether the VMID is taken. */
  suspect(vmid: number): void {
    if (this.inRanges(vmid)) this.toProbe.add(vmid);
  }

  /**
   * Brings the set up to date with this tick's listing. `busy` are VMIDs this process is creating
   * (invisible while they clone, and known): neither probed nor counted here. A probe that fails
   * keeps what was known and is tried again next tick.
   */
  async refresh(listed: ReadonlySet<number>, busy: ReadonlySet<number>, now: number): Promise<void> {
    const due: number[] = [];
    for (const [id, e] of this.taken) {
      if (listed.has(id) || busy.has(id)) {
        this.taken.delete(id);
        continue;
      }
      const stale = now - e.since >= this.d.windowMs;
      if (!stale || now - e.probedAt >= this.d.staleProbeMs) due.push(id);
    }
    for (const id of this.toProbe) {
      // one this process is creating is asked about once its creation has ended (see suspect)
      if (listed.has(id)) this.toProbe.delete(id);
      else if (!busy.has(id) && !this.taken.has(id)) due.push(id);
    }
    const limit = this.d.concurrency ?? 8;
    for (let i = 0; i < due.length; i += limit) {
      await Promise.all(due.slice(i, i + limit).map((id) => this.probe(id, now)));
    }
  }

  private async probe(vmid: number, now: number): Promise<void> {
    let free: boolean;
    try {
      free = await this.d.proxmox.isVmidFree(vmid);
    } catch (e) {
      this.d.log.debug(`cannot check whether VMID ${vmid} is taken: ${(e as Error).message}; trying again next tick`, { vmid });
      return;
    }
    this.toProbe.delete(vmid);
    if (!free) return this.noteTaken(vmid, now);
    if (this.taken.delete(vmid)) this.d.log.info(`VMID ${vmid}, taken by a VM this token could not see, is free again`, { vmid });
  }

  private inRanges(vmid: number): boolean {
    return this.d.pools.some((p) => vmid >= p.vmidRange.lo && vmid <= p.vmidRange.hi);
  }
}
