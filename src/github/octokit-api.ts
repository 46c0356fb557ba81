import type { DeleteRunnerResult, GithubApi, JitConfig, Listing, QueuedJob, RateBudget, RunnerRegistration, WorkflowRunRef } from './api.js';
import { isFromCache, pointsSent, type GithubClient } from './octokit.js';
import type { Scope } from './scope.js';

interface Page<T> {
  data: T;
  headers: Record<string, string | number | undefined>;
}

/** Orders dotted versions numerically (2.336.0 after 2.99.1). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** GithubApi over Octokit: pagination, ETag-aware change detection, rate budget from headers. */
export class OctokitGithubApi implements GithubApi {
  private lastBudget: RateBudget | undefined;
  private readonly groupIds = new Map<string, number>();

  constructor(private readonly octokit: GithubClient) {
    octokit.hook.after('request', (response) => this.noteBudget(response.headers));
    octokit.hook.error('request', (error) => {
      const headers = (error as { response?: { headers?: Record<string, string> } }).response?.headers;
      if (headers) this.noteBudget(headers);
      throw error;
    });
  }

  private noteBudget(h: Record<string, string | number | undefined>): void {
    const limit = Number(h['x-ratelimit-limit']);
    const remaining = Number(h['x-ratelimit-remaining']);
    const reset = Number(h['x-ratelimit-reset']);
    if (Number.isFinite(limit) && Number.isFinite(remaining) && Number.isFinite(reset)) this.lastBudget = { limit, remaining, resetAt: reset * 1000 };
  }

  budget(): RateBudget | undefined {
    return this.lastBudget;
  }

  pointsSent(): number {
    return pointsSent(this.octokit);
  }

  /** Walks every page; the listing changed if any page was answered fresh rather than by a 304. */
  private async collect<R, T>(route: string, params: Record<string, unknown>, pick: (data: R) => T[], signal?: AbortSignal): Promise<Listing<T>> {
    const items: T[] = [];
    let changed = false;
    const iterator = this.octokit.paginate.iterator(route, { per_page: 100, ...params, ...(signal ? { request: { signal } } : {}) }) as AsyncIterable<Page<R>>;
    for await (const page of iterator) {
      if (!isFromCache(page)) changed = true;
      // paginate.iterator normalises list responses to the array inside them
      items.push(...pick(page.data));
    }
    return { items, changed };
  }

  listRuns(owner: string, repo: string, status: 'queued' | 'in_progress', signal?: AbortSignal): Promise<Listing<WorkflowRunRef>> {
    return this.collect('GET /repos/{owner}/{repo}/actions/runs', { owner, repo, status }, (runs: Array<{ id: number; status: string | null; updated_at: string }>) =>
      runs.map((r) => ({ id: r.id, status: r.status ?? 'unknown', updatedAt: r.updated_at })),
    signal);
  }

  listRunJobs(owner: string, repo: string, runId: number): Promise<Listing<QueuedJob & { status: string; runnerName: string | null }>> {
    return this.collect(
      'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
      { owner, repo, run_id: runId, filter: 'latest' },
      (jobs: Array<{ id: number; run_id: number; name: string; labels: string[]; status: string; created_at: string; started_at?: string | null; completed_at?: string | null; runner_name: string | null }>) =>
        jobs.map((j) => ({ id: j.id, runId: j.run_id, repo: `${owner}/${repo}`, name: j.name, labels: j.labels, status: j.status, createdAt: j.created_at, startedAt: j.started_at ?? null, completedAt: j.completed_at ?? null, runnerName: j.runner_name ?? null })),
    );
  }

  listOrgRepos(org: string): Promise<Listing<string>> {
    return this.collect('GET /orgs/{org}/repos', { org }, (repos: Array<{ full_name: string; archived?: boolean }>) =>
      repos.filter((r) => !r.archived).map((r) => r.full_name),
    );
  }

  listRunners(scope: Scope): Promise<Listing<RunnerRegistration>> {
    const pick = (runners: Array<{ id: number; name: string; status: string; busy: boolean; labels: Array<{ name: string }> }>) =>
      runners.map((r) => ({ id: r.id, name: r.name, status: r.status, busy: r.busy, labels: r.labels.map((l) => l.name) }));
    return scope.kind === 'repo'
      ? this.collect('GET /repos/{owner}/{repo}/actions/runners', { owner: scope.owner, repo: scope.repo }, pick)
      : this.collect('GET /orgs/{org}/actions/runners', { org: scope.org }, pick);
  }

  async latestRunnerVersion(scope: Scope): Promise<string | undefined> {
    const { data } =
      scope.kind === 'repo'
        ? await this.octokit.rest.actions.listRunnerApplicationsForRepo({ owner: scope.owner, repo: scope.repo })
        : await this.octokit.rest.actions.listRunnerApplicationsForOrg({ org: scope.org });
    const versions = data.map((a) => /-(\d+\.\d+\.\d+)\.(?:tar\.gz|zip)$/.exec(a.filename)?.[1]).filter((v): v is string => v !== undefined);
    return versions.sort(compareVersions).at(-1);
  }

  async findRunner(scope: Scope, name: string): Promise<RunnerRegistration | undefined> {
    const { data } =
      scope.kind === 'repo'
        ? await this.octokit.rest.actions.listSelfHostedRunnersForRepo({ owner: scope.owner, repo: scope.repo, name })
        : await this.octokit.rest.actions.listSelfHostedRunnersForOrg({ org: scope.org, name });
    const r = data.runners.find((x) => x.name === name);
    return r && { id: r.id, name: r.name, status: r.status, busy: r.busy, labels: r.labels.map((l) => l.name) };
  }

  async generateJitConfig(scope: Scope, req: { name: string; labels: string[]; runnerGroupId: number }): Promise<JitConfig> {
    const body = { name: req.name, labels: req.labels, runner_group_id: req.runnerGroupId, work_folder: '_work' };
    const { data } =
      scope.kind === 'repo'
        ? await this.octokit.rest.actions.generateRunnerJitconfigForRepo({ owner: scope.owner, repo: scope.repo, ...body })
        : await this.octokit.rest.actions.generateRunnerJitconfigForOrg({ org: scope.org, ...body });
    return { runnerId: data.runner.id, encodedJitConfig: data.encoded_jit_config };
  }

  async createRegistrationToken(scope: Scope): Promise<{ token: string; expiresAt: string }> {
    const { data } =
      scope.kind === 'repo'
        ? await this.octokit.rest.actions.createRegistrationTokenForRepo({ owner: scope.owner, repo: scope.repo })
        : await this.octokit.rest.actions.createRegistrationTokenForOrg({ org: scope.org });
    return { token: data.token, expiresAt: data.expires_at };
  }

  async deleteRunner(scope: Scope, runnerId: number): Promise<DeleteRunnerResult> {
    try {
      if (scope.kind === 'repo') await this.octokit.rest.actions.deleteSelfHostedRunnerFromRepo({ owner: scope.owner, repo: scope.repo, runner_id: runnerId });
      else await this.octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: scope.org, runner_id: runnerId });
      return 'deleted';
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 422) return 'busy';
      if (status === 404) return 'gone';
      throw e;
    }
  }

  async runnerGroupId(org: string, group: string): Promise<number> {
    const key = `${org}\n${group.toLowerCase()}`;
    const known = this.groupIds.get(key);
    if (known !== undefined) return known;
    const { items } = await this.collect('GET /orgs/{org}/actions/runner-groups', { org }, (groups: Array<{ id: number; name: string }>) => groups);
    const found = items.find((g) => g.name.toLowerCase() === group.toLowerCase());
    if (!found) throw new Error(`runner group '${group}' does not exist in org ${org} (groups: ${items.map((g) => g.name).join(', ') || 'none'})`);
    this.groupIds.set(key, found.id);
    return found.id;
  }

  async rateLimit(): Promise<RateBudget> {
    const { data } = await this.octokit.rest.rateLimit.get();
    const core = data.resources.core;
    return { limit: core.limit, remaining: core.remaining, resetAt: core.reset * 1000 };
  }

  async repoAccess(owner: string, repo: string): Promise<{ fullName: string; admin: boolean | undefined }> {
    const { data } = await this.octokit.rest.repos.get({ owner, repo });
    return { fullName: data.full_name, admin: data.permissions?.admin };
  }

  async installationPermissions(): Promise<Record<string, string> | undefined> {
    // @octokit/auth-app answers `{type: 'installation'}` with the token and what it was granted; a
    // plain token's auth ignores the argument and has no permissions to say.
    const auth: unknown = await this.octokit.auth({ type: 'installation' });
    const permissions = typeof auth === 'object' && auth !== null && 'permissions' in auth ? auth.permissions : undefined;
    if (typeof permissions !== 'object' || permissions === null) return undefined;
    return Object.fromEntries(Object.entries(permissions).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  async listRunnerGroups(org: string): Promise<Array<{ id: number; name: string }>> {
    const { items } = await this.collect('GET /orgs/{org}/actions/runner-groups', { org }, (groups: Array<{ id: number; name: string }>) => groups.map((g) => ({ id: g.id, name: g.name })));
    return items;
  }
}
