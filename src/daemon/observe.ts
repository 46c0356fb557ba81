import type { Config, PoolConfig } from '../config/types.js';
import type { Scope } from '../github/scope.js';
import type { InFlight, Observation, ObservedVm, VmMeta } from '../planner/observation.js';
import type { ProxmoxApi, PveNode, PveTask, PveVm } from '../proxmox/api.js';
import { parseVmDescription } from '../proxmox/vm-meta.js';
import { OWNER_TAG } from '../planner/names.js';
import type { SnippetStore } from '../snippets/store.js';
import type { CloneTasks } from './clone-tasks.js';
import type { ConfigWrites } from './config-writes.js';
import type { HiddenVmids } from './hidden-vmids.js';
import { LagGuard } from './lag-guard.js';
import { GithubObserver, type GithubObserverDeps } from './observe-github.js';

export interface ObserverDeps extends GithubObserverDeps {
  proxmox: ProxmoxApi;
  snippets: SnippetStore;
  /** VMIDs taken by VMs the token cannot see; without it none are looked for */
  hidden?: HiddenVmids;
  /** our clone tasks, read only while there are hidden VMIDs; without it, hidden VMIDs count for the whole window */
  cloneTasks?: CloneTasks;
  /**
   * What this process may have changed in each VM's config (the executor's API goes through it):
   * with it, every description — a warm VM's too — is read once and again only after such a
   * change; without it, warm VMs are read at every tick.
   */
  writes?: ConfigWrites;
  /** a warm pool's template is read again at most this often (default: every tick) */
  templateRecheckMs?: number;
}

interface CachedMeta {
  meta: VmMeta | null;
  /** ConfigWrites' generation of the VM when the read began */
  gen: number;
}

/**
 * Builds each tick's Observation. Keeps only caches that save API calls (org repository lists, VM
 * descriptions, which never change): losing them on restart costs one full read, nothing else.
 */
export class Observer {
  private readonly metaCache = new Map<string, CachedMeta>();
  /** `node/vmid/name` of a warm pool's template → its stamp and when it was read */
  private readonly stampCache = new Map<string, { stamp: string | undefined; at: number }>();
  private readonly lagGuard: LagGuard;
  private readonly github: GithubObserver;
  /** scopes whose runners are listed every tick: those of our VMs at the last tick */
  private vmScopes = new Set<string>();

  constructor(private readonly d: ObserverDeps) {
    this.lagGuard = new LagGuard(d.config.pools);
    this.github = new GithubObserver(d);
  }

  /** A reload: the pools and scopes observed from the next tick on; the caches stay (they hold facts, not config). */
  reconfigure(config: Config): void {
    this.d.config = config;
    this.github.reconfigure(config);
    this.lagGuard.setPools(config.pools);
  }

  /** Scopes whose jobs are served: each configured repo, and each org (covering all its repos). */
  scopes(): Scope[] {
    return this.github.scopes();
  }

  async observe(now: number, inFlight: InFlight): Promise<Observation> {
    // Proxmox is required: without the VM list nothing can be planned safely.
    const read = await this.listProxmox();
    const { pveVms, pveNodes } = read;
    const listed = new Set(pveVms.map((v) => v.vmid));
    const busy = new Set(inFlight.creating.map((c) => c.vmid));
    const [vms, gh, snippets, unexplainedClones] = await Promise.all([this.withMeta(pveVms, now), this.github.observe(now, inFlight, this.vmScopes), this.d.snippets.list().catch((e: unknown) => {
      this.d.log.warn(`cannot list snippets: ${(e as Error).message}; snippet cleanup skipped this tick`);
      return undefined;
    }), this.hiddenAndClones(listed, busy, now, pveVms, pveNodes, read)]);
    this.vmScopes = new Set(vms.flatMap((v) => (v.meta ? [v.meta.scope] : [])));
    const guarded = this.lagGuard.apply(gh);
    for (const { job, runner } of guarded.leftOut) {
      this.d.log.debug(`job ${job.id} (${job.repo}) is still listed queued, but our runner ${runner} is busy and no listed job names it: taken to be running it (GitHub's job listing lags), not counted as demand`, { job: job.id, runner });
    }
    return {
      now,
      jobs: guarded.jobs,
      jobScopesFailed: gh.jobScopesFailed,
      runners: gh.runners,
      jobStarted: gh.jobStarted,
      runnerScopes: gh.runnerScopes,
      vms,
      hiddenVmids: this.d.hidden?.snapshot() ?? new Map(),
      unexplainedClones,
      nodes: pveNodes.map((n) => {
        const sftpDown = this.d.snippets.unavailable?.().get(n.node);
        return { name: n.node, online: n.online, maxmemBytes: n.maxmem, memBytes: n.mem, ...(sftpDown !== undefined ? { sftpDown } : {}) };
      }),
      snippets,
      inFlight,
    };
  }

  /**
   * The VMs and nodes, and — when a VMID may be hidden this tick — the clone tasks, read *before*
   * the VMs: a clone that ends in between is then in the listing, or still running in the task
   * list. Read after the listing (and after the first tick's probes of every unlisted VMID), a
   * clone ending meanwhile was in neither: its VMID counted for no one, and the pool got a runner
   * too many, which adopting the clone then put over max_runners.
   */
  private async listProxmox(): Promise<{ pveVms: PveVm[]; pveNodes: PveNode[]; cloneTasks?: PveTask[] | undefined }> {
    if (!this.d.cloneTasks || !this.d.hidden?.mayFind()) {
      const [pveVms, pveNodes] = await Promise.all([this.d.proxmox.listVms(), this.d.proxmox.listNodes()]);
      return { pveVms, pveNodes };
    }
    const pveNodes = await this.d.proxmox.listNodes();
    const cloneTasks = await this.d.cloneTasks.running(pveNodes);
    return { pveVms: await this.d.proxmox.listVms(), pveNodes, cloneTasks };
  }

  /**
   * Brings the hidden VMIDs up to date; if there are any, counts the clone tasks that may explain
   * them. A cluster the token fully sees pays no task request, once its VMIDs are probed.
   */
  private async hiddenAndClones(listed: ReadonlySet<number>, busy: ReadonlySet<number>, now: number, vms: PveVm[], nodes: PveNode[], readBefore: { cloneTasks?: PveTask[] | undefined }): Promise<ReadonlyMap<string, number> | undefined> {
    if (!this.d.hidden) return undefined;
    await this.d.hidden.refresh(listed, busy, now);
    if (this.d.hidden.snapshot().size === 0) return new Map();
    if (!this.d.cloneTasks) return undefined;
    // Not read before: a VMID the executor found taken while this tick listed (a clone collision).
    const tasks = 'cloneTasks' in readBefore ? readBefore.cloneTasks : await this.d.cloneTasks.running(nodes);
    return tasks && this.d.cloneTasks.unexplained(tasks, vms);
  }

  /**
   * Reads the description of every VM in a pool's range or tagged ours (once per unlocked VM, and
   * again after this process changed or re-read its config: people rarely edit it, and every change
   * is decided on a fresh read by the executor, which also makes the next tick read it). A locked VM is read every tick:
   * a clone's config is a bare placeholder until its task ends. A read that fails marks the VM
   * `configUnread`: it is counted as possibly ours, never taken for someone else's.
   */
  private async withMeta(vms: PveVm[], now: number): Promise<ObservedVm[]> {
    const pools = this.d.config.pools;
    // A VM tagged ours outside every range (its pool removed, its range shrunk) is read too: its
    // description tells whether it is ours to drain.
    const candidate = (v: PveVm) => v.kind === 'qemu' && !v.template && (pools.some((p: PoolConfig) => v.vmid >= p.vmidRange.lo && v.vmid <= p.vmidRange.hi) || v.tags.some((t) => t.toLowerCase() === OWNER_TAG));
    // Warm VMs are replaced when their template is rebuilt: the templates they come from are read too.
    const warmPools = pools.filter((p) => p.sizes.warm > 0 || p.schedule.some((r) => (r.warm ?? 0) > 0));
    const warmTemplate = (v: PveVm) => warmPools.some((p) => (p.template.kind === 'vmid' ? p.template.vmid === v.vmid : p.template.name === v.name) && p.nodes.includes(v.node));
    const live = new Set(vms.map((v) => `${v.vmid}/${v.name}`));
    for (const k of this.metaCache.keys()) if (!live.has(k)) this.metaCache.delete(k);
    const liveTemplates = new Set(vms.filter((v) => v.template).map((v) => `${v.node}/${v.vmid}/${v.name}`));
    for (const k of this.stampCache.keys()) if (!liveTemplates.has(k)) this.stampCache.delete(k);
    const writes = this.d.writes;
    writes?.keepOnly(new Set(vms.map((v) => v.vmid)));
    return Promise.all(
      vms.map(async (v): Promise<ObservedVm> => {
        const base: ObservedVm = { kind: v.kind, vmid: v.vmid, node: v.node, name: v.name, status: v.status, template: v.template, tags: v.tags, lock: v.lock, maxmemBytes: v.maxmem, uptimeS: v.uptime };
        if (v.template) return warmTemplate(v) ? { ...base, stamp: await this.templateStamp(v, now) } : base;
        if (!candidate(v)) return base;
        const k = `${v.vmid}/${v.name}`;
        const cached = v.lock ? undefined : this.metaCache.get(k);
        let meta = cached && (writes ? cached.gen === writes.generation(v.vmid) : !cached.meta?.warm) ? cached.meta : undefined;
        if (meta === undefined) {
          const gen = writes?.generation(v.vmid) ?? 0;
          try {
            const cfg = await this.d.proxmox.getConfig(v.node, v.vmid);
            meta = parseVmDescription(typeof cfg.description === 'string' ? cfg.description : undefined) ?? null;
            // Without ConfigWrites, nothing says when the executor rewrites a warm VM's description
            // (when it starts it): read again every tick then.
            if (!v.lock) this.metaCache.set(k, { meta, gen });
          } catch (e) {
            this.d.log.debug(`cannot read config of VM ${v.vmid} yet: ${(e as Error).message}`, { vmid: v.vmid });
            return { ...base, configUnread: true };
          }
        }
        // /cluster/resources takes a VM's name from pvestatd's stats, which lag by some seconds: a
        // fresh VM of ours may show none yet, or Proxmox's `VM <vmid>`, and its name is how its
        // runner is found.
        const placeholder = !base.name || base.name === `VM ${v.vmid}`;
        return meta ? { ...base, name: placeholder ? meta.runner : base.name, meta } : base;
      }),
    );
  }

  /**
   * What tells one build of a template from the next: Proxmox writes `meta: creation-qemu=…,ctime=…`
   * when a VM is created, so a template built again (same VMID or not) has a new ctime. Undefined
   * when it cannot be read: then only the VMID is compared. Read again after templateRecheckMs: a
   * template built again under the same VMID and name between two listings shows nothing else.
   */
  private async templateStamp(v: PveVm, now: number): Promise<string | undefined> {
    const k = `${v.node}/${v.vmid}/${v.name}`;
    const cached = this.stampCache.get(k);
    if (cached && now - cached.at < (this.d.templateRecheckMs ?? 0)) return cached.stamp;
    try {
      const cfg = await this.d.proxmox.getConfig(v.node, v.vmid);
      const stamp = typeof cfg.meta === 'string' ? /(?:^|,)ctime=(\d+)/.exec(cfg.meta)?.[1] : undefined;
      this.stampCache.set(k, { stamp, at: now });
      return stamp;
    } catch (e) {
      this.d.log.debug(`cannot read config of template ${v.vmid}: ${(e as Error).message}`, { vmid: v.vmid });
      return undefined;
    }
  }
}
