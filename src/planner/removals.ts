import { formatDuration } from '../util/duration.js';
import type { Action, DeleteRunnerAction, DeleteSnippetAction } from './actions.js';
import { fmtAge, type OwnedVm, type PlanContext } from './context.js';
import type { Demand } from './demand.js';
import { parseRunnerName, runnerNameOfSnippet } from './names.js';
import type { ObservedVm } from './observation.js';
import type { DrainingVm } from './drain.js';
import { agedHotRunners, hotAgeReason, removal, staleWarm, type HotRunners } from './tiers.js';

/** Phase: VMs of ours to remove (or stop), each with its reason; `removing` holds their VMIDs. */
export function vmRemovals(ctx: PlanContext, owned: readonly OwnedVm[], demand: Demand, hot: HotRunners): { actions: Action[]; removing: Set<number> } {
  const actions: Action[] = [];
  const removing = new Set<number>();
  const { obs, cleanup } = ctx;
  const remove = (o: OwnedVm, reason: string) => {
    removing.add(o.vm.vmid);
    actions.push(removal(ctx, o, reason));
  };
  if (!cleanup) return { actions, removing };
  for (const o of owned) {
    const age = o.ageMs === undefined ? 'unknown age' : fmtAge(o.ageMs);
    switch (o.role) {
      case 'stopped':
        remove(o, 'VM is stopped (its job is done or it powered off)');
        break;
      case 'boot-timeout':
        remove(o, `runner not registered within boot_timeout ${formatDuration(o.pool.bootTimeoutMs)} (VM age ${age})`);
        break;
      case 'gone-runner':
        remove(o, 'its runner finished and unregistered but the VM is still running');
        break;
      case 'warm': {
        const stale = staleWarm(ctx, o);
        if (stale) remove(o, `warm VM is out of date: ${stale}`);
        break;
      }
      case 'idle':
        if (hot.kept.has(o.vm.vmid)) break;
        if (o.ageMs !== undefined && o.ageMs > o.pool.idleTimeoutMs && !demand.has(o.pool, o.scope))
          remove(o, `runner idle past idle_timeout ${formatDuration(o.pool.idleTimeoutMs)} with no matching job queued`);
        break;
      case 'running-job': {
        const ran = jobRunningFor(ctx, o);
        if (ran !== undefined && ran > o.pool.maxJobDurationMs) {
          removing.add(o.vm.vmid);
          actions.push({ kind: 'stop-vm', pool: o.pool.name, vmid: o.vm.vmid, node: o.vm.node, name: o.vm.name, reason: `running past max_job_duration ${formatDuration(o.pool.maxJobDurationMs)} (job running ${fmtAge(ran)}, VM age ${age})` });
        }
        break;
      }
      default:
        break;
    }
  }
  for (const o of agedHotRunners(ctx, owned, hot)) if (!removing.has(o.vm.vmid)) remove(o, hotAgeReason(o));
  return { actions, removing };
}

/** Phase: registrations of ours whose VM is gone. */
export function registrationRemovals(ctx: PlanContext): DeleteRunnerAction[] {
  if (!ctx.cleanup) return [];
  const { obs } = ctx;
  // A warm VM has no registration until it is started: one named like it is left from a start that failed.
  const vmNames = new Set(obs.vms.filter((v) => !isWarm(v)).map((v) => v.name));
  const warmNames = new Set(obs.vms.filter(isWarm).map((v) => v.name));
  const out: DeleteRunnerAction[] = [];
  for (const r of ctx.ourRunners.values()) {
    if (r.status === 'online' || r.busy || vmNames.has(r.name) || ctx.creatingNames.has(r.name) || obs.inFlight.deletingRunners.has(r.id)) continue;
    const parsed = parseRunnerName(ctx.pools, r.name)!;
    // A live other instance registers runners while their clones run: one without a VM yet may be its.
    if (ctx.standingDown.has(parsed.pool.name)) continue;
    const reason = warmNames.has(r.name) ? 'offline registration of a warm VM (left by a start that failed; a new one is made when it starts)' : 'offline registration whose VM no longer exists';
    out.push({ kind: 'delete-runner', pool: parsed.pool.name, scope: r.scope, runnerId: r.id, name: r.name, reason });
  }
  return out;
}

/**
 * Phase: snippets, removed once their VM has started (the cloud-init ISO is built at start) or is
 * gone. A drained VM's snippet (its pool's prefix may be configured no more) goes once the VM has
 * started or as the VM is removed: after that, nothing would tell it is ours.
 */
export function snippetRemovals(ctx: PlanContext, draining: readonly DrainingVm[] = [], drainRemoving: ReadonlySet<number> = new Set()): DeleteSnippetAction[] {
  const { obs } = ctx;
  if (!obs.snippets || !ctx.cleanup) return [];
  const vmByName = new Map(obs.vms.map((v) => [v.name, v]));
  const drained = new Map(draining.map((d) => [d.vm.name, d]));
  const out: DeleteSnippetAction[] = [];
  for (const s of obs.snippets) {
    const name = runnerNameOfSnippet(s.file);
    const d = name === undefined ? undefined : drained.get(name);
    if (d) {
      if (drainRemoving.has(d.vm.vmid)) out.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its drained VM is being removed' });
      else if (d.vm.status === 'running' && !d.vm.lock) out.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its drained VM has started' });
      continue;
    }
    const parsed = name === undefined ? undefined : parseRunnerName(ctx.pools, name);
    if (!name || !parsed || ctx.creatingNames.has(name)) continue;
    const vm = vmByName.get(name);
    // While a live other instance creates in the pool, a snippet without a VM of ours may be its clone's.
    if (ctx.standingDown.has(parsed.pool.name) && !(vm && isThisInstances(ctx, vm))) continue;
    if (!vm) out.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its VM no longer exists' });
    else if (isWarm(vm)) out.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its VM is warm again (left by a start that failed)' });
    else if (vm.status === 'running' && !vm.lock) out.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its VM has started' });
  }
  return out;
}

function isThisInstances(ctx: PlanContext, vm: ObservedVm): boolean {
  return vm.meta !== undefined && (vm.meta.instance === undefined || vm.meta.instance === ctx.cfg.instance?.id);
}

/** Stopped and described warm: never started, so no registration or snippet of its name is in use. */
function isWarm(v: ObservedVm): boolean {
  return v.meta?.warm !== undefined && v.status === 'stopped' && !v.lock;
}

/**
 * How long the VM's job has run: from GitHub's started_at when the job listing shows it. Without
 * it, the VM's age — except for a runner in one of its pool's hot scopes, which may have idled for
 * hours before its job came: that waits for a listing that shows the job.
 */
function jobRunningFor(ctx: PlanContext, o: OwnedVm): number | undefined {
  const started = ctx.obs.jobStarted?.get(o.vm.name);
  if (started !== undefined) return ctx.obs.now - started;
  return o.scope !== undefined && o.pool.hotScopes.includes(o.scope) ? undefined : o.ageMs;
}
