/**
 * The simulated GitHub's state: repositories and organisations from the scenario, workflow runs and
 * their jobs from the workload, and runner registrations (ours, the scenario's foreign ones).
 * Times are scenario milliseconds (ctx.clock.nowMs()).
 */
import type { RunnerExit } from '../contracts.js';

export interface Account {
  login: string;
  id: number;
  type: 'Organization' | 'User';
}

export interface Repo {
  id: number;
  owner: Account;
  name: string;
  fullName: string;
  createdAtMs: number;
}

export interface RunnerGroup {
  id: number;
  name: string;
  isDefault: boolean;
}

export interface Org {
  account: Account;
  repos: Repo[];
  groups: RunnerGroup[];
}

/** Where a runner is registered: one repository, or an organisation (then it serves all its repos). */
export interface Scope {
  kind: 'repo' | 'org';
  /** lower-case `owner/repo` or `org`: GitHub treats names case-insensitively */
  key: string;
}

/** A guest's live connection: how to tell it the runner is finished, and its pending connect. */
export interface RunnerSession {
  onExit: (exit: RunnerExit) => void;
  cancelConnect?: () => void;
}

export interface Runner {
  id: number;
  name: string;
  scope: Scope;
  group: RunnerGroup;
  labels: string[];
  os: string;
  ephemeral: boolean;
  /** from the scenario (somebody else's runner): never ours to delete */
  foreign: boolean;
  status: 'online' | 'offline';
  busy: boolean;
  /** null until the runner software first connected, as GitHub reports it */
  version: string | null;
  onlineSinceMs?: number;
  jobId?: number;
  /** JIT registrations: the secret inside the encoded config, and whether a runner already used it */
  jit?: { clientId: string; used: boolean };
  /** registrations made by config.sh: the client id saved in the runner's `.credentials` */
  configured?: { clientId: string };
  session?: RunnerSession;
}

/** A runner outside every scope the token can see, which takes a job (workload `foreign_after`). */
export interface Stranger {
  id: number;
  name: string;
}

export interface JobSpec {
  labels: string[];
  durationMs: number;
  cancelAfterMs?: number;
  foreignAfterMs?: number;
}

export type JobStatus = 'queued' | 'in_progress' | 'completed';
export type JobConclusion = 'success' | 'failure' | 'cancelled' | 'skipped';

export interface Job {
  id: number;
  run: Run;
  name: string;
  spec: JobSpec;
  status: JobStatus;
  conclusion: JobConclusion | null;
  createdAtMs: number;
  startedAtMs?: number;
  completedAtMs?: number;
  runner?: { id: number; name: string; group: RunnerGroup; registered: boolean };
  /** pending timers of this job (cancel_after, foreign_after, completion) */
  cancels: Array<() => void>;
}

export interface Run {
  id: number;
  repo: Repo;
  workflow: string;
  workflowId: number;
  runNumber: number;
  checkSuiteId: number;
  headSha: string;
  chain: boolean;
  specs: JobSpec[];
  jobs: Job[];
  createdAtMs: number;
  updatedAtMs: number;
  startedAtMs: number;
}

export interface RegistrationToken {
  token: string;
  scope: Scope;
  expiresAtMs: number;
}
