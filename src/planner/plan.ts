import type { PoolConfig } from '../config/types.js';
import { selectPool } from '../config/labels.js';
import { formatDuration } from '../util/duration.js';
import type { Action, CreateAction, Plan, PoolSummary } from './actions.js';
import { OWNER_TAG, parseRunnerName, runnerNameOfSnippet } from './names.js';
import type { ObservedJob, ObservedRunner, ObservedVm, Observation } from './observation.js';

export interface PlanConfig {
  pools: readonly PoolConfig[];
  /** ≤ 0: no overall cap */
  maxTotalRunners: number;
  disableCleanup: boolean;
  /** create nothing while a runner VM of ours is stopped (with disableCleanup: inspect a failing template without new VMs piling up) */
  pauseOnStopped: boolean;
  /** a destroyed VMID is not reused for this long (Proxmox may still be tidying its disks) */
  vmidCooldownMs: number;
}

const MIB = 1024 * 1024;
const POOL_TAG = 'pvr-pool.';

type VmRole = 'creating' | 'busy-op' | 'locked' | 'stopped' | 'booting' | 'idle' | 'running-job' | 'gone-runner' | 'boot-timeout' | 'unknown';

interface OwnedVm {
  vm: ObservedVm;
  pool: PoolConfig;
  scope: string | undefined;
  role: VmRole;
  runner?: ObservedRunner;
  ageMs: number | undefined;
}

const key = (pool: string, scope: string): string => `${pool}\n${scope}`;
const fmtAge = (ms: number): string => (ms >= 120_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`);

/**
 * The decisions of one tick, from what it observed. Pure: no I/O, no clock, no randomness — the same
 * observation always gives the same plan.
 */
export function plan(cfg: PlanConfig, obs: Observation): Plan {
  const actions: Action[] = [];
  const notes: string[] = [];
  const pools = cfg.pools;
  const poolByName = new Map(pools.map((p) => [p.name.toLowerCase(), p]));
  const inRange = (p: PoolConfig, vmid: number) => vmid >= p.vmidRange.lo && vmid <= p.vmidRange.hi;
  const creatingByVmid = new Map(obs.inFlight.creating.map((c) => [c.vmid, c]));
  const creatingNames = new Set(obs.inFlight.creating.map((c) => c.runnerName));
  const runnerScopes = new Set(obs.runnerScopes);
  const cleanup = !cfg.disableCleanup;

  // Our registrations, by name (the VM of a runner has the runner's name).
  const ourRunners = new Map<string, ObservedRunner>();
  for (const r of obs.runners) if (parseRunnerName(pools, r.name)) ourRunners.set(r.name, r);

  // Demand: queued jobs per (pool, scope), oldest first.
  const demand = new Map<string, ObservedJob[]>();
  const unmatched: Plan['unmatched'] = [];
  const sortedJobs = [...obs.jobs].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
  for (const job of sortedJobs) {
    const pool = selectPool(pools, job.labels);
    if (!pool) {
      unmatched.push({ id: job.id, repo: job.repo, labels: job.labels });
      continue;
    }
    const k = key(pool.name, job.scope);
    demand.set(k, [...(demand.get(k) ?? []), job]);
  }
  const hasDemand = (pool: PoolConfig, scope: string | undefined) =>
    scope === undefined || (demand.get(key(pool.name, scope))?.length ?? 0) > 0 || obs.jobScopesFailed.includes(scope);

  // Classify every VM: ours (both tags, in its pool's range), half-made by us (adopt), or not ours.
  const owned: OwnedVm[] = [];
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
    if (creatingPool) {
      // Being made by this process right now, tags or not yet: counts as its pool's from the start.
      owned.push(classify(vm, creatingPool));
    } else if (tagged && tagPool && inRange(tagPool, vm.vmid)) {
      owned.push(classify(vm, tagPool));
    } else if (tagged) {
      notes.push(`VM ${vm.vmid} (${vm.name}) carries pve-runners tags but ${tagPool ? `lies outside pool ${tagPool.name}'s range` : `names no configured pool (${poolTag})`}: left alone`);
    } else if (rangePool) {
      const parsed = parseRunnerName(pools, vm.name);
      const half = parsed?.vmid === vm.vmid && parsed.pool === rangePool && vm.meta?.pool === rangePool.name && vm.meta.runner === vm.name;
      if (half) {
        // Ours in all but its tags: it counts against the caps (and, while cloning, as a runner on
        // its way) but is only changed once unlocked — by adding the tags it should have had.
        owned.push({ ...classify(vm, rangePool), role: vm.lock ? 'locked' : 'busy-op' });
        if (!vm.lock && !obs.inFlight.busyVmids.has(vm.vmid)) {
          actions.push({ kind: 'adopt-vm', pool: rangePool.name, vmid: vm.vmid, node: vm.node, name: vm.name, reason: 'cloned by pve-runners (name and description are ours) but its tags were never set: a previous run stopped mid-creation' });
        }
      } else if (vm.lock === 'clone' && !vm.name && tags.length === 0) {
        // Proxmox shows a clone in progress as a bare placeholder (no name, no description yet): it
        // may be ours from before a restart. Counted against the pool's caps, never touched; once
        // the clone ends it is either recognisably ours (adopted) or not.
        owned.push({ ...classify(vm, rangePool), scope: undefined, role: 'locked' });
        notes.push(`VM ${vm.vmid} on ${vm.node} in pool ${rangePool.name}'s range is being cloned by another task: counted against the pool until it finishes, not touched`);
      } else {
        notes.push(`VM ${vm.vmid} (${vm.name || 'unnamed'}) on ${vm.node} is inside pool ${rangePool.name}'s VMID range but is not ours: never touched, VMID skipped`);
      }
    }
  }

  function classify(vm: ObservedVm, pool: PoolConfig): OwnedVm {
    const creating = creatingByVmid.get(vm.vmid);
    const scope = creating?.scope ?? vm.meta?.scope;
    const ageMs = vm.meta ? obs.now - vm.meta.createdAt : vm.uptimeS > 0 ? vm.uptimeS * 1000 : undefined;
    const base = { vm, pool, scope, ageMs };
    if (creating) return { ...base, role: 'creating' };
    if (obs.inFlight.busyVmids.has(vm.vmid)) return { ...base, role: 'busy-op' };
    if (vm.lock) return { ...base, role: 'locked' };
    if (vm.status === 'stopped') return { ...base, role: 'stopped', runner: ourRunners.get(vm.name) };
    if (vm.status !== 'running') return { ...base, role: 'unknown' };
    const runner = ourRunners.get(vm.name);
    if (runner?.status === 'online') return { ...base, runner, role: runner.busy ? 'running-job' : 'idle' };
    if (scope === undefined || !runnerScopes.has(scope)) return { ...base, runner, role: 'unknown' };
    if (obs.inFlight.seenOnline.has(vm.name)) return { ...base, runner, role: 'gone-runner' };
    if (ageMs !== undefined && ageMs > pool.bootTimeoutMs) return { ...base, runner, role: 'boot-timeout' };
    return { ...base, runner, role: 'booting' };
  }

  // Removals, each with its reason.
  const removing = new Set<number>();
  const remove = (o: OwnedVm, reason: string) => {
    removing.add(o.vm.vmid);
    const runner = o.runner && !obs.inFlight.deletingRunners.has(o.runner.id) ? { id: o.runner.id, scope: o.runner.scope } : undefined;
    actions.push({ kind: 'remove-vm', pool: o.pool.name, vmid: o.vm.vmid, node: o.vm.node, name: o.vm.name, running: o.vm.status === 'running', runner, scope: o.scope, reason });
  };
  for (const o of owned) {
    const age = o.ageMs === undefined ? 'unknown age' : fmtAge(o.ageMs);
    switch (o.role) {
      case 'stopped':
        if (cleanup) remove(o, 'VM is stopped (its job is done or it powered off)');
        break;
      case 'boot-timeout':
        if (cleanup) remove(o, `runner not registered within boot_timeout ${formatDuration(o.pool.bootTimeoutMs)} (VM age ${age})`);
        break;
      case 'gone-runner':
        if (cleanup) remove(o, 'its runner finished and unregistered but the VM is still running');
        break;
      case 'idle':
        if (cleanup && o.ageMs !== undefined && o.ageMs > o.pool.idleTimeoutMs && !hasDemand(o.pool, o.scope))
          remove(o, `runner idle past idle_timeout ${formatDuration(o.pool.idleTimeoutMs)} with no matching job queued`);
        break;
      case 'running-job':
        if (cleanup && o.ageMs !== undefined && o.ageMs > o.pool.maxJobDurationMs) {
          removing.add(o.vm.vmid);
          actions.push({ kind: 'stop-vm', pool: o.pool.name, vmid: o.vm.vmid, node: o.vm.node, name: o.vm.name, reason: `running past max_job_duration ${formatDuration(o.pool.maxJobDurationMs)} (VM age ${age})` });
        }
        break;
      default:
        break;
    }
  }

  // Registrations of ours whose VM is gone.
  const vmNames = new Set(obs.vms.map((v) => v.name));
  if (cleanup) {
    for (const r of ourRunners.values()) {
      if (r.status === 'online' || r.busy || vmNames.has(r.name) || creatingNames.has(r.name) || obs.inFlight.deletingRunners.has(r.id)) continue;
      const parsed = parseRunnerName(pools, r.name)!;
      actions.push({ kind: 'delete-runner', pool: parsed.pool.name, scope: r.scope, runnerId: r.id, name: r.name, reason: 'offline registration whose VM no longer exists' });
    }
  }

  // Snippets: removed once their VM has started (the cloud-init ISO is built at start) or is gone.
  if (obs.snippets && cleanup) {
    const vmByName = new Map(obs.vms.map((v) => [v.name, v]));
    for (const s of obs.snippets) {
      const name = runnerNameOfSnippet(s.file);
      if (!name || !parseRunnerName(pools, name) || creatingNames.has(name)) continue;
      const vm = vmByName.get(name);
      if (!vm) actions.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its VM no longer exists' });
      else if (vm.status === 'running' && !vm.lock) actions.push({ kind: 'delete-snippet', node: s.node, file: s.file, reason: 'its VM has started' });
    }
  }

  // Creation: per (pool, scope) the jobs not covered by idle or booting runners, oldest first overall.
  const supply = new Map<string, number>();
  for (const o of owned) {
    if (o.scope === undefined || removing.has(o.vm.vmid)) continue;
    // 'unknown': running, but its registration could not be checked this tick; counting it errs
    // towards creating one VM too few for a tick rather than one too many.
    if (o.role === 'creating' || o.role === 'booting' || o.role === 'idle' || o.role === 'unknown' || (o.role === 'locked' && o.vm.lock === 'clone')) {
      supply.set(key(o.pool.name, o.scope), (supply.get(key(o.pool.name, o.scope)) ?? 0) + 1);
    }
  }
  for (const c of obs.inFlight.creating) if (!obs.vms.some((v) => v.vmid === c.vmid)) supply.set(key(c.pool, c.scope), (supply.get(key(c.pool, c.scope)) ?? 0) + 1);

  const wanted: Array<{ pool: PoolConfig; scope: string; job: ObservedJob }> = [];
  for (const [k, jobs] of demand) {
    const covered = supply.get(k) ?? 0;
    const pool = poolByName.get(k.slice(0, k.indexOf('\n')).toLowerCase())!;
    for (const job of jobs.slice(covered)) wanted.push({ pool, scope: job.scope, job });
  }
  wanted.sort((a, b) => a.job.createdAt.localeCompare(b.job.createdAt) || a.job.id - b.job.id);

  const poolCount = new Map<string, number>();
  for (const o of owned) poolCount.set(o.pool.name, (poolCount.get(o.pool.name) ?? 0) + 1);
  for (const c of obs.inFlight.creating) if (!obs.vms.some((v) => v.vmid === c.vmid)) poolCount.set(c.pool, (poolCount.get(c.pool) ?? 0) + 1);
  let total = [...poolCount.values()].reduce((a, b) => a + b, 0);

  const usedVmids = new Set<number>([...obs.vms.map((v) => v.vmid), ...creatingByVmid.keys()]);
  const reserved = new Map<string, number>(); // node → bytes promised to VMs not yet running
  for (const c of obs.inFlight.creating) reserved.set(c.node, (reserved.get(c.node) ?? 0) + c.memoryBytes);
  const limitedBy = new Map<string, string>();
  const templates = obs.vms.filter((v) => v.template);

  const stoppedVms = owned.filter((o) => o.role === 'stopped');
  if (cfg.pauseOnStopped && stoppedVms.length > 0 && wanted.length > 0) {
    notes.push(`PAUSE_ON_STOPPED: creating nothing while runner VMs are stopped (${stoppedVms.map((o) => o.vm.vmid).join(', ')})`);
    for (const w of wanted) limitedBy.set(w.pool.name, 'PAUSE_ON_STOPPED');
  }
  for (const w of wanted) {
    const p = w.pool;
    if (limitedBy.has(p.name)) continue;
    if (cfg.maxTotalRunners > 0 && total >= cfg.maxTotalRunners) {
      for (const x of wanted) if (!limitedBy.has(x.pool.name)) limitedBy.set(x.pool.name, `max_total_runners ${cfg.maxTotalRunners}`);
      break;
    }
    if ((poolCount.get(p.name) ?? 0) >= p.maxRunners) {
      limitedBy.set(p.name, `max_runners ${p.maxRunners}`);
      continue;
    }
    const vmid = freeVmid(p, usedVmids, obs.inFlight.recentlyFreed, obs.now, cfg.vmidCooldownMs);
    if (vmid === undefined) {
      limitedBy.set(p.name, `no free VMID in ${p.vmidRange.lo}-${p.vmidRange.hi}`);
      continue;
    }
    const placement = place(p, templates, obs, reserved);
    if (typeof placement === 'string') {
      limitedBy.set(p.name, placement);
      continue;
    }
    usedVmids.add(vmid);
    reserved.set(placement.node, (reserved.get(placement.node) ?? 0) + placement.memoryBytes);
    poolCount.set(p.name, (poolCount.get(p.name) ?? 0) + 1);
    total++;
    const create: CreateAction = {
      kind: 'create',
      pool: p.name,
      scope: w.scope,
      vmid,
      node: placement.node,
      templateVmid: placement.templateVmid,
      memoryBytes: placement.memoryBytes,
      forJob: w.job.id,
      reason: `job ${w.job.id} (${w.job.repo}, ${w.job.name}) is queued and no idle or booting runner of pool ${p.name} covers it`,
    };
    actions.push(create);
  }

  // Summary per pool.
  const summaries: PoolSummary[] = pools.map((p) => {
    const mine = owned.filter((o) => o.pool === p);
    const queued = [...demand.entries()].filter(([k]) => k.startsWith(`${p.name}\n`)).reduce((n, [, j]) => n + j.length, 0);
    return {
      pool: p.name,
      queued,
      idle: mine.filter((o) => o.role === 'idle').length,
      busy: mine.filter((o) => o.role === 'running-job').length,
      booting: mine.filter((o) => o.role === 'booting' || o.role === 'creating' || o.role === 'locked').length + obs.inFlight.creating.filter((c) => c.pool === p.name && !obs.vms.some((v) => v.vmid === c.vmid)).length,
      vms: mine.length,
      create: actions.filter((a) => a.kind === 'create' && a.pool === p.name).length,
      remove: actions.filter((a) => (a.kind === 'remove-vm' || a.kind === 'stop-vm') && a.pool === p.name).length,
      limitedBy: limitedBy.get(p.name),
    };
  });
  if (cfg.disableCleanup) notes.push('DISABLE_CLEANUP is set: nothing is removed');
  return { actions, pools: summaries, unmatched, notes };
}

/** The lowest VMID of the pool's range that nothing uses and that was not freed within the cooldown. */
export function freeVmid(p: PoolConfig, used: ReadonlySet<number>, recentlyFreed: ReadonlyMap<number, number>, now: number, cooldownMs: number): number | undefined {
  for (let id = p.vmidRange.lo; id <= p.vmidRange.hi; id++) {
    if (used.has(id)) continue;
    const freedAt = recentlyFreed.get(id);
    if (freedAt !== undefined && now - freedAt < cooldownMs) continue;
    return id;
  }
  return undefined;
}

/** The node with the most free memory among the pool's nodes that hold a copy of its template. */
function place(p: PoolConfig, templates: readonly ObservedVm[], obs: Observation, reserved: ReadonlyMap<string, number>): { node: string; templateVmid: number; memoryBytes: number } | string {
  const copies = templates.filter((t) => (p.template.kind === 'vmid' ? t.vmid === p.template.vmid : t.name === p.template.name));
  if (copies.length === 0) return `template ${p.template.kind === 'vmid' ? p.template.vmid : `'${p.template.name}'`} not found`;
  let best: { node: string; templateVmid: number; memoryBytes: number; free: number } | undefined;
  for (const nodeName of p.nodes) {
    const copy = copies.find((t) => t.node === nodeName);
    const node = obs.nodes.find((n) => n.name === nodeName);
    if (!copy || !node?.online) continue;
    const memoryBytes = p.memoryMb !== undefined ? p.memoryMb * MIB : copy.maxmemBytes;
    // A node's `mem` is what is in use now, and a fresh guest touches its memory only gradually:
    // what the running VMs may claim is the safer measure of what is taken.
    const committed = obs.vms.filter((v) => v.node === nodeName && v.status === 'running' && !v.template).reduce((n, v) => n + v.maxmemBytes, 0);
    const free = node.maxmemBytes - Math.max(node.memBytes, committed) - (reserved.get(nodeName) ?? 0);
    if (free < memoryBytes) continue;
    if (!best || free > best.free) best = { node: nodeName, templateVmid: copy.vmid, memoryBytes, free };
  }
  if (!best) return `no node of ${p.nodes.join(', ')} is online with the template and enough free memory`;
  return { node: best.node, templateVmid: best.templateVmid, memoryBytes: best.memoryBytes };
}
