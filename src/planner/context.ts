import type { PoolConfig, TierSizes } from '../config/types.js';
import { otherInstances, type InstanceConfig, type OtherInstance } from './instance.js';
import { parseRunnerName } from './names.js';
import type { InFlight, ObservedRunner, ObservedVm, Observation } from './observation.js';

export interface PlanConfig {
  pools: readonly PoolConfig[];
  /** ≤ 0: no overall cap */
  maxTotalRunners: number;
  disableCleanup: boolean;
  /** create nothing while a runner VM of ours is stopped (with disableCleanup: inspect a failing template without new VMs piling up) */
  pauseOnStopped: boolean;
  /** a destroyed VMID is not reused for this long (Proxmox may still be tidying its disks) */
  vmidCooldownMs: number;
  /**
   * How long a VMID that is taken but not listed (see Observation.hiddenVmids) may be a clone of
   * ours still running: it counts against its pool's caps this long, then is someone else's.
   */
  hiddenVmidWindowMs: number;
  /** this installation's id and takeover bound; undefined: every VM of ours is this instance's (no other is looked for) */
  instance?: InstanceConfig;
  /** a drained VM's runner that has not registered by this age never will (default DRAIN_BOOT_TIMEOUT_MS) */
  drainBootTimeoutMs?: number;
}

/**
 * What a VM of ours (or one that may be ours) is doing, as far as this tick can tell. Each phase
 * reads roles, none changes them: classification is the only place that decides them.
 * 'unidentified': possibly ours (a clone in progress, an unreadable config, a VMID the token cannot
 * see): counted against the caps, never acted on.
 */
export type VmRole =
  | 'unidentified'
  | 'creating'
  /** a warm VM being cloned by this process */
  | 'warming'
  /** a warm VM ready to start: stopped, never started, no registration */
  | 'warm'
  | 'busy-op'
  | 'locked'
  | 'stopped'
  | 'booting'
  | 'idle'
  | 'running-job'
  | 'gone-runner'
  | 'boot-timeout'
  | 'unknown';

/** A VM counted as one of a pool's: every OwnedVm counts against that pool's caps. */
export interface OwnedVm {
  vm: ObservedVm;
  pool: PoolConfig;
  /** undefined: the VM is counted against the caps but serves no known scope (no runner on its way) */
  scope: string | undefined;
  role: VmRole;
  runner?: ObservedRunner;
  ageMs: number | undefined;
}

/** Lookups every phase needs, derived once from the config and the observation (read-only). */
export interface PlanContext {
  cfg: PlanConfig;
  obs: Observation;
  pools: readonly PoolConfig[];
  poolByName: ReadonlyMap<string, PoolConfig>;
  creatingByVmid: ReadonlyMap<number, InFlight['creating'][number]>;
  creatingNames: ReadonlySet<string>;
  /** our registrations, by name (the VM of a runner has the runner's name) */
  ourRunners: ReadonlyMap<string, ObservedRunner>;
  cleanup: boolean;
  /** other installations with VMs in our pools' ranges */
  others: readonly OtherInstance[];
  /** pools in whose range a live other instance has VMs: they get no new VM this tick */
  standingDown: ReadonlyMap<string, OtherInstance>;
}

/** The hot and warm sizes of `pool` in force this tick. */
export function sizesOf(ctx: PlanContext, pool: PoolConfig): TierSizes {
  return ctx.obs.tierSizes?.get(pool.name) ?? pool.sizes;
}

export function planContext(cfg: PlanConfig, obs: Observation): PlanContext {
  const ourRunners = new Map<string, ObservedRunner>();
  for (const r of obs.runners) if (parseRunnerName(cfg.pools, r.name)) ourRunners.set(r.name, r);
  const others = otherInstances(cfg.pools, obs.vms, cfg.instance, obs.now);
  const standingDown = new Map<string, OtherInstance>();
  for (const o of others) if (o.live) for (const p of o.pools) if (!standingDown.has(p)) standingDown.set(p, o);
  return {
    cfg,
    obs,
    pools: cfg.pools,
    poolByName: new Map(cfg.pools.map((p) => [p.name.toLowerCase(), p])),
    creatingByVmid: new Map(obs.inFlight.creating.map((c) => [c.vmid, c])),
    creatingNames: new Set(obs.inFlight.creating.map((c) => c.runnerName)),
    ourRunners,
    cleanup: !cfg.disableCleanup,
    others,
    standingDown,
  };
}

/** Creations of this process whose VM the listing does not show yet: they count all the same. */
export function unlistedCreations(ctx: PlanContext): InFlight['creating'] {
  return ctx.obs.inFlight.creating.filter((c) => !ctx.obs.vms.some((v) => v.vmid === c.vmid));
}

export const key = (pool: string, scope: string): string => `${pool}\n${scope}`;
export const inRange = (p: PoolConfig, vmid: number): boolean => vmid >= p.vmidRange.lo && vmid <= p.vmidRange.hi;
export const fmtAge = (ms: number): string => (ms >= 120_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`);
