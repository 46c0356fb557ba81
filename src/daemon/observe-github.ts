/**
 * The GitHub half of a tick's observation: which repositories the poll schedule lists, their queued
 * and running jobs, and the runners of every scope that may hold ours. Keeps the organisations'
 * repository lists and which scopes hold our registrations (facts, not config: a restart costs one
 * full read).
 */
import PQueue from 'p-queue';
import type { Config } from '../config/types.js';
import type { GithubApi, QueuedJob } from '../github/api.js';
import { OBSERVER_CONCURRENCY } from '../github/budget.js';
import { describeScope, scopeKey, type Scope } from '../github/scope.js';
import type { Logger } from '../log.js';
import type { ObserverMetrics } from '../metrics/recorder.js';
import { parseRunnerName } from '../planner/names.js';
import type { InFlight, ObservedJob, ObservedRunner } from '../planner/observation.js';
import type { PermissionLog } from './permission-log.js';
import type { PollSchedule, PolledRepo } from './poll-schedule.js';
import { asRateLimited, type RateLimitedError } from './rate-limit.js';
import type { RepoActivity } from './repo-activity.js';

export interface GithubObserverDeps {
  config: Config;
  github: GithubApi;
  log: Logger;
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
}

export interface GithubSeen {
  jobs: ObservedJob[];
  jobScopesFailed: string[];
  runners: ObservedRunner[];
  runnerScopes: string[];
  namedByJobs: Set<string>;
  jobStarted: Map<string, number>;
}

export class GithubObserver {
  private config: Config;
  private readonly orgRepos = new Map<string, string[]>();
  private readonly queue: PQueue;
  /** scopes whose last runner listing held a registration of ours: listed every tick */
  private readonly runnerHeld = new Set<string>();

  constructor(private readonly d: GithubObserverDeps) {
    this.config = d.config;
    this.queue = new PQueue({ concurrency: d.concurrency ?? OBSERVER_CONCURRENCY });
  }

  reconfigure(config: Config): void {
    this.config = config;
  }

  /** Scopes whose jobs are served: each configured repo, and each org (covering all its repos). */
  scopes(): Scope[] {
    const repos = this.config.github.repos.map((r): Scope => {
      const [owner, repo] = r.split('/') as [string, string];
      return { kind: 'repo', owner, repo };
    });
    return [...repos, ...this.config.github.orgs.map((o): Scope => ({ kind: 'org', org: o.name }))];
  }

  /** `vmScopes`: scopes of our VMs at the last tick, whose runners are listed whatever the schedule. */
  async observe(now: number, inFlight: InFlight, vmScopes: ReadonlySet<string>): Promise<GithubSeen> {
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
    const explicit = new Set(this.config.github.repos.map((r) => r.toLowerCase()));
    const scopes = this.scopes();
    // Organisations' repositories first: the schedule chooses among all repositories at once.
    const orgRepos = new Map<string, string[]>();
    await Promise.all(scopes.map((scope) => scope.kind !== 'org' ? undefined : guard(`list repositories of ${scopeKey(scope)}`, `the repositories of organisation ${scope.org}`, async () => {
      orgRepos.set(scope.org, (await this.queue.add(() => this.reposOf(scope.org)))!.filter((r) => !explicit.has(r.toLowerCase())));
    }, () => jobScopesFailed.push(scopeKey(scope)))));
    const polled: PolledRepo[] = [
      ...this.config.github.repos.map((repo) => ({ repo, withRunners: true })),
      ...[...orgRepos.values()].flat().map((repo) => ({ repo, withRunners: false })),
    ];
    this.d.repoCount?.(polled.length);
    // Runners are listed every tick where our VMs, creations or registrations are.
    const held = new Set([...vmScopes, ...this.runnerHeld, ...inFlight.creating.map((c) => c.scope)]);
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
          if (items.some((r) => parseRunnerName(this.config.pools, r.name))) this.runnerHeld.add(key);
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
