import type { PoolConfig } from '../../src/config/types.js';
import type { InFlight, Observation, ObservedJob, ObservedNode, ObservedRunner, ObservedVm } from '../../src/planner/observation.js';
import type { PlanConfig } from '../../src/planner/plan.js';

export const GiB = 1024 ** 3;
export const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
export const MIN = 60_000;

export function pool(over: Partial<PoolConfig> & { name: string }): PoolConfig {
  const labels = over.labels ?? ['self-hosted', 'linux', 'x64', over.name];
  return {
    index: 0,
    prefix: over.name,
    tag: `pvr-pool.${over.name}`,
    template: { kind: 'name', name: `${over.name}-template` },
    labels,
    labelsLower: [...new Set(labels.map((l) => l.toLowerCase()))],
    vmidRange: { lo: 200, hi: 209 },
    maxRunners: 4,
    nodes: ['pve1', 'pve2'],
    userData: { path: '/x.yaml', text: '' },
    cores: 2,
    memoryMb: 4096,
    registration: 'jit',
    clone: 'linked',
    delivery: 'dir',
    storage: undefined,
    bootTimeoutMs: 10 * MIN,
    idleTimeoutMs: 15 * MIN,
    maxJobDurationMs: 360 * MIN,
    runnerGroup: undefined,
    sizes: { hot: 0, warm: 0 },
    hotScopes: [],
    hotMaxAgeMs: 720 * MIN,
    schedule: [],
    timezone: undefined,
    ...over,
  };
}

export const ubuntu = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], vmidRange: { lo: 200, hi: 209 } });
export const gpu = pool({ name: 'gpu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04', 'gpu'], vmidRange: { lo: 300, hi: 301 }, maxRunners: 2, nodes: ['pve2'] });

export function config(over: Partial<PlanConfig> = {}): PlanConfig {
  return { pools: [ubuntu, gpu], maxTotalRunners: 8, disableCleanup: false, pauseOnStopped: false, vmidCooldownMs: 60_000, hiddenVmidWindowMs: 15 * MIN, ...over };
}

export const REPO = 'repo:acme/app';

let jobSeq = 1000;
export function job(labels: string[], over: Partial<ObservedJob> = {}): ObservedJob {
  const id = over.id ?? jobSeq++;
  return { id, runId: 1, repo: 'acme/app', scope: REPO, name: `build ${id}`, labels, createdAt: `2026-11-24T11:${String(id % 60).padStart(2, '0')}:00Z`, ...over };
}

export const ULABELS = ['self-hosted', 'linux', 'ubuntu-24.04'];

export function template(name: string, vmid: number, node: string, memGiB = 2): ObservedVm {
  return { vmid, node, name, status: 'stopped', template: true, tags: [], maxmemBytes: memGiB * GiB, uptimeS: 0 };
}

/** A VM of ours, as the observer reports it (tags, meta). */
export function ourVm(p: PoolConfig, vmid: number, over: Partial<ObservedVm> & { ageMs?: number; scope?: string } = {}): ObservedVm {
  const { ageMs = 2 * MIN, scope = REPO, ...rest } = over;
  const name = `${p.prefix}-${vmid}-ab12`;
  return {
    vmid,
    node: 'pve1',
    name,
    status: 'running',
    template: false,
    tags: ['pve-runners', p.tag],
    maxmemBytes: 4 * GiB,
    uptimeS: Math.round(ageMs / 1000),
    meta: { pool: p.name, scope, runner: name, createdAt: NOW - ageMs },
    ...rest,
  };
}

export function runnerFor(vm: ObservedVm, over: Partial<ObservedRunner> = {}): ObservedRunner {
  return { id: vm.vmid * 10, name: vm.name, scope: REPO, status: 'online', busy: false, ...over };
}

export function nodes(...spec: Array<[string, number, number?]>): ObservedNode[] {
  return spec.map(([name, freeGiB, totalGiB = 128]) => ({ name, online: true, maxmemBytes: totalGiB * GiB, memBytes: (totalGiB - freeGiB) * GiB }));
}

export function inFlight(over: Partial<InFlight> = {}): InFlight {
  return { creating: [], busyVmids: new Set(), deletingRunners: new Set(), recentlyFreed: new Map(), seenOnline: new Set(), disowned: new Set(), ...over };
}

export function observation(over: Partial<Observation> = {}): Observation {
  return {
    now: NOW,
    jobs: [],
    jobScopesFailed: [],
    runners: [],
    runnerScopes: [REPO],
    vms: [template('ubuntu-template', 9000, 'pve1'), template('ubuntu-template', 9100, 'pve2'), template('gpu-template', 9101, 'pve2')],
    hiddenVmids: new Map(),
    nodes: nodes(['pve1', 64], ['pve2', 32]),
    snippets: [],
    inFlight: inFlight(),
    ...over,
  };
}
