import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { describeAjvErrors } from '../util/schema-errors.js';
import { accessProblems } from './pve/access-scenario.js';

const require = createRequire(import.meta.url);
const scenarioSchema = require('../../schemas/scenario.schema.json') as object;

export class ScenarioError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid scenario:\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

export interface EndpointFaults {
  http_error_rate?: number;
  /** a mutating request is carried out, then its connection drops before the answer */
  lost_answer_rate?: number;
  task_failure_rate?: number;
  lock_timeout_rate?: number;
  secondary_rate_limit_rate?: number;
  /** a task ends `WARNINGS: 1` after logging a WARN line PVE logs in real life */
  task_warning_rate?: number;
  /** an agent file-write stops halfway: half the content is in the guest's file, PVE answers 500 (QMP timeout) */
  agent_write_failure_rate?: number;
}

export interface FaultRates extends EndpointFaults {
  boot_failure_rate?: number;
  /** keyed `METHOD /path/{template}`, e.g. `POST /nodes/{node}/qemu/{vmid}/clone` */
  endpoints: Record<string, EndpointFaults>;
}

/** What an injected GitHub 5xx carries: GitHub's JSON, an HTML error page, or nothing. */
export type GithubErrorBody = 'json' | 'html' | 'empty';

export interface ScenarioNode { name: string; memoryMb: number; cpus: number; status: 'online' | 'offline' }
export interface ScenarioTemplate { name: string; vmid: number; node: string; memory: number; cores: number; storage: string; sharedStorage: boolean; runnerVersion: string; image: 'pve-runners' | 'energyplusci'; agent: boolean }
export interface ScenarioForeignVm { vmid: number; node: string; name: string; status: 'running' | 'stopped'; tags?: string; memory: number }
export interface ScenarioForeignRunner { repo?: string; org?: string; name: string; labels: string[]; status: 'online' | 'offline' }
/** `proxmox.access`: user.cfg as the scenario states it (see sim/pve/access-scenario.ts for the defaults). */
export interface ScenarioAccess {
  /** start from the grants scripts/create-proxmox-token.sh makes for this scenario (default true) */
  defaults: boolean;
  /** the default grants include --guest-agent's */
  guestAgent: boolean;
  /** the token id the simulator accepts */
  authenticate?: string;
  users: Array<{ id: string; enabled: boolean }>;
  tokens: Array<{ id: string; privsep: boolean }>;
  roles: Array<{ name: string; privs: string[] }>;
  acls: Array<{ path: string; roles: string[]; users: string[]; tokens: string[]; propagate: boolean }>;
  /** `pveum acl delete`: removes these roles (all when none named) of these subjects (all when none named) on the path */
  revoke: Array<{ path: string; roles?: string[]; users?: string[]; tokens?: string[] }>;
  pools: Array<{ name: string; vms: number[] }>;
}
export interface ScenarioOrg { name: string; repos: string[]; runnerGroups: string[] }
export type GithubAccess = 'none' | 'read' | 'write';
/** The fine-grained permissions of the scenario's credentials (static token and installation tokens alike). */
export interface GithubPermissions { actions: GithubAccess; administration: GithubAccess; organization_self_hosted_runners: GithubAccess; metadata: GithubAccess }
/** `github.webhook`: real workflow_job deliveries to the URL the harness registers. */
export interface ScenarioWebhook { delayMs: number; duplicateRate: number }
/** A GitHub App installed everywhere in the scenario; `tokenTtlMs` is real (wall-clock) time. */
export interface ScenarioGithubApp { id: number; clientId?: string; installationId: number; tokenTtlMs: number }

export interface WorkloadEntry {
  atMs: number;
  repo: string;
  jobs: number;
  runs: number;
  chain: boolean;
  labels: string[];
  durationMs: number;
  cancelAfterMs?: number;
  foreignAfterMs?: number;
  workflow: string;
}

/** A validated scenario with every duration in scenario milliseconds. */
export interface Scenario {
  file: string;
  seed: number;
  timeLimitMs: number;
  /** epoch ms scenario time 0 stands for (`start_at`); undefined: the moment the simulator starts */
  startEpochMs?: number;
  proxmox: {
    version: string;
    nodes: ScenarioNode[];
    templates: ScenarioTemplate[];
    foreignVms: ScenarioForeignVm[];
    snippets: 'per-node' | 'shared';
    storage: string;
    tokenPrivileges?: string[];
    access?: ScenarioAccess;
    timings: { cloneMs: number; configMs: number; startMs: number; bootMs: number; agentMs: number; stopMs: number; shutdownMs: number; destroyMs: number; latencyMs: number; statsMs: number; fullCloneMs: number; storageLockMs: number };
    faults: FaultRates;
  };
  github: {
    repos: string[];
    orgs: ScenarioOrg[];
    foreignRunners: ScenarioForeignRunner[];
    rateLimit: { limit: number; windowMs: number; exhaustAtMs?: number; exhaustForMs: number };
    /** `github.secondary_limit`: see schemas/scenario.schema.json and sim/github/http/secondary-limit.ts */
    secondaryLimit: { pointsPerMinute: number; concurrency: number; blockMs: number; maxBlockMs: number };
    registrationTokenTtlMs: number;
    /** the actions/runner version GitHub currently serves */
    runnerVersion: string;
    /** runners older than this are refused jobs ("Runner version vX is deprecated and cannot receive messages.") */
    minimumRunnerVersion: string;
    app?: ScenarioGithubApp;
    webhook?: ScenarioWebhook;
    timings: { latencyMs: number; runnerConnectMs: number; dispatchMs: number };
    /** how late listings show changes (scenario ms) */
    lag: { jobsMs: number; runnersMs: number; runnerDeletionMs: number };
    permissions: GithubPermissions;
    faults: FaultRates;
    errorShapes: { httpErrorBodies: GithubErrorBody[]; secondaryStatuses: Array<403 | 429>; secondaryNoRetryAfterRate: number };
  };
  workload: WorkloadEntry[];
  caps?: { total?: number; pools: Record<string, number> };
  /** hand edits people make while the daemon runs */
  people: PersonEdit[];
}

/** A person strips pve-runners' marks (tags, description) from one of its running VMs. */
export interface PersonEdit { atMs: number; stripMarks: 'busy' | 'idle' | 'any' }

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validate = ajv.compile(scenarioSchema);

/* The raw shape after schema validation with defaults applied; only read inside this file. */
type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ms = (v: unknown): number => parseDuration(v as string | number);
const optMs = (v: unknown): number | undefined => (v === undefined ? undefined : ms(v));

function faults(raw: Raw | undefined): FaultRates {
  // shapes of GitHub's answers, not rates: kept apart (errorShapes)
  const { endpoints, http_error_bodies: _b, secondary_rate_limit_statuses: _s, secondary_rate_limit_no_retry_after_rate: _n, ...rates } = raw ?? {};
  return { ...rates, endpoints: endpoints ?? {} };
}

function accessOf(a: Raw): ScenarioAccess {
  const list = (v: unknown) => (v ?? []) as Raw[];
  return {
    defaults: a.defaults, guestAgent: a.guest_agent, authenticate: a.authenticate,
    users: list(a.users).map((u) => ({ id: u.id, enabled: u.enabled })),
    tokens: list(a.tokens).map((t) => ({ id: t.id, privsep: t.privsep })),
    roles: list(a.roles).map((r) => ({ name: r.name, privs: r.privs })),
    acls: list(a.acls).map((x) => ({ path: x.path, roles: x.roles, users: x.users ?? [], tokens: x.tokens ?? [], propagate: x.propagate })),
    revoke: list(a.revoke).map((x) => ({ path: x.path, roles: x.roles, users: x.users, tokens: x.tokens })),
    pools: list(a.pools).map((x) => ({ name: x.name, vms: x.vms })),
  };
}

export function parseScenario(text: string, file = '<scenario>'): Scenario {
  let raw: Raw;
  try {
    raw = parseYaml(text) as Raw;
  } catch (e) {
    throw new ScenarioError(file, [`not valid YAML: ${(e as Error).message}`]);
  }
  if (!validate(raw)) throw new ScenarioError(file, describeAjvErrors(validate.errors));
  const px = raw.proxmox as Raw;
  const gh = raw.github as Raw;
  const nodeNames = new Set((px.nodes as Raw[]).map((n) => n.name as string));
  const problems: string[] = [];
  (px.templates as Raw[]).forEach((t, i) => {
    if (!nodeNames.has(t.node)) problems.push(`proxmox.templates[${i}].node: '${t.node}' is not one of proxmox.nodes (${[...nodeNames].join(', ')})`);
  });
  (px.foreign_vms ?? []).forEach((v: Raw, i: number) => {
    if (!nodeNames.has(v.node)) problems.push(`proxmox.foreign_vms[${i}].node: '${v.node}' is not one of proxmox.nodes`);
  });
  const ids = [...(px.templates as Raw[]), ...((px.foreign_vms ?? []) as Raw[])].map((v) => v.vmid as number);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) problems.push(`proxmox: VMID ${dup} is used twice (templates and foreign_vms must have distinct VMIDs)`);
  const knownRepos = new Set<string>([...(gh.repos as string[]), ...(gh.orgs as Raw[]).flatMap((o) => (o.repos as string[]).map((r) => `${o.name}/${r}`))]);
  (raw.workload as Raw[]).forEach((w, i) => {
    if (!knownRepos.has(w.repo)) problems.push(`workload[${i}].repo: '${w.repo}' is not in github.repos or any github.orgs[].repos`);
  });
  if (px.access && px.token) problems.push('proxmox: give either token.privileges (one privilege set on every path) or access (users, tokens, roles, ACLs, pools), not both');
  if (px.access) problems.push(...accessProblems(px.access as Raw, ids));
  const sl = (gh.secondary_limit ?? {}) as Raw;
  if (ms(sl.max_block ?? '15m') < ms(sl.block ?? '60s')) problems.push(`github.secondary_limit.max_block: ${sl.max_block ?? '15m'} is shorter than block (${sl.block ?? '60s'}); give max_block at least block`);
  if (problems.length) throw new ScenarioError(file, problems);

  const t = (px.timings ?? {}) as Raw;
  const d = (key: string, dflt: string) => ms(t[key] ?? dflt);
  const rl = (gh.rate_limit ?? {}) as Raw;
  const gt = (gh.timings ?? {}) as Raw;
  const lag = (gh.lag ?? {}) as Raw;
  const perms = (gh.permissions ?? {}) as Raw;
  return {
    file,
    seed: raw.seed,
    timeLimitMs: ms(raw.time_limit),
    startEpochMs: raw.start_at === undefined ? undefined : Date.parse(raw.start_at),
    proxmox: {
      version: px.version,
      nodes: (px.nodes as Raw[]).map((n) => ({ name: n.name, memoryMb: n.memory_mb, cpus: n.cpus, status: n.status })),
      templates: (px.templates as Raw[]).map((x) => ({ name: x.name, vmid: x.vmid, node: x.node, memory: x.memory, cores: x.cores, storage: x.storage, sharedStorage: x.shared_storage, runnerVersion: x.runner_version, image: x.image, agent: x.agent })),
      foreignVms: ((px.foreign_vms ?? []) as Raw[]).map((v) => ({ vmid: v.vmid, node: v.node, name: v.name ?? `foreign-${v.vmid}`, status: v.status, tags: v.tags, memory: v.memory })),
      snippets: px.snippets,
      storage: px.storage,
      tokenPrivileges: px.token?.privileges,
      access: px.access ? accessOf(px.access as Raw) : undefined,
      timings: {
        cloneMs: d('clone', '2s'), configMs: d('config', '200ms'), startMs: d('start', '1s'), bootMs: d('boot', '20s'), agentMs: d('agent', '5s'),
        stopMs: d('stop', '1s'), shutdownMs: d('shutdown', '3s'), destroyMs: d('destroy', '1s'), latencyMs: d('latency', '0s'), statsMs: d('stats', '10s'),
        fullCloneMs: d('full_clone', '3m'),
        // unset: a linked clone's whole time is its two locked storage steps (see qemu-clone.ts)
        storageLockMs: t.storage_lock !== undefined ? ms(t.storage_lock) : d('clone', '2s') / 2,
      },
      faults: faults(px.faults),
    },
    github: {
      repos: gh.repos,
      orgs: (gh.orgs as Raw[]).map((o) => ({ name: o.name, repos: o.repos, runnerGroups: o.runner_groups })),
      foreignRunners: ((gh.foreign_runners ?? []) as Raw[]).map((r) => ({ repo: r.repo, org: r.org, name: r.name, labels: r.labels, status: r.status })),
      rateLimit: { limit: rl.limit ?? 5000, windowMs: ms(rl.window ?? '1h'), exhaustAtMs: optMs(rl.exhaust_at), exhaustForMs: ms(rl.exhaust_for ?? '30s') },
      secondaryLimit: { pointsPerMinute: sl.points_per_minute ?? 900, concurrency: sl.concurrency ?? 100, blockMs: ms(sl.block ?? '60s'), maxBlockMs: ms(sl.max_block ?? '15m') },
      registrationTokenTtlMs: ms(gh.registration_token_ttl),
      runnerVersion: gh.runner_version,
      minimumRunnerVersion: gh.minimum_runner_version,
      app: gh.app ? { id: gh.app.id, clientId: gh.app.client_id, installationId: gh.app.installation_id, tokenTtlMs: ms(gh.app.token_ttl) } : undefined,
      webhook: gh.webhook === true || (typeof gh.webhook === 'object' && gh.webhook !== null) ? { delayMs: ms(gh.webhook.delay ?? '1s'), duplicateRate: gh.webhook.duplicate_rate ?? 0 } : undefined,
      timings: { latencyMs: ms(gt.latency ?? '0s'), runnerConnectMs: ms(gt.runner_connect ?? '2s'), dispatchMs: ms(gt.dispatch ?? '2s') },
      lag: { jobsMs: ms(lag.jobs ?? '3s'), runnersMs: ms(lag.runners ?? '5s'), runnerDeletionMs: ms(lag.runner_deletion ?? '10s') },
      permissions: {
        actions: perms.actions ?? 'read', administration: perms.administration ?? 'write',
        organization_self_hosted_runners: perms.organization_self_hosted_runners ?? 'write', metadata: perms.metadata ?? 'read',
      },
      faults: faults(gh.faults),
      errorShapes: {
        httpErrorBodies: gh.faults?.http_error_bodies ?? ['json', 'html', 'empty'],
        secondaryStatuses: gh.faults?.secondary_rate_limit_statuses ?? [403, 429],
        secondaryNoRetryAfterRate: gh.faults?.secondary_rate_limit_no_retry_after_rate ?? 0.5,
      },
    },
    workload: (raw.workload as Raw[]).map((w) => ({
      atMs: ms(w.at), repo: w.repo, jobs: w.jobs, runs: w.runs, chain: w.chain, labels: w.labels, durationMs: ms(w.duration),
      cancelAfterMs: optMs(w.cancel_after), foreignAfterMs: optMs(w.foreign_after), workflow: w.workflow,
    })),
    caps: raw.caps ? { total: raw.caps.total, pools: raw.caps.pools ?? {} } : undefined,
    people: ((raw.people ?? []) as Raw[]).map((e) => ({ atMs: ms(e.at), stripMarks: e.strip_marks })),
  };
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, [`cannot read: ${(e as Error).message}`]);
  }
  return parseScenario(text, file);
}
