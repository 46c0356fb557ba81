import type { PoolConfig } from '../config/types.js';
import { formatDuration } from '../util/duration.js';
import type { RemoveVmAction } from './actions.js';
import { fmtAge, inRange, type PlanContext } from './context.js';
import { OWNER_TAG } from './names.js';
import type { ObservedRunner, ObservedVm, VmMeta } from './observation.js';

/**
 * Draining: VMs of ours that no configured pool holds any more — their pool was removed from
 * pools.yaml, or their VMID fell out of its shrunk range (a reload, or a restart after editing the
 * file). Nothing else knows them, so they are never given new work, and removed once stopped or
 * idle, never while a job runs on them.
 *
 * Whose they are is read from the VM alone, not from a previous config (a restart has none): both
 * our tags, and the description pve-runners wrote at clone time naming the same pool and the VM's
 * own name. The executor decides again on the VM's current config before it changes anything.
 */

/** How long a drained VM may run without its runner registering before it is taken as failed (its pool's boot_timeout is gone with the pool). */
export const DRAIN_BOOT_TIMEOUT_MS = 10 * 60_000;

export interface DrainingVm {
  vm: ObservedVm;
  /** the pool its marks name (lower case, as the tag carries it) */
  pool: string;
  scope: string | undefined;
  runner: ObservedRunner | undefined;
  /** why no configured pool holds it */
  why: string;
  /** what it is doing, for the logs and `status` */
  state: 'busy' | 'idle' | 'booting' | 'stopped' | 'gone-runner' | 'boot-timeout' | 'acting' | 'other';
}

/**
 * The one ownership predicate of draining, shared by the planner (on the observed VM) and the
 * executor (on the config it reads just before a change): our two tags naming `pool`, and our
 * description naming the same pool and the VM's own name. Whose installation a VM belongs to
 * (the instance id in its metadata) is to be checked here too.
 */
export function drainMarks(tags: readonly string[], name: string, meta: VmMeta | undefined): string | undefined {
  const lower = tags.map((t) => t.toLowerCase());
  if (!lower.includes(OWNER_TAG)) return undefined;
  const poolTags = lower.filter((t) => t.startsWith('pvr-pool.'));
  if (poolTags.length !== 1 || !meta) return undefined;
  const pool = poolTags[0]!.slice('pvr-pool.'.length);
  if (meta.pool.toLowerCase() !== pool || meta.runner !== name) return undefined;
  return pool;
}

/**
 * Why a tagged VM outside its pool's range — or naming no configured pool — is drained, or
 * undefined when its marks do not let it be touched at all (then it is only noted).
 */
export function drainReason(vm: ObservedVm, tagPool: PoolConfig | undefined): string | undefined {
  if (vm.configUnread || vm.lock === 'clone') return undefined;
  const pool = drainMarks(vm.tags, vm.name, vm.meta);
  if (pool === undefined) return undefined;
  if (!tagPool) return `pool ${pool} is no longer configured`;
  if (!inRange(tagPool, vm.vmid)) return `VMID ${vm.vmid} lies outside pool ${tagPool.name}'s range ${tagPool.vmidRange.lo}-${tagPool.vmidRange.hi}`;
  return undefined;
}

export function drainingVm(ctx: PlanContext, vm: ObservedVm, pool: string, why: string): DrainingVm {
  const scope = vm.meta?.warm ? undefined : vm.meta?.scope;
  // Its runner is no pool's now (names are matched to configured pools): found by the VM's own name.
  const runner = ctx.obs.runners.find((r) => r.name === vm.name && (scope === undefined || r.scope === scope));
  return { vm, pool, scope, runner, why, state: stateOf(ctx, vm, scope, runner) };
}

function stateOf(ctx: PlanContext, vm: ObservedVm, scope: string | undefined, runner: ObservedRunner | undefined): DrainingVm['state'] {
  const { obs } = ctx;
  // A creation for a pool a reload removed runs on (its VM is stopped between clone and start): left to it.
  if (obs.inFlight.busyVmids.has(vm.vmid) || ctx.creatingByVmid.has(vm.vmid) || vm.lock) return 'acting';
  if (vm.status === 'stopped') return 'stopped';
  if (vm.status !== 'running') return 'other';
  // Any registration of its name busy (in whatever scope) is taken to be its own: it waits.
  if (obs.jobStarted?.has(vm.name) || obs.runners.some((r) => r.name === vm.name && r.busy)) return 'busy';
  if (runner?.status === 'online') return 'idle';
  // Its runners' listing did not load: whether it is busy is unknown, so it waits.
  if (scope === undefined ? !vm.meta?.warm : !obs.runnerScopes.includes(scope)) return 'other';
  if (obs.inFlight.seenOnline.has(vm.name)) return 'gone-runner';
  const age = vm.meta ? obs.now - vm.meta.createdAt : undefined;
  if (age !== undefined && age > (ctx.cfg.drainBootTimeoutMs ?? DRAIN_BOOT_TIMEOUT_MS)) return 'boot-timeout';
  return 'booting';
}

/** Phase (with the other removals): drained VMs that are stopped, idle, or whose runner is done or never came. */
export function drainRemovals(ctx: PlanContext, draining: readonly DrainingVm[]): { actions: RemoveVmAction[]; removing: Set<number> } {
  const actions: RemoveVmAction[] = [];
  const removing = new Set<number>();
  if (!ctx.cleanup) return { actions, removing };
  for (const d of draining) {
    const why = reasonToRemove(ctx, d);
    if (why === undefined) continue;
    const runner = d.runner && !ctx.obs.inFlight.deletingRunners.has(d.runner.id) ? { id: d.runner.id, scope: d.runner.scope } : undefined;
    removing.add(d.vm.vmid);
    actions.push({ kind: 'remove-vm', pool: d.pool, vmid: d.vm.vmid, node: d.vm.node, name: d.vm.name, running: d.vm.status === 'running', runner, scope: d.scope, drain: true, reason: `drained (${d.why}): ${why}` });
  }
  return { actions, removing };
}

function reasonToRemove(ctx: PlanContext, d: DrainingVm): string | undefined {
  switch (d.state) {
    case 'stopped':
      return 'VM is stopped';
    case 'idle':
      return 'its runner is idle (a job it takes meanwhile keeps it: GitHub refuses to delete a busy runner)';
    case 'gone-runner':
      return 'its runner finished and unregistered';
    case 'boot-timeout':
      return `its runner did not register within ${formatDuration(ctx.cfg.drainBootTimeoutMs ?? DRAIN_BOOT_TIMEOUT_MS)} (VM age ${fmtAge(ctx.obs.now - d.vm.meta!.createdAt)})`;
    default:
      return undefined;
  }
}

export function drainNote(d: DrainingVm): string {
  return `VM ${d.vm.vmid} (${d.vm.name}) on ${d.vm.node} is ours but ${d.why}: drained — no new work, removed once stopped or idle, never while busy`;
}
