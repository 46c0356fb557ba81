/**
 * What the daemon tells its metrics, as small interfaces: the executor, observer and loop depend on
 * these, never on prom-client. Times are the daemon's clock (epoch ms); GitHub's timestamps stay
 * GitHub's (ISO strings) so a pickup is measured the way a user sees it.
 */
import type { Action } from '../planner/actions.js';
import type { Plan } from '../planner/actions.js';
import type { Observation } from '../planner/observation.js';

export type ActionOutcome = 'ok' | 'failed' | 'skipped';

export interface ExecutorMetrics {
  /** an action ended (`ms`: from its start to its end) */
  actionDone(a: Action, outcome: ActionOutcome, ms: number): void;
  /** a clone request and its task (inside its storage-lock slot) took `ms` */
  cloned(pool: string, ms: number): void;
  /** a runner VM's start task ended at `at`: its runner registers next */
  vmStarted(pool: string, runner: string, fromWarm: boolean, at: number): void;
}

/** A job as the run's job listing gives it. */
export interface ListedJob {
  id: number;
  status: string;
  labels: readonly string[];
  createdAt: string;
  startedAt?: string | null;
  completedAt?: string | null;
  runnerName: string | null;
}

export interface ObserverMetrics {
  /** jobs of one run's listing, read at `at` */
  jobsListed(jobs: readonly ListedJob[], at: number): void;
}

export type TickOutcome = { ok: true; observation: Observation; plan: Plan } | { ok: false };

export interface LoopMetrics {
  tickStarted(at: number): void;
  tickEnded(at: number, r: TickOutcome): void;
}

export interface ApiMetrics {
  request(service: 'github' | 'proxmox', method: string, endpoint: string, status: number | 'error'): void;
}

/** Every hook at once: what wire() hands out. */
export interface MetricsRecorder extends ExecutorMetrics, ObserverMetrics, LoopMetrics, ApiMetrics {}
