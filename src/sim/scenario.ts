import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { describeAjvErrors } from '../util/schema-errors.js';

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
}

export interface FaultRates extends EndpointFaults {
  boot_failure_rate?: number;
  /** keyed `METHOD /path/{template}`, e.g. `POST /nodes/{node}/qemu/{vmid}/clone` */
  endpoints: Record<string, EndpointFaults>;
}

export interface ScenarioNode { name: string; memoryMb: number; cpus: number; status: 'online' | 'offline' }
export interface ScenarioTemplate { name: string; vmid: number; node: string; memory: number; cores: number; storage: string; sharedStorage: boolean; runnerVersion: string }
export interface ScenarioForeignVm { vmid: number; node: string; name: string; status: 'running' | 'stopped'; tags?: string; memory: number }
export interface ScenarioForeignRunner { repo?: string; org?: string; name: string; labels: string[]; status: 'online' | 'offline' }
export interface ScenarioOrg { name: string; repos: string[]; runnerGroups: string[] }
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
  proxmox: {
    version: string;
    nodes: ScenarioNode[];
    templates: ScenarioTemplate[];
    foreignVms: ScenarioForeignVm[];
    snippets: 'per-node' | 'shared';
    storage: string;
    tokenPrivileges?: string[];
    timings: { cloneMs: number; configMs: number; startMs: number; bootMs: number; stopMs: number; shutdownMs: number; destroyMs: number; latencyMs: number; statsMs: number };
    faults: FaultRates;
  };
  github: {
    repos: string[];
    orgs: ScenarioOrg[];
    foreignRunners: ScenarioForeignRunner[];
    rateLimit: { limit: number; windowMs: number; exhaustAtMs?: number; exhaustForMs: number };
    registrationTokenTtlMs: number;
    /** the actions/runner version GitHub currently serves */
    runnerVersion: string;
    app?: ScenarioGithubApp;
    timings: { latencyMs: number; runnerConnectMs: number };
    faults: FaultRates;
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
  const { endpoints, ...rates } = raw ?? {};
  return { ...rates, endpoints: endpoints ?? {} };
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
  if (problems.length) throw new ScenarioError(file, problems);

  const t = (px.timings ?? {}) as Raw;
  const d = (key: string, dflt: string) => ms(t[key] ?? dflt);
  const rl = (gh.rate_limit ?? {}) as Raw;
  const gt = (gh.timings ?? {}) as Raw;
  return {
    file,
    seed: raw.seed,
    timeLimitMs: ms(raw.time_limit),
    proxmox: {
      version: px.version,
      nodes: (px.nodes as Raw[]).map((n) => ({ name: n.name, memoryMb: n.memory_mb, cpus: n.cpus, status: n.status })),
      templates: (px.templates as Raw[]).map((x) => ({ name: x.name, vmid: x.vmid, node: x.node, memory: x.memory, cores: x.cores, storage: x.storage, sharedStorage: x.shared_storage, runnerVersion: x.runner_version })),
      foreignVms: ((px.foreign_vms ?? []) as Raw[]).map((v) => ({ vmid: v.vmid, node: v.node, name: v.name ?? `foreign-${v.vmid}`, status: v.status, tags: v.tags, memory: v.memory })),
      snippets: px.snippets,
      storage: px.storage,
      tokenPrivileges: px.token?.privileges,
      timings: {
        cloneMs: d('clone', '2s'), configMs: d('config', '200ms'), startMs: d('start', '1s'), bootMs: d('boot', '20s'),
        stopMs: d('stop', '1s'), shutdownMs: d('shutdown', '3s'), destroyMs: d('destroy', '1s'), latencyMs: d('latency', '0s'), statsMs: d('stats', '10s'),
      },
      faults: faults(px.faults),
    },
    github: {
      repos: gh.repos,
      orgs: (gh.orgs as Raw[]).map((o) => ({ name: o.name, repos: o.repos, runnerGroups: o.runner_groups })),
      foreignRunners: ((gh.foreign_runners ?? []) as Raw[]).map((r) => ({ repo: r.repo, org: r.org, name: r.name, labels: r.labels, status: r.status })),
      rateLimit: { limit: rl.limit ?? 5000, windowMs: ms(rl.window ?? '1h'), exhaustAtMs: optMs(rl.exhaust_at), exhaustForMs: ms(rl.exhaust_for ?? '30s') },
      registrationTokenTtlMs: ms(gh.registration_token_ttl),
      runnerVersion: gh.runner_version,
      app: gh.app ? { id: gh.app.id, clientId: gh.app.client_id, installationId: gh.app.installation_id, tokenTtlMs: ms(gh.app.token_ttl) } : undefined,
      timings: { latencyMs: ms(gt.latency ?? '0s'), runnerConnectMs: ms(gt.runner_connect ?? '2s') },
      faults: faults(gh.faults),
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
