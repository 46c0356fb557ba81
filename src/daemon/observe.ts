import PQueue from 'p-queue';
import type { Config, PoolConfig } from '../config/types.js';
import type { GithubApi, QueuedJob } from '../github/api.js';
import { describeScope, scopeKey, type Scope } from '../github/scope.js';
import type { Logger } from '../log.js';
import type { InFlight, Observation, ObservedJob, ObservedRunner, ObservedVm, VmMeta } from '../planner/observation.js';
import type { ProxmoxApi, PveNode, PveTask, PveVm } from '../proxmox/api.js';
import { parseVmDescription } from '../proxmox/vm-meta.js';
import { OWNER_TAG, parseRunnerName } from '../planner/names.js';
import type { SnippetStore } from '../snippets/store.js';
import type { CloneTasks } from './clone-tasks.js';
import type { ConfigWrites } from './config-writes.js';
import type { HiddenVmids } from './hidden-vmids.js';
import { LagGuard } from './lag-guard.js';
import type { ObserverMetrics } from '../metrics/recorder.js';
import type { PermissionLog } from './permission-log.js';
import { asRateLimited, type RateLimitedError } from './rate-limit.js';
import type { PollSchedule, PolledRepo } from './poll-schedule.js';
import type { RepoActivity } from './repo-activity.js';
import { OBSERVER_CONCURRENCY } from '../github/budget.js';

export interface ObserverDeps {
  config: Config;
  github: GithubApi;
  proxmox: ProxmoxApi;
  snippets: SnippetStore;
  log: Logger;
  /** VMIDs taken by VMs the token cannot see; without it none are looked for */
  hidden?: HiddenVmids;
  /** our clone tasks, read only while there are hidden VMIDs; without it, hidden VMIDs count for the whole window */
  cloneTasks?: CloneTasks;
  /** concurrent GitHub reads */
  concurrency?: number;
  /** says once what GitHub permission a refused listing lacks */
  permissions?: PermissionLog;
  /** told which repositories have runs, for the quick looks between ticks */
  activity?: RepoActivity;
  /** which repositories each tick lists (without it, all of them) */
  schedule?: PollSchedule;
  /** told how many repositories are polled (the conditional-request cache is sized from it) */
  repoCount?: (n: number) => void;
  /** told every job listing (pickup and job durations) */
  metrics?: ObserverMetrics;
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
  private orgRepos = new Map<string, string[]>();
  private readonly queue: PQueue;
  private readonly lagGuard: LagGuard;
  /** scopes whose runners are listed every tick: our VMs (last tick) or registrations (last listing) are in them */
  private vmScopes = new Set<string>();
  private readonly runnerHeld = new Set<string>();

  constructor(private readonly d: ObserverDeps) {
    this.queue = new PQueue({ concurrency: d.concurrency ?? OBSERVER_CONCURRENCY });
    this.lagGuard = new LagGuard(d.config.pools);
  }

  /** A reload: the pools and scopes observed from the next tick on; the caches stay (they hold facts, not config). */
  reconfigure(config: Config): void {
    this.d.config = config;
    this.lagGuard.setPools(config.pools);
  }

  /** Scopes whose jobs are served: each configured repo, and each org (covering all its repos). */
  scopes(): Scope[] {
    const repos = this.d.config.github.repos.map((r): Scope => {
      const [owner, repo] = r.split('/') as [string, string];
      return { kind: 'repo', owner, repo };
    });
    return [...repos, ...this.d.config.github.orgs.map((o): Scope => ({ kind: 'org', org: o.name }))];
  }

  async observe(now: number, inFlight: InFlight): Promise<Observation> {
    // Proxmox is required: without the VM list nothing can be planned safely.
    const read = await this.listProxmox();
    const { pveVms, pveNodes } = read;
    const listed = new Set(pveVms.map((v) => v.vmid));
    const busy = new Set(inFlight.creating.map((c) => c.vmid));
    const [vms, gh, snippets, unexplainedClones] = await Promise.all([this.withMeta(pveVms, now), this.observeGithub(now, inFlight), this.d.snippets.list().catch((e: unknown) => {
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

  private async observeGithub(now: number, inFlight: InFlight): Promise<{ jobs: ObservedJob[]; jobScopesFailed: string[]; runners: ObservedRunner[]; runnerScopes: string[]; namedByJobs: Set<string>; jobStarted: Map<string, number> }> {
    const jobs: ObservedJob[] = [];
    const namedByJobs = new Set<string>();
    const jobStarted = new Map<string, number>();
    const jobScopesFailed: string[] = [];
    const runners: ObservedRunner[] = [];
    const runnerScopes: string[] = [];
    let limited: RateLimitedError | undefined;
    const guard = async (what: string, where: string, f: () => Promise<void>, onFail: () => void) => {
      if (limited) return onFail();
      try {
        await f();
      } catch (e) {
        onFail();
        const rl = asRateLimited(e, now);
        if (rl) limited ??= rl;
        else if (!this.d.permissions?.report(e, what, where)) this.d.log.warn(`github: ${what} failed: ${(e as Error).message}`);
      }
    };
    const explicit = new Set(this.d.config.github.repos.map((r) => r.toLowerCase()));
    const scopes = this.scopes();
    // Organisations' repositories first: the schedule chooses among all repositories at once.
    const orgRepos = new Map<string, string[]>();
    await Promise.all(scopes.map((scope) => scope.kind !== 'org' ? undefined : guard(`list repositories of ${scopeKey(scope)}`, `the repositories of organisation ${scope.org}`, async () => {
      orgRepos.set(scope.org, (await this.queue.add(() => this.reposOf(scope.org)))!.filter((r) => !explicit.has(r.toLowerCase())));
    }, () => jobScopesFailed.push(scopeKey(scope)))));
    const polled: PolledRepo[] = [
      ...this.d.config.github.repos.map((repo) => ({ repo, withRunners: true })),
      ...[...orgRepos.values()].flat().map((repo) => ({ repo, withRunners: false })),
    ];
    this.d.repoCount?.(polled.length);
    // Runners are listed every tick where our VMs, creations or registrations are.
    const held = new Set([...this.vmScopes, ...this.runnerHeld, ...inFlight.creating.map((c) => c.scope)]);
    const orgPoints = [...orgRepos.values()].reduce((n, r) => n + 2 + Math.floor(r.length / 100), 0);
    const heldRepoScopes = scopes.filter((s) => s.kind === 'repo' && held.has(scopeKey(s))).length;
    this.d.schedule?.keepOnly(polled);
    const chosen = this.d.schedule?.choose(polled, orgPoints + heldRepoScopes, now) ?? new Set(polled.map((r) => r.repo));
    const tasks: Array<Promise<void>> = [];
    for (const scope of scopes) {
      const key = scopeKey(scope);
      const where = scope.kind === 'repo' ? describeScope(scope) : `organisation ${scope.org}`;
      const full = scope.kind === 'repo' ? `${scope.owner}/${scope.repo}` : undefined;
      if (scope.kind === 'org' || chosen.has(full!) || held.has(key)) {
        tasks.push(this.queue.add(() => guard(`list runners of ${key}`, where, async () => {
          const { items } = await this.d.github.listRunners(scope);
          for (const r of items) runners.push({ id: r.id, name: r.name, scope: key, status: r.status, busy: r.busy });
          if (items.some((r) => parseRunnerName(this.d.config.pools, r.name))) this.runnerHeld.add(key);
          else this.runnerHeld.delete(key);
          runnerScopes.push(key);
        }, () => {})));
      }
      if (scope.kind === 'org' && !orgRepos.has(scope.org)) continue;
      // Jobs are read per repository: for an organisation, Actions is needed on its repositories.
      const repos = (full ? [full] : orgRepos.get(scope.kind === 'org' ? scope.org : '')!).filter((r) => chosen.has(r));
      tasks.push(guard(`list jobs of ${key}`, scope.kind === 'repo' ? where : `the repositories of organisation ${scope.org}`, async () => {
        const failed: unknown[] = [];
        await Promise.all(repos.map(async (repo) => {
          try {
            const listed = await this.runJobs(repo, now, full !== undefined);
            for (const j of listed) if (j.status !== 'queued' && j.runnerName) namedByJobs.add(j.runnerName);
            for (const j of listed) if (j.status === 'in_progress' && j.runnerName && j.startedAt && Number.isFinite(Date.parse(j.startedAt))) jobStarted.set(j.runnerName, Date.parse(j.startedAt));
            for (const j of listed) if (j.status === 'queued') jobs.push({ id: j.id, runId: j.runId, repo: j.repo, name: j.name, labels: j.labels, createdAt: j.createdAt, scope: key });
          } catch (e) {
            failed.push(e);
          }
        }));
        if (failed.length) throw failed[0];
      }, () => jobScopesFailed.push(key)));
    }
    await Promise.all(tasks);
    if (limited) throw limited;
    return { jobs, jobScopesFailed, runners, runnerScopes, namedByJobs, jobStarted };
  }

  private async reposOf(org: string): Promise<string[]> {
    const { items, changed } = await this.d.github.listOrgRepos(org);
    if (changed || !this.orgRepos.has(org)) this.orgRepos.set(org, items);
    return this.orgRepos.get(org)!;
  }

  /**
   * Jobs of a repository: from runs that are queued and runs in progress (a `needs:` chain
   * queues jobs inside a running run). Each run's jobs are read again every tick: the request is
   * conditional, so an unchanged list costs no rate limit, and a run's `updated_at` (whole seconds,
   * and not documented to move with its jobs) cannot tell whether a job changed. Both listings stay
   * (docs/github-requests.md says why one unfiltered listing would miss jobs).
   */
  private async runJobs(fullName: string, now: number, withRunners: boolean): Promise<Array<QueuedJob & { status: string; runnerName: string | null; startedAt?: string | null }>> {
    const [owner, repo] = fullName.split('/') as [string, string];
    const [queued, inProgress] = await Promise.all([this.queue.add(() => this.d.github.listRuns(owner, repo, 'queued')), this.queue.add(() => this.d.github.listRuns(owner, repo, 'in_progress'))]);
    this.d.activity?.saw(fullName, queued!.items.map((r) => r.id), inProgress!.items.length, now);
    const runs = [...queued!.items, ...inProgress!.items];
    const lists = await Promise.all(runs.map((run) => this.queue.add(() => this.d.github.listRunJobs(owner, repo, run.id))));
    const pages = (n: number) => Math.max(1, Math.ceil(n / 100));
    this.d.schedule?.listed(fullName, pages(queued!.items.length) + pages(inProgress!.items.length) + lists.reduce((n, l) => n + pages(l!.items.length), 0) + (withRunners ? 1 : 0), now);
    const jobs = lists.flatMap((l) => l!.items);
    this.d.metrics?.jobsListed(jobs, now);
    return jobs;
  }
}
