import type { PoolConfig } from '../config/types.js';
import type { AdoptVmAction } from './actions.js';
import { inRange, type OwnedVm, type PlanContext } from './context.js';
import { claimOf } from './instance.js';
import { OWNER_TAG, parseRunnerName } from './names.js';
import type { ObservedVm } from './observation.js';
import { drainingVm, drainNote, drainReason, type DrainingVm } from './drain.js';

const POOL_TAG = 'pvr-pool.';

export interface Classification {
  /** every VM counted against a pool's caps, with its role */
  owned: OwnedVm[];
  /** half-made VMs of ours to finish (their tags were never set) */
  adopt: AdoptVmAction[];
  /** VMs of ours that no configured pool holds: never counted as supply, removed once not busy */
  draining: DrainingVm[];
  notes: string[];
}

/**
 * Phase 1: which VMs are ours (both tags, in its pool's range), half-made by us (to adopt), ours but
 * held by no configured pool (drained), possibly ours (counted, never touched), or not ours — and
 * what each of ours is doing.
 */
export function classifyVms(ctx: PlanContext): Classification {
  const { pools, poolByName, creatingByVmid, obs } = ctx;
  const owned: OwnedVm[] = [];
  const adopt: AdoptVmAction[] = [];
  const draining: DrainingVm[] = [];
  const notes: string[] = [];
  for (const vm of obs.vms) {
    if (vm.template) continue;
    if (vm.kind === 'lxc') {
      if (pools.some((p) => inRange(p, vm.vmid))) notes.push(`container ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} is inside a pool's VMID range: never touched, VMID skipped`);
      continue;
    }
    const tags = vm.tags.map((t) => t.toLowerCase());
    const poolTag = tags.find((t) => t.startsWith(POOL_TAG));
    const tagged = tags.includes(OWNER_TAG) && poolTag !== undefined;
    const tagPool = poolTag ? poolByName.get(poolTag.slice(POOL_TAG.length)) : undefined;
    const rangePool = pools.find((p) => inRange(p, vm.vmid));
    const creatingPool = poolByName.get(creatingByVmid.get(vm.vmid)?.pool.toLowerCase() ?? '');
    const claim = creatingPool ? 'ours' : claimOf(vm.meta, ctx.cfg.instance, (id) => ctx.others.find((o) => o.id === id)?.lastActiveAt, obs.now);
    if (claim === 'other-live' && rangePool) {
      // Another live installation's: counted against the caps (it takes the cluster's room), never touched.
      notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} in pool ${rangePool.name}'s range was made by another pve-runners instance '${vm.meta!.instance}', which is live: counted against the pool, never touched`);
      owned.push({ vm, pool: rangePool, scope: undefined, role: 'unidentified', ageMs: undefined });
      continue;
    }
    if (claim === 'other-gone' && rangePool) notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) was made by pve-runners instance '${vm.meta!.instance}', which made no VM for INSTANCE_TAKEOVER_AFTER: taken over by this instance`);
    if (obs.inFlight.disowned.has(vm.vmid) && !creatingPool) {
      notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} lost pve-runners' marks (someone took it over): never touched again, VMID skipped`);
    } else if (creatingPool) {
      // Being made by this process right now, tags or not yet: counts as its pool's from the start.
      owned.push(roleOf(ctx, vm, creatingPool));
    } else if (tagged && tagPool && inRange(tagPool, vm.vmid)) {
      if (vm.configUnread) owned.push(unidentified(vm, tagPool, notes, 'its config could not be read this tick'));
      else owned.push(roleOf(ctx, vm, tagPool));
    } else if (tagged && drainReason(vm, tagPool) !== undefined) {
      const d = drainingVm(ctx, vm, poolTag.slice(POOL_TAG.length), drainReason(vm, tagPool)!);
      draining.push(d);
      notes.push(drainNote(d));
    } else if (tagged) {
      notes.push(`VM ${vm.vmid} (${vm.name}) carries pve-runners tags but ${tagPool ? `lies outside pool ${tagPool.name}'s range` : `names no configured pool (${poolTag})`}: left alone`);
    } else if (rangePool) {
      const parsed = parseRunnerName(pools, vm.name);
      const half = parsed?.vmid === vm.vmid && parsed.pool === rangePool && vm.meta?.pool === rangePool.name && vm.meta.runner === vm.name;
      // Both tags are set in one call, so a crash leaves none: one of them means a person edited it.
      const someTag = tags.includes(OWNER_TAG) || poolTag !== undefined;
      if (half && someTag && !vm.lock) {
        notes.push(`VM ${vm.vmid} (${vm.name}) on ${vm.node} has our name and description but only ${tags.filter((t) => t === OWNER_TAG || t.startsWith(POOL_TAG)).join(', ')} of our two tags: someone edited it, so it is not ours — never touched, VMID skipped`);
      } else if (half && vm.status === 'running' && !vm.lock) {
        // We start a VM only once tagged: running without our tags, someone removed them.
        owned.push(unidentified(vm, rangePool, notes, 'our name and description, but running without our tags: did someone remove them?'));
      } else if (half && vm.status !== 'stopped' && !vm.lock) {
        // Paused, suspended, or 'unknown' (its node not answering): it may have been started, so it
        // is not the clone a crash left stopped and untagged. Adopted only once seen stopped.
        owned.push(unidentified(vm, rangePool, notes, `our name and description, but ${vm.status} without our tags, not stopped`));
      } else if (half) {
        // Ours in all but its tags: it counts against the caps (and, while cloning, as a runner on
        // its way) but is only changed once unlocked — by adding the tags it should have had.
        owned.push({ ...roleOf(ctx, vm, rangePool), role: vm.lock ? 'locked' : 'busy-op' });
        if (!vm.lock && !obs.inFlight.busyVmids.has(vm.vmid)) {
          adopt.push({ kind: 'adopt-vm', pool: rangePool.name, vmid: vm.vmid, node: vm.node, name: vm.name, reason: 'cloned by pve-runners (name and description are ours) but its tags were never set: a previous run stopped mid-creation' });
        }
      } else if (vm.lock === 'clone') {
        // A clone in progress shows as a bare config holding only the lock — no name (or Proxmox's
        // `VM <vmid>`), no description, no tags — until its task ends: it may be ours from before a
        // restart. Counted whatever it is named; once unlocked it is recognisably ours or not.
        owned.push(unidentified(vm, rangePool, notes, 'it is being cloned by another task'));
      } else if (vm.configUnread) {
        owned.push(unidentified(vm, rangePool, notes, 'its config could not be read this tick'));
      } else {
        notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} is inside pool ${rangePool.name}'s VMID range but is not ours: never touched, VMID skipped`);
      }
    }
  }
  owned.push(...hiddenInWindow(ctx, notes));
  return { owned, adopt, draining, notes };
}

/** Counted against the pool's caps, serving no known scope, never acted on. */
function unidentified(vm: ObservedVm, pool: PoolConfig, notes: string[], why: string): OwnedVm {
  notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} in pool ${pool.name}'s range may be ours (${why}): counted against the pool, not touched`);
  return { vm, pool, scope: undefined, role: 'unidentified', ageMs: undefined };
}

/**
 * VMIDs taken by VMs the token cannot see. qemu-server adds a clone to its resource pool only when
 * the task ends, so a clone of ours from before a restart is one of them until then. With the
 * clone tasks read (`unexplainedClones`), a pool counts at most as many of its hidden VMIDs as it
 * has running clones of our token that this process does not account for; the others are
 * someone else's at once. Without them, each counts for the window after it was first found (no
 * clone of ours outlives the clone timeout without the executor giving up on it). Never picked.
 */
function hiddenInWindow(ctx: PlanContext, notes: string[]): OwnedVm[] {
  const { obs, cfg } = ctx;
  const listed = new Set(obs.vms.map((v) => v.vmid));
  const budget = obs.unexplainedClones ? new Map(ctx.pools.map((p) => [p.name, obs.unexplainedClones!.get(p.name) ?? 0])) : undefined;
  const out: OwnedVm[] = [];
  for (const [vmid, since] of [...obs.hiddenVmids].sort(([a], [b]) => a - b)) {
    const pool = ctx.pools.find((p) => inRange(p, vmid));
    if (!pool || listed.has(vmid) || ctx.creatingByVmid.has(vmid)) continue;
    const hidden = `VMID ${vmid} in pool ${pool.name}'s range is taken by a VM this token cannot see`;
    if (obs.now - since >= cfg.hiddenVmidWindowMs) {
      notes.push(`${hidden}, for longer than a clone of ours takes: someone else's, VMID skipped, not counted (grant VM.Audit on /vms to see it)`);
      continue;
    }
    const left = budget?.get(pool.name);
    if (left === 0) {
      notes.push(`${hidden}, and no clone of ours is unaccounted for: someone else's, VMID skipped, not counted (grant VM.Audit on /vms to see it)`);
      continue;
    }
    if (left !== undefined) budget!.set(pool.name, left - 1);
    const why = left === undefined ? 'while it may be a clone of ours in progress (the clone tasks could not be listed)' : 'as a clone of ours in progress (a running clone task of our token that this process is not awaiting)';
    notes.push(`${hidden}: VMID skipped, and counted against the pool ${why}`);
    const vm: ObservedVm = { kind: 'qemu', vmid, node: '', name: '', status: 'unknown', template: false, tags: [], maxmemBytes: 0, uptimeS: 0 };
    out.push({ vm, pool, scope: undefined, role: 'unidentified', ageMs: undefined });
  }
  return out;
}

function roleOf(ctx: PlanContext, vm: ObservedVm, pool: PoolConfig): OwnedVm {
  const { obs } = ctx;
  const creating = ctx.creatingByVmid.get(vm.vmid);
  // A warm VM serves no scope until it is started for one.
  const scope = creating ? (creating.warm ? undefined : creating.scope) : vm.meta?.warm ? undefined : vm.meta?.scope;
  const ageMs = vm.meta ? obs.now - vm.meta.createdAt : vm.uptimeS > 0 ? vm.uptimeS * 1000 : undefined;
  const base = { vm, pool, scope, ageMs };
  if (creating) return { ...base, role: creating.warm ? 'warming' : 'creating' };
  if (obs.inFlight.busyVmids.has(vm.vmid)) return { ...base, role: 'busy-op' };
  if (vm.lock) return { ...base, role: 'locked' };
  if (vm.status === 'stopped') return { ...base, role: vm.meta?.warm ? 'warm' : 'stopped', runner: ctx.ourRunners.get(vm.name) };
  if (vm.status !== 'running') return { ...base, role: 'unknown' };
  const runner = ctx.ourRunners.get(vm.name);
  // GitHub's job listing names it as running a job: so it is, though the runner listing (which
  // lags the job listing) may still show it offline or idle. Counted as cover for another job, it
  // would keep that job waiting a whole interval.
  if (obs.jobStarted?.has(vm.name)) return { ...base, runner, role: 'running-job' };
  if (runner?.status === 'online') return { ...base, runner, role: runner.busy ? 'running-job' : 'idle' };
  // Listed busy though offline: it lost its connection mid-job (or the listing lags), and GitHub
  // still holds a job on it: running one, as far as anyone can tell — not gone, not late to boot.
  if (runner?.busy) return { ...base, runner, role: 'running-job' };
  // We start a warm VM only after rewriting its description: running while still described warm,
  // someone else started it, without a registration. Removed once it could have registered.
  if (vm.meta?.warm) return { ...base, runner, role: ageMs !== undefined && ageMs > pool.bootTimeoutMs ? 'boot-timeout' : 'unknown' };
  if (scope === undefined || !obs.runnerScopes.includes(scope)) return { ...base, runner, role: 'unknown' };
  if (obs.inFlight.seenOnline.has(vm.name)) return { ...base, runner, role: 'gone-runner' };
  if (ageMs !== undefined && ageMs > pool.bootTimeoutMs) return { ...base, runner, role: 'boot-timeout' };
  return { ...base, runner, role: 'booting' };
}
