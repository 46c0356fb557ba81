import type { TierSizes } from '../config/types.js';
import type { GithubSim } from './github/github-sim.js';
import type { PveSim } from './pve/index.js';

/** Leftovers of pve-runners at the end of a run. */
export interface Leftovers {
  vms: number[];
  snippets: string[];
  registrations: string[];
}

/**
 * What the pools' hot and warm sizes in force keep standing when the workload is done — and so is
 * no leak: per pool, up to `hot` running VMs whose registration is online and idle (that
 * registration too), and up to `warm` stopped VMs never started (described warm, no registration
 * of their name). Anything beyond, or in any other state, stays a leak.
 */
export function withoutStandingTiers(pve: PveSim, github: GithubSim, sizes: ReadonlyMap<string, TierSizes>, left: Leftovers): Leftovers {
  const keptVms = new Set<number>();
  const keptRegistrations = new Set<string>();
  const used = new Map<string, { hot: number; warm: number }>();
  for (const vm of pve.ourVms().sort((a, b) => a.vmid - b.vmid)) {
    const pool = vm.tags.find((t) => t.startsWith('pvr-pool.'))?.slice('pvr-pool.'.length);
    const want = pool === undefined ? undefined : sizes.get(pool);
    if (!want || !vm.tags.includes('pve-runners') || vm.lock !== undefined) continue;
    const n = used.get(pool!) ?? { hot: 0, warm: 0 };
    used.set(pool!, n);
    const runner = github.runnerState(vm.name);
    if (vm.status === 'running' && runner?.status === 'online' && !runner.busy && n.hot < want.hot) {
      n.hot++;
      keptVms.add(vm.vmid);
      keptRegistrations.add(vm.name.toLowerCase());
    } else if (vm.status === 'stopped' && vm.warm && runner === undefined && n.warm < want.warm) {
      n.warm++;
      keptVms.add(vm.vmid);
    }
  }
  return {
    vms: left.vms.filter((v) => !keptVms.has(v)),
    snippets: left.snippets,
    registrations: left.registrations.filter((r) => !keptRegistrations.has(r.toLowerCase())),
  };
}
