import type { Logger } from '../log.js';
import { standDownMessage, type InstanceConfig, type OtherInstance } from '../planner/instance.js';

/**
 * Says at `err` when another live pve-runners instance makes pools stand down — when it is first
 * seen, when the pools it stands on change, and every `repeatMs` while it lasts (one line a tick
 * would flood the journal; one line ever would scroll away) — and once when it is taken for gone.
 */
export class InstanceLog {
  private readonly said = new Map<string, { pools: string; at: number }>();

  constructor(private readonly log: Logger, private readonly self: InstanceConfig, private readonly repeatMs: number) {}

  report(others: readonly OtherInstance[], now: number): void {
    const live = new Set<string>();
    for (const o of others) {
      if (!o.live) continue;
      live.add(o.id);
      const pools = o.pools.join(',');
      const was = this.said.get(o.id);
      if (was && was.pools === pools && now - was.at < this.repeatMs) continue;
      this.said.set(o.id, { pools, at: now });
      this.log.error(standDownMessage(this.self, o, now), { instance: o.id, pools });
    }
    for (const id of this.said.keys()) {
      if (live.has(id)) continue;
      this.said.delete(id);
      const gone = others.find((o) => o.id === id);
      this.log.warn(`pve-runners instance '${id}' ${gone ? `made no VM for ${Math.round(this.self.takeoverAfterMs / 1000)}s (INSTANCE_TAKEOVER_AFTER): taken for gone, its VMs are taken over` : 'has no VM left in our pools'}; creating again`, { instance: id });
    }
  }
}
