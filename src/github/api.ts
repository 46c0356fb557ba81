import type { Scope } from './scope.js';

/** A job waiting for a runner, as the daemon needs it. */
export interface QueuedJob {
  id: number;
  runId: number;
  /** owner/repo the job belongs to */
  repo: string;
  name: string;
  labels: string[];
  createdAt: string;
}

export interface RunnerRegistration {
  id: number;
  name: string;
  /** GitHub's runner status: `online` or `offline` */
  status: string;
  busy: boolean;
  labels: string[];
}

export interface WorkflowRunRef {
  id: number;
  status: string;
  updatedAt: string;
}

export interface Listing<T> {
  items: T[];
  changed: boolean;
}

export interface JitConfig {
  runnerId: number;
  encodedJitConfig: string;
}

export type DeleteRunnerResult = 'deleted' | 'busy' | 'gone';

export interface RateBudget {
  limit: number;
  remaining: number;
  /** epoch ms */
  resetAt: number;
}

/**
 * The GitHub calls pve-runners makes, and no others. Implemented over Octokit (octokit-api.ts);
 * the observer and the executor depend only on this.
 */
export interface GithubApi {
  /**
   * Lists are read with conditional requests: an unchanged listing costs no rate limit, comes from
   * the cache, and says `changed: false`.
   */
  listRuns(owner: string, repo: string, status: 'queued' | 'in_progress', signal?: AbortSignal): Promise<Listing<WorkflowRunRef>>;
  /** Jobs of a run (filter=latest), every status, with the runner that took each (null until one did) and when it started. */
  listRunJobs(owner: string, repo: string, runId: number): Promise<Listing<QueuedJob & { status: string; runnerName: string | null; startedAt?: string | null; completedAt?: string | null }>>;
  /** Every repository of an organisation, as owner/name. */
  listOrgRepos(org: string): Promise<Listing<string>>;
  listRunners(scope: Scope): Promise<Listing<RunnerRegistration>>;
  /** The newest actions/runner version GitHub offers for download in this scope (undefined: it named none). */
  latestRunnerVersion(scope: Scope): Promise<string | undefined>;
  /** One registration by its exact name (GitHub's `name` filter), undefined when there is none. */
  findRunner(scope: Scope, name: string): Promise<RunnerRegistration | undefined>;
  generateJitConfig(scope: Scope, req: { name: string; labels: string[]; runnerGroupId: number }): Promise<JitConfig>;
  createRegistrationToken(scope: Scope): Promise<{ token: string; expiresAt: string }>;
  deleteRunner(scope: Scope, runnerId: number): Promise<DeleteRunnerResult>;
  runnerGroupId(org: string, group: string): Promise<number>;
  /** What the last answer said about the primary rate limit. */
  budget(): RateBudget | undefined;
  /** Secondary-limit points of every request sent so far (github/budget.ts), 304s included. */
  pointsSent(): number;
  /** GET /rate_limit, which costs no rate limit: proves the credentials and reads the core budget. */
  rateLimit(): Promise<RateBudget>;
  /** GET /repos/{owner}/{repo}: whether the credentials administer it (undefined when GitHub does not say, as for App installation tokens). */
  repoAccess(owner: string, repo: string): Promise<{ fullName: string; admin: boolean | undefined }>;
  /** What a GitHub App installation was granted (from its access token), undefined for a personal token, which GitHub does not tell. */
  installationPermissions(): Promise<Record<string, string> | undefined>;
  /** Every runner group of an organisation. */
  listRunnerGroups(org: string): Promise<Array<{ id: number; name: string }>>;
}
