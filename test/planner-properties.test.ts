/**
 * The planner's invariants as properties (issue 8), over random observations (see
 * helpers/planner-arbitraries.ts). Each property states, independently of the planner's code, what
 * the README's rules allow; a fixed seed makes every run the same, and a failure prints the seed,
 * the path and the shrunk observation.
 */
import fc from 'fast-check';
import type { PoolConfig } from '../src/config/types.js';
import type { Action, CreateAction, Plan } from '../src/planner/actions.js';
import { parseRunnerName, runnerName } from '../src/planner/names.js';
import { drainMarks } from '../src/planner/drain.js';
import type { Observation, ObservedVm } from '../src/planner/observation.js';
import { plan, type PlanConfig } from '../src/planner/plan.js';
import { arbSteady, arbWorld, type Generated } from './helpers/planner-arbitraries.js';

const SEED = 20261201;
const RUNS = 1000;
const RUNS_CHEAP = 2000;
const check = (arb: fc.Arbitrary<Generated>, runs: number, prop: (g: Generated) => void) => fc.assert(fc.property(arb, prop), { seed: SEED, numRuns: runs, endOnFailure: false });

const inRange = (p: PoolConfig, vmid: number) => vmid >= p.vmidRange.lo && vmid <= p.vmidRange.hi;
const rangePool = (cfg: PlanConfig, vmid: number) => cfg.pools.find((p) => inRange(p, vmid));
const poolNamed = (cfg: PlanConfig, name: string) => cfg.pools.find((p) => p.name === name);
const hasBothTags = (vm: ObservedVm, p: PoolConfig) => vm.tags.includes('pve-runners') && vm.tags.includes(p.tag);
const creates = (pl: Plan) => pl.actions.filter((a): a is CreateAction => a.kind === 'create');
const vmAction = (a: Action) => a.kind === 'remove-vm' || a.kind === 'stop-vm' || a.kind === 'adopt-vm';
/** every action that changes an existing VM */
const touches = (a: Action): a is Extract<Action, { vmid: number; name: string }> => vmAction(a) || a.kind === 'start-warm';

/**
 * Half-made by us (README "Ownership"): our exact name for this VMID and the description the clone
 * wrote, and neither of our tags (both are set in one call; one alone is a person's edit).
 */
const halfMade = (cfg: PlanConfig, vm: ObservedVm, p: PoolConfig) => {
  const parsed = parseRunnerName(cfg.pools, vm.name);
  const someTag = vm.tags.some((t) => t.toLowerCase() === 'pve-runners' || t.toLowerCase().startsWith('pvr-pool.'));
  return !someTag && parsed?.pool === p && parsed.vmid === vm.vmid && vm.meta?.pool === p.name && vm.meta.runner === vm.name;
};

/**
 * The pool a listed guest counts against, by the README's rules: a creation of this process; ours
 * (both tags, in the tagged pool's range); or possibly ours in a range (half-made, a clone in
 * progress whatever its name, an unreadable config). Nothing else counts.
 */
function countedAgainst(cfg: PlanConfig, obs: Observation, vm: ObservedVm): PoolConfig | undefined {
  if (vm.template || vm.kind === 'lxc') return undefined;
  const creating = obs.inFlight.creating.find((c) => c.vmid === vm.vmid);
  if (creating) return poolNamed(cfg, creating.pool);
  if (obs.inFlight.disowned.has(vm.vmid)) return undefined;
  const poolTag = vm.tags.find((t) => t.startsWith('pvr-pool.'));
  if (vm.tags.includes('pve-runners') && poolTag) {
    const tagged = cfg.pools.find((p) => p.tag === poolTag);
    return tagged && inRange(tagged, vm.vmid) ? tagged : undefined;
  }
  const p = rangePool(cfg, vm.vmid);
  if (!p) return undefined;
  return halfMade(cfg, vm, p) || vm.lock === 'clone' || vm.configUnread ? p : undefined;
}

/** Per pool, and overall, what counts against the caps before this plan's creates. */
function countedBefore(cfg: PlanConfig, obs: Observation): Map<string, number> {
  const n = new Map<string, number>(cfg.pools.map((p) => [p.name, 0]));
  const add = (p: PoolConfig | string | undefined) => {
    const name = typeof p === 'string' ? p : p?.name;
    if (name !== undefined) n.set(name, (n.get(name) ?? 0) + 1);
  };
  const listed = new Set(obs.vms.map((v) => v.vmid));
  for (const vm of obs.vms) add(countedAgainst(cfg, obs, vm));
  for (const c of obs.inFlight.creating) if (!listed.has(c.vmid)) add(c.pool);
  for (const [vmid, since] of obs.hiddenVmids) {
    if (!listed.has(vmid) && !obs.inFlight.creating.some((c) => c.vmid === vmid) && obs.now - since < cfg.hiddenVmidWindowMs) add(rangePool(cfg, vmid));
  }
  return n;
}

/** A deep copy in this realm (structuredClone's Maps make jest's diff throw). */
function deepCopy<T>(v: T): T {
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, deepCopy(x)])) as T;
  if (v instanceof Set) return new Set([...v].map(deepCopy)) as T;
  if (Array.isArray(v)) return v.map(deepCopy) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepCopy(x)])) as T;
  return v;
}

describe(`planner properties (fast-check, seed ${SEED})`, () => {
  it(`1. never more than max_runners per pool or max_total_runners overall after the plan's creates (${RUNS} cases)`, () => {
    check(arbWorld(), RUNS, ({ cfg, obs }) => {
      const before = countedBefore(cfg, obs);
      const made = creates(plan(cfg, obs));
      for (const p of cfg.pools) {
        const mine = made.filter((c) => c.pool === p.name).length;
        // Already at or over the cap: nothing more for it.
        expect(mine).toBeLessThanOrEqual(Math.max(0, p.maxRunners - before.get(p.name)!));
      }
      const total = [...before.values()].reduce((a, b) => a + b, 0);
      if (cfg.maxTotalRunners > 0) expect(made.length).toBeLessThanOrEqual(Math.max(0, cfg.maxTotalRunners - total));
    });
  });

  it(`2. acts only on VMs it owns (or half-made ones to adopt), creates only on free VMIDs of the pool's range (${RUNS} cases)`, () => {
    check(arbWorld(), RUNS, ({ cfg, obs }) => {
      const pl = plan(cfg, obs);
      for (const a of pl.actions) {
        if (!touches(a)) continue;
        const listed = obs.vms.filter((v) => v.vmid === a.vmid);
        expect(listed).toHaveLength(1);
        const vm = listed[0]!;
        expect([vm.node, vm.name]).toEqual([a.node, a.name]);
        // Never: templates, containers, VMs a person took over, unreadable or locked configs, VMs being made or already worked on.
        expect(vm.template || vm.kind === 'lxc' || vm.configUnread === true || vm.lock !== undefined).toBe(false);
        expect(obs.inFlight.disowned.has(vm.vmid) || obs.inFlight.busyVmids.has(vm.vmid) || obs.inFlight.creating.some((c) => c.vmid === vm.vmid)).toBe(false);
        if (a.kind === 'remove-vm' && a.drain) {
          // A VM no configured pool holds: removed only with both our tags and our description agreeing, never while busy.
          expect(drainMarks(vm.tags, vm.name, vm.meta)).toBe(a.pool);
          const held = poolNamed(cfg, a.pool);
          expect(held !== undefined && inRange(held, vm.vmid)).toBe(false);
          if (vm.status === 'running') expect(obs.jobStarted?.has(vm.name) || obs.runners.some((r) => r.name === vm.name && r.busy)).toBe(false);
          continue;
        }
        const p = poolNamed(cfg, a.pool)!;
        expect(inRange(p, vm.vmid)).toBe(true);
        if (a.kind === 'adopt-vm') {
          // The one exception: no tag pair yet, our name and description, stopped (we start a VM only once tagged).
          expect(halfMade(cfg, vm, p)).toBe(true);
          expect(vm.status).toBe('stopped');
        } else {
          expect(hasBothTags(vm, p)).toBe(true);
        }
      }
      const taken = new Set([...obs.vms.map((v) => v.vmid), ...obs.hiddenVmids.keys(), ...obs.inFlight.creating.map((c) => c.vmid)]);
      const made = creates(pl);
      expect(new Set(made.map((c) => c.vmid)).size).toBe(made.length);
      for (const c of made) {
        expect(inRange(poolNamed(cfg, c.pool)!, c.vmid)).toBe(true);
        expect(taken.has(c.vmid)).toBe(false);
        const freedAt = obs.inFlight.recentlyFreed.get(c.vmid);
        expect(freedAt === undefined || obs.now - freedAt >= cfg.vmidCooldownMs).toBe(true);
      }
      // no VM is the object of two actions in one plan (say, started and removed)
      const targets = pl.actions.filter(touches).map((a) => a.vmid);
      expect(new Set(targets).size).toBe(targets.length);
      for (const a of pl.actions) {
        if (a.kind === 'delete-runner') expect(parseRunnerName(cfg.pools, a.name)).toBeDefined();
        if (a.kind === 'delete-snippet') expect(a.file).toMatch(/^\.?pvr-/);
      }
    });
  });

  it(`3. never removes the registration of a runner listed busy, nor its VM unless stopped (${RUNS} cases)`, () => {
    check(arbWorld(), RUNS, ({ cfg, obs }) => {
      // Registrations are ours only by name shape (README): a foreign runner named like some VM is not that VM's.
      const busy = obs.runners.filter((r) => r.busy && parseRunnerName(cfg.pools, r.name));
      for (const a of plan(cfg, obs).actions) {
        // A stopped VM runs no job whatever the listing says (GitHub's busy flag lags the job's end;
        // the executor deletes the registration first, and a busy answer keeps the VM).
        if (a.kind === 'remove-vm' && obs.vms.find((v) => v.vmid === a.vmid)?.status !== 'stopped') expect(busy.filter((r) => r.name === a.name)).toEqual([]);
        if (a.kind === 'delete-runner') expect(busy.filter((r) => r.id === a.runnerId)).toEqual([]);
      }
    });
  });

  it(`4. a plan submitted and planned again on the same observation repeats nothing (${RUNS} cases)`, () => {
    check(arbWorld(), RUNS, ({ cfg, obs }) => {
      const first = plan(cfg, obs);
      // What Executor.submit claims before any action runs.
      const act = first.actions;
      const inFlight = {
        ...obs.inFlight,
        creating: [
          ...obs.inFlight.creating,
          ...creates(first).map((c) => ({ pool: c.pool, scope: c.scope, vmid: c.vmid, node: c.node, runnerName: runnerName(poolNamed(cfg, c.pool)!, c.vmid, 'qq11'), memoryBytes: c.memoryBytes, ...(c.purpose === 'warm' ? { warm: true } : {}) })),
          ...act.flatMap((a) => (a.kind === 'start-warm' ? [{ pool: a.pool, scope: a.scope, vmid: a.vmid, node: a.node, runnerName: a.name, memoryBytes: a.memoryBytes }] : [])),
        ],
        busyVmids: new Set([...obs.inFlight.busyVmids, ...act.filter(vmAction).map((a) => (vmAction(a) ? a.vmid : 0))]),
        deletingRunners: new Set([...obs.inFlight.deletingRunners, ...act.flatMap((a) => (a.kind === 'delete-runner' ? [a.runnerId] : a.kind === 'remove-vm' && a.runner ? [a.runner.id] : []))]),
      };
      const again = plan(cfg, { ...obs, inFlight });
      const made = creates(first);
      for (const c of creates(again)) {
        expect(made.map((m) => m.forJob)).not.toContain(c.forJob);
        expect(made.map((m) => m.vmid)).not.toContain(c.vmid);
      }
      // Every job the first plan left uncovered was held back by a cap, VMIDs or memory its creates only
      // tightened — except PAUSE_ON_STOPPED, which lifts once the stopped VMs' removals are under way.
      if (!cfg.pauseOnStopped) expect(creates(again)).toEqual([]);
      // Snippet deletions are not claimed by submit (repeating one is harmless); nothing else comes twice.
      expect(again.actions.filter((a) => a.kind !== 'delete-snippet' && a.kind !== 'create')).toEqual([]);
      // Observed again mid-creation: the new registrations are listed (offline), their VMs and snippets not yet: all left alone.
      const registered = inFlight.creating.slice(obs.inFlight.creating.length).map((c, i) => ({ id: 9000 + i, name: c.runnerName, scope: c.scope, status: 'offline', busy: false }));
      const snippets = obs.snippets && [...obs.snippets, ...registered.map((r) => ({ node: '', file: `pvr-${r.name}.yaml` }))];
      const midway = plan(cfg, { ...obs, inFlight, runners: [...obs.runners, ...registered], snippets });
      expect(midway.actions.filter((a) => a.kind !== 'delete-snippet' && a.kind !== 'create')).toEqual([]);
      expect(midway.actions.filter((a) => a.kind === 'delete-snippet' && registered.some((r) => a.file.includes(r.name)))).toEqual([]);
    });
  });

  it(`5. a steady state (demand covered, nothing stopped or timed out) plans nothing (${RUNS_CHEAP} cases)`, () => {
    check(arbSteady(), RUNS_CHEAP, ({ cfg, obs }) => {
      expect(plan(cfg, obs).actions).toEqual([]);
    });
  });

  it(`6. the same observation gives the same plan, and the planner changes nothing it reads (${RUNS_CHEAP} cases)`, () => {
    check(arbWorld(), RUNS_CHEAP, ({ cfg, obs }) => {
      const untouched = deepCopy(obs);
      const a = plan(cfg, obs);
      expect(obs).toEqual(untouched);
      expect(plan(cfg, deepCopy(untouched))).toEqual(a);
      expect(plan(cfg, obs)).toEqual(a);
    });
  });
});
