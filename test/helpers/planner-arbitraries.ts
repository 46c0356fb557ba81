/**
 * fast-check generators of planner inputs for the property tests: random pools and random
 * observations over them, with VMs in every state the observer can report. Optional Observation
 * fields added later are left undefined, so these generators keep describing what they describe.
 */
import fc from 'fast-check';
import { selectPool } from '../../src/config/labels.js';
import type { PoolConfig } from '../../src/config/types.js';
import type { InFlight, Observation, ObservedJob, ObservedNode, ObservedRunner, ObservedSnippet, ObservedVm } from '../../src/planner/observation.js';
import type { PlanConfig } from '../../src/planner/plan.js';
import { GiB, MIN, NOW, pool } from './planner-fixtures.js';

export const SCOPES = ['repo:acme/app', 'org:acme'] as const;
export const NODE_NAMES = ['pve1', 'pve2', 'pve3'] as const;
const POOL_NAMES = ['ubuntu', 'gpu', 'arm', 'big'] as const;
const LABELS = ['linux', 'x64', 'arm64', 'gpu', 'large'] as const;
/** suffixes of the names generated VMs and runners carry (the executor's own are never among them) */
const SUFFIXES = ['ab12', 'cd34', 'x9y8'] as const;
export const COOLDOWN_MS = 60_000;
export const HIDDEN_WINDOW_MS = 15 * MIN;

const arbPool = (i: number, lo: number) =>
  fc.record({
    size: fc.integer({ min: 1, max: 6 }),
    gap: fc.integer({ min: 0, max: 3 }),
    maxRunners: fc.integer({ min: 0, max: 5 }),
    labels: fc.subarray([...LABELS]),
    nameLabel: fc.boolean(),
    nodes: fc.subarray([...NODE_NAMES], { minLength: 1 }),
    byVmid: fc.boolean(),
    memoryMb: fc.option(fc.constantFrom(1024, 4096, 16384), { nil: undefined }),
    // hot and warm tiers half the time; hot runners in one or both scopes
    hot: fc.constantFrom(0, 0, 1, 2, 3),
    warm: fc.constantFrom(0, 0, 1, 2, 3),
    hotScopes: fc.subarray([...SCOPES], { minLength: 1 }),
    hotMaxAgeMs: fc.constantFrom(60 * MIN, 720 * MIN),
  }).map((r) => {
    const name = POOL_NAMES[i]!;
    const start = lo + r.gap;
    return pool({
      name,
      index: i,
      labels: ['self-hosted', ...r.labels, ...(r.nameLabel ? [name] : [])],
      labelsLower: [...new Set(['self-hosted', ...r.labels, ...(r.nameLabel ? [name] : [])])],
      vmidRange: { lo: start, hi: start + r.size - 1 },
      maxRunners: r.maxRunners,
      nodes: r.nodes,
      template: r.byVmid ? { kind: 'vmid', vmid: 9000 + 10 * i } : { kind: 'name', name: `${name}-template` },
      memoryMb: r.memoryMb,
      sizes: { hot: r.hot, warm: r.warm },
      hotScopes: r.hot > 0 ? r.hotScopes : [],
      hotMaxAgeMs: r.hotMaxAgeMs,
    });
  });

/** 1–4 pools with disjoint VMID ranges (sometimes adjacent, sometimes with gaps between them). */
export function arbPools(): fc.Arbitrary<PoolConfig[]> {
  const from = (i: number, lo: number, n: number): fc.Arbitrary<PoolConfig[]> =>
    i === n ? fc.constant([]) : arbPool(i, lo).chain((p) => from(i + 1, p.vmidRange.hi + 1, n).map((rest) => [p, ...rest]));
  return fc.integer({ min: 1, max: 4 }).chain((n) => from(0, 100, n));
}

export function arbConfig(pools: PoolConfig[]): fc.Arbitrary<PlanConfig> {
  return fc.record({
    // ≤ 0: no overall cap
    maxTotalRunners: fc.oneof(fc.constant(0), fc.constant(-1), fc.integer({ min: 1, max: 12 })),
    disableCleanup: fc.constantFrom(false, false, false, true),
    pauseOnStopped: fc.boolean(),
  }).map((r) => ({ pools, ...r, vmidCooldownMs: COOLDOWN_MS, hiddenVmidWindowMs: HIDDEN_WINDOW_MS }));
}

export const ourName = (p: PoolConfig, vmid: number, suffix: string) => `${p.prefix}-${vmid}-${suffix}`;

/** A listed guest at `vmid`, in any state (`range`: the pool whose range holds it, if any). */
function arbVm(pools: PoolConfig[], vmid: number, range: PoolConfig | undefined): fc.Arbitrary<ObservedVm> {
  const anyPool = fc.constantFrom(...pools);
  const tags = fc.oneof(
    { arbitrary: range ? fc.constant(['pve-runners', range.tag]) : anyPool.map((p) => ['pve-runners', p.tag]), weight: 5 }, // both tags (in range or not)
    anyPool.map((p) => ['pve-runners', p.tag]), // both tags, maybe another pool's
    fc.constant(['pve-runners']),
    anyPool.map((p) => [p.tag]),
    fc.constant(['pve-runners', 'pvr-pool.nosuch']),
    fc.constant([] as string[]),
    fc.constant(['prod', 'db']),
  );
  const name = fc.oneof(
    { arbitrary: fc.constantFrom(...SUFFIXES).map((s) => ourName(range ?? pools[0]!, vmid, s)), weight: 4 },
    fc.tuple(anyPool, fc.integer({ min: 100, max: 140 }), fc.constantFrom(...SUFFIXES)).map(([p, id, s]) => ourName(p, id, s)),
    fc.constant(`VM ${vmid}`),
    fc.constant(''),
    fc.constant('db-server'),
  );
  return fc.record({
    kind: fc.constantFrom<'qemu' | 'lxc' | undefined>('qemu', 'qemu', undefined, 'lxc'),
    template: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))), // templates ¼ of the time
    tags,
    name,
    node: fc.constantFrom(...NODE_NAMES),
    status: fc.constantFrom('running', 'running', 'stopped', 'unknown', 'paused'),
    lock: fc.constantFrom(undefined, undefined, undefined, 'clone', 'backup', 'migrate'),
    uptimeS: fc.integer({ min: 0, max: 30_000 }),
    maxmemGiB: fc.constantFrom(1, 4, 16),
    meta: fc.option(fc.record({ pool: fc.oneof(fc.constant(range?.name ?? 'ubuntu'), anyPool.map((p) => p.name)), scope: fc.constantFrom(...SCOPES), sameRunner: fc.boolean(), ageMs: fc.integer({ min: 0, max: 8 * 60 * MIN }), warm: fc.option(fc.constantFrom(9000, 9010, 9020, 9030, 9999), { nil: undefined }) }), { nil: undefined }),
    configUnread: fc.constantFrom(false, false, false, true),
  }).map((r): ObservedVm => {
    const vm: ObservedVm = { kind: r.kind, vmid, node: r.node, name: r.name, status: r.status, template: r.template, tags: r.tags, maxmemBytes: r.maxmemGiB * GiB, uptimeS: r.uptimeS };
    if (r.lock) vm.lock = r.lock;
    // As the observer reports it: a config that could not be read has no description either.
    if (r.configUnread) vm.configUnread = true;
    else if (r.meta) {
      vm.meta = { pool: r.meta.pool, scope: r.meta.warm === undefined ? r.meta.scope : '', runner: r.meta.sameRunner ? r.name : 'someone-else', createdAt: NOW - r.meta.ageMs };
      if (r.meta.warm !== undefined) vm.meta.warm = { template: r.meta.warm };
    }
    return vm;
  });
}

type Slot =
  | { kind: 'free' }
  | { kind: 'hidden'; sinceMs: number }
  | { kind: 'freed'; agoMs: number }
  | { kind: 'creating'; scope: string; listed: ObservedVm | undefined }
  | { kind: 'vm'; vm: ObservedVm };

function arbSlot(pools: PoolConfig[], p: PoolConfig, vmid: number): fc.Arbitrary<Slot> {
  const cloning = fc.record({ name: fc.constantFrom(ourName(p, vmid, 'qq00'), `VM ${vmid}`, ''), tagged: fc.boolean(), status: fc.constantFrom('stopped', 'running') }).map(
    (r): ObservedVm => ({ kind: 'qemu', vmid, node: p.nodes[0]!, name: r.name, status: r.tagged ? r.status : 'stopped', template: false, tags: r.tagged ? ['pve-runners', p.tag] : [], maxmemBytes: 4 * GiB, uptimeS: 0, ...(r.tagged ? {} : { lock: 'clone' }) }),
  );
  return fc.oneof(
    { arbitrary: fc.constant<Slot>({ kind: 'free' }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 30 * MIN }).map((sinceMs): Slot => ({ kind: 'hidden', sinceMs })), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: 2 * COOLDOWN_MS }).map((agoMs): Slot => ({ kind: 'freed', agoMs })), weight: 1 },
    { arbitrary: fc.record({ scope: fc.constantFrom(...SCOPES), listed: fc.option(cloning, { nil: undefined }) }).map((r): Slot => ({ kind: 'creating', ...r })), weight: 1 },
    { arbitrary: arbVm(pools, vmid, p).map((vm): Slot => ({ kind: 'vm', vm })), weight: 6 },
  );
}

function arbRunner(vmNames: string[], pools: PoolConfig[]): fc.Arbitrary<Omit<ObservedRunner, 'id'>> {
  const names = fc.oneof(
    ...(vmNames.length ? [fc.constantFrom(...vmNames)] : []),
    fc.tuple(fc.constantFrom(...pools), fc.integer({ min: 100, max: 140 }), fc.constantFrom(...SUFFIXES)).map(([p, id, s]) => ourName(p, id, s)),
    fc.constantFrom('build-box-1', `${pools[0]!.prefix}-${pools[0]!.vmidRange.lo}`, `${pools[0]!.prefix}-999-ab12`),
  );
  return fc.record({ name: names, scope: fc.constantFrom(...SCOPES), status: fc.constantFrom('online', 'offline'), busy: fc.boolean() });
}

function arbJob(pools: PoolConfig[]): fc.Arbitrary<Omit<ObservedJob, 'id'>> {
  const labels = fc.oneof(
    fc.constantFrom(...pools).map((p) => [...p.labels]),
    fc.constantFrom(...pools).chain((p) => fc.subarray([...p.labels])),
    fc.subarray(['self-hosted', 'Linux', 'windows', ...LABELS]),
  );
  return fc.record({ labels, scope: fc.constantFrom(...SCOPES), minute: fc.integer({ min: 0, max: 59 }) }).map((r) => ({
    runId: 1, repo: 'acme/app', scope: r.scope, name: `job at ${r.minute}`, labels: r.labels, createdAt: `2026-11-24T11:${String(r.minute).padStart(2, '0')}:00Z`,
  }));
}

const arbNodes = (): fc.Arbitrary<ObservedNode[]> =>
  fc.tuple(...NODE_NAMES.map((name) => fc.record({ online: fc.constantFrom(true, true, true, false), usedGiB: fc.integer({ min: 0, max: 64 }) }).map((r) => ({ name, online: r.online, maxmemBytes: 64 * GiB, memBytes: r.usedGiB * GiB }))));

/** Templates of each pool on some of its nodes; and guests outside every range. */
function arbOutside(pools: PoolConfig[]): fc.Arbitrary<ObservedVm[]> {
  const inAny = (id: number) => pools.some((p) => id >= p.vmidRange.lo && id <= p.vmidRange.hi);
  const hi = pools[pools.length - 1]!.vmidRange.hi;
  const outside = Array.from({ length: hi - 95 + 6 }, (_, i) => 95 + i).filter((id) => !inAny(id));
  const templates = fc.tuple(...pools.map((p, i) => fc.subarray([...p.nodes]).map((ns) => ns.map((node, j): ObservedVm => ({
    vmid: 9000 + 10 * i + j, node, name: p.template.kind === 'name' ? p.template.name : `tpl-${i}`, status: 'stopped', template: true, tags: [], maxmemBytes: 2 * GiB, uptimeS: 0,
  })))));
  const others: fc.Arbitrary<ObservedVm[]> = fc.subarray(outside, { maxLength: Math.min(4, outside.length) }).chain((ids) => fc.tuple(...ids.map((id) => arbVm(pools, id, undefined))));
  return fc.tuple(templates, others).map(([t, o]) => [...t.flat(), ...o]);
}

export interface Generated {
  cfg: PlanConfig;
  obs: Observation;
}

/** A random configuration and a random observation over it. */
export function arbWorld(): fc.Arbitrary<Generated> {
  return arbPools().chain((pools) => {
    const vmids = pools.flatMap((p) => Array.from({ length: p.vmidRange.hi - p.vmidRange.lo + 1 }, (_, i) => ({ p, vmid: p.vmidRange.lo + i })));
    return fc.record({
      cfg: arbConfig(pools),
      slots: fc.tuple(...vmids.map(({ p, vmid }) => arbSlot(pools, p, vmid).map((s) => ({ p, vmid, s })))),
      outside: arbOutside(pools),
      nodes: arbNodes(),
      jobs: fc.array(arbJob(pools), { maxLength: 10 }),
      jobScopesFailed: fc.subarray([...SCOPES]),
      runnerScopes: fc.subarray([...SCOPES]),
      snippetsListed: fc.constantFrom(true, true, true, false),
    }).chain((b) => {
      const vms = [...b.slots.flatMap(({ s }) => (s.kind === 'vm' ? [s.vm] : s.kind === 'creating' && s.listed ? [s.listed] : [])), ...b.outside];
      const listedIds = vms.map((v) => v.vmid);
      const names = vms.map((v) => v.name).filter(Boolean);
      return fc.record({
        // the runner of each VM, often; then registrations of any name
        own: fc.tuple(...names.map(() => fc.option(fc.record({ scope: fc.constantFrom(...SCOPES), status: fc.constantFrom('online', 'offline'), busy: fc.boolean() }), { nil: undefined }))),
        runners: fc.array(arbRunner(names, pools), { maxLength: 4 }),
        busyVmids: fc.subarray(listedIds, { maxLength: Math.min(2, listedIds.length) }),
        disowned: fc.subarray(listedIds, { maxLength: Math.min(3, listedIds.length) }),
        seenOnline: fc.subarray(names),
        deletingIdx: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7], { maxLength: 3 }),
        snippetNames: fc.subarray([...names, ourName(pools[0]!, pools[0]!.vmidRange.lo, 'zz77')]),
        tmpSnippet: fc.boolean(),
      }).map((x): Generated => {
        const runners = [...x.own.flatMap((r, i) => (r ? [{ ...r, name: names[i]! }] : [])), ...x.runners].map((r, i) => ({ ...r, id: 500 + i }));
        const creating = b.slots.flatMap(({ p, vmid, s }) => (s.kind === 'creating' ? [{ pool: p.name, scope: s.scope, vmid, node: p.nodes[0]!, runnerName: s.listed?.name || ourName(p, vmid, 'qq00'), memoryBytes: 4 * GiB }] : []));
        const inFlight: InFlight = {
          creating,
          busyVmids: new Set(x.busyVmids),
          deletingRunners: new Set(x.deletingIdx.map((i) => 500 + i)),
          recentlyFreed: new Map(b.slots.flatMap(({ vmid, s }) => (s.kind === 'freed' ? [[vmid, NOW - s.agoMs] as const] : []))),
          seenOnline: new Set(x.seenOnline),
          disowned: new Set(x.disowned),
        };
        const snippets: ObservedSnippet[] = [...x.snippetNames.map((n) => ({ node: '', file: `pvr-${n}.yaml` })), { node: 'pve1', file: 'other.yaml' }, ...(x.tmpSnippet && names[0] ? [{ node: '', file: `.pvr-${names[0]}.yaml.0badc0de.tmp` }] : [])];
        const obs: Observation = {
          now: NOW,
          jobs: b.jobs.map((j, i) => ({ ...j, id: 1000 + i })),
          jobScopesFailed: b.jobScopesFailed,
          runners,
          runnerScopes: b.runnerScopes,
          vms,
          hiddenVmids: new Map(b.slots.flatMap(({ vmid, s }) => (s.kind === 'hidden' ? [[vmid, NOW - s.sinceMs] as const] : []))),
          nodes: b.nodes,
          snippets: b.snippetsListed ? snippets : undefined,
          inFlight,
        };
        return { cfg: b.cfg, obs };
      });
    });
  });
}

type SteadySlot = 'free' | 'idle' | 'busy' | 'booting' | 'creating' | 'foreign' | 'hidden' | 'warm';

/**
 * A steady state: every queued job is covered by an idle, booting or in-flight runner of its pool,
 * busy runners are within max_job_duration, nothing is stopped, timed out or left over, and around
 * them guests that are not ours, VMIDs the token cannot see, templates and nodes in any state.
 */
export function arbSteady(): fc.Arbitrary<Generated> {
  return arbPools().chain((pools) => {
    const vmids = pools.flatMap((p) => Array.from({ length: p.vmidRange.hi - p.vmidRange.lo + 1 }, (_, i) => ({ p, vmid: p.vmidRange.lo + i })));
    const slot = fc.constantFrom<SteadySlot>('free', 'idle', 'busy', 'booting', 'creating', 'foreign', 'hidden', 'warm');
    return fc.record({
      cfg: arbConfig(pools),
      slots: fc.tuple(...vmids.map(({ p, vmid }) => fc.record({ kind: slot, ageFrac: fc.double({ min: 0, max: 0.99, noNaN: true }), foreignStatus: fc.constantFrom('running', 'stopped') }).map((s) => ({ p, vmid, ...s })))),
      templates: arbOutside(pools).map((vs) => vs.filter((v) => v.template)),
      nodes: arbNodes(),
      wish: fc.array(fc.constantFrom(...pools), { maxLength: 12 }),
      jobScopesFailed: fc.subarray([...SCOPES]),
      snippets: fc.constantFrom<ObservedSnippet[] | undefined>([], undefined),
    }).map((b): Generated => {
      const scope = SCOPES[0];
      const vms: ObservedVm[] = [...b.templates];
      const runners: ObservedRunner[] = [];
      const creating: InFlight['creating'][number][] = [];
      const hidden = new Map<number, number>();
      const supply = new Map<PoolConfig, number>();
      const warm = new Map<string, number>();
      for (const { p, vmid, kind, ageFrac, foreignStatus } of b.slots) {
        const name = ourName(p, vmid, 'ab12');
        const ours = (ageMs: number): ObservedVm => ({ kind: 'qemu', vmid, node: p.nodes[0]!, name, status: 'running', template: false, tags: ['pve-runners', p.tag], maxmemBytes: 4 * GiB, uptimeS: Math.round(ageMs / 1000), meta: { pool: p.name, scope, runner: name, createdAt: NOW - ageMs } });
        if (kind === 'idle' || kind === 'busy' || kind === 'booting') {
          const limit = kind === 'idle' ? p.idleTimeoutMs : kind === 'busy' ? p.maxJobDurationMs : p.bootTimeoutMs;
          vms.push(ours(Math.floor(ageFrac * limit)));
          if (kind !== 'booting') runners.push({ id: 500 + vmid, name, scope, status: 'online', busy: kind === 'busy' });
        }
        if (kind === 'creating') creating.push({ pool: p.name, scope, vmid, node: p.nodes[0]!, runnerName: name, memoryBytes: 4 * GiB });
        if (kind === 'idle' || kind === 'booting' || kind === 'creating') supply.set(p, (supply.get(p) ?? 0) + 1);
        if (kind === 'foreign') vms.push({ kind: 'qemu', vmid, node: p.nodes[0]!, name: 'db-server', status: foreignStatus, template: false, tags: [], maxmemBytes: 4 * GiB, uptimeS: 100 });
        if (kind === 'hidden') hidden.set(vmid, NOW - Math.floor(ageFrac * 2 * HIDDEN_WINDOW_MS));
        // A warm VM of an up-to-date template, as many as the size in force.
        const copy = b.templates.find((t) => t.node === p.nodes[0] && (p.template.kind === 'vmid' ? t.vmid === p.template.vmid : t.name === p.template.name));
        if (kind === 'warm' && copy) {
          vms.push({ ...ours(Math.floor(ageFrac * 8 * 60 * MIN)), status: 'stopped', uptimeS: 0, meta: { pool: p.name, scope: '', runner: name, createdAt: NOW - 1000, warm: { template: copy.vmid } } });
          warm.set(p.name, (warm.get(p.name) ?? 0) + 1);
        }
      }
      // Queued jobs, each sent where GitHub's label rule sends it, no more per pool than it has runners on the way.
      const jobs: ObservedJob[] = [];
      for (const p of b.wish) {
        const target = selectPool(pools, p.labels);
        if (!target || (supply.get(target) ?? 0) === 0) continue;
        supply.set(target, supply.get(target)! - 1);
        jobs.push({ id: 1000 + jobs.length, runId: 1, repo: 'acme/app', scope, name: 'build', labels: [...target.labels], createdAt: `2026-11-24T11:${String(jobs.length).padStart(2, '0')}:00Z` });
      }
      const inFlight: InFlight = { creating, busyVmids: new Set(), deletingRunners: new Set(), recentlyFreed: new Map(), seenOnline: new Set(runners.map((r) => r.name)), disowned: new Set() };
      // Steady: no hot runners wanted, exactly the warm VMs there are.
      const tierSizes = new Map(pools.map((p) => [p.name, { hot: 0, warm: warm.get(p.name) ?? 0 }]));
      const obs: Observation = { now: NOW, jobs, jobScopesFailed: b.jobScopesFailed, runners, runnerScopes: [...SCOPES], vms, hiddenVmids: hidden, nodes: b.nodes, snippets: b.snippets, inFlight, tierSizes };
      return { cfg: b.cfg, obs };
    });
  });
}
