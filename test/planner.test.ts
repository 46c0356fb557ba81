import type { Action, CreateAction, RemoveVmAction } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import {
  GiB, MIN, NOW, REPO, ULABELS, config, gpu, inFlight, job, nodes, observation, ourVm, pool, runnerFor, template, ubuntu,
} from './helpers/planner-fixtures.js';

const creates = (actions: Action[]) => actions.filter((a): a is CreateAction => a.kind === 'create');
const removals = (actions: Action[]) => actions.filter((a): a is RemoveVmAction => a.kind === 'remove-vm');
const kinds = (actions: Action[]) => actions.map((a) => a.kind);

describe('planner: demand', () => {
  it('creates one VM per queued job, lowest free VMIDs, on the node with most free memory', () => {
    const p = plan(config(), observation({ jobs: [job(ULABELS), job(ULABELS)] }));
    expect(creates(p.actions).map((c) => [c.pool, c.vmid, c.node, c.templateVmid])).toEqual([
      ['ubuntu', 200, 'pve1', 9000],
      ['ubuntu', 201, 'pve1', 9000],
    ]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ queued: 2, create: 2 });
  });

  it('matches labels case-insensitively and picks the pool with the fewest labels', () => {
    const p = plan(config(), observation({ jobs: [job(['Self-Hosted', 'LINUX']), job(['self-hosted', 'gpu'])] }));
    expect(creates(p.actions).map((c) => c.pool)).toEqual(['ubuntu', 'gpu']);
  });

  it('reports jobs no pool fits and creates nothing for them', () => {
    const j = job(['self-hosted', 'windows']);
    const p = plan(config(), observation({ jobs: [j] }));
    expect(p.actions).toEqual([]);
    expect(p.unmatched).toEqual([{ id: j.id, repo: 'acme/app', labels: ['self-hosted', 'windows'] }]);
  });

  it('counts idle runners and booting VMs against demand, but never busy runners', () => {
    const idle = ourVm(ubuntu, 200);
    const booting = ourVm(ubuntu, 201, { ageMs: MIN });
    const busy = ourVm(ubuntu, 202);
    const p = plan(config(), observation({
      jobs: [job(ULABELS), job(ULABELS), job(ULABELS)],
      vms: [...observation().vms, idle, booting, busy],
      runners: [runnerFor(idle), runnerFor(busy, { busy: true })],
    }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([203]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ idle: 1, busy: 1, booting: 1, create: 1 });
  });

  it('counts a VM this process is cloning right now once, before its tags are set', () => {
    const cloning = { ...ourVm(ubuntu, 200, { status: 'stopped', lock: 'clone' }), tags: [] };
    const creating = [{ pool: 'ubuntu', scope: REPO, vmid: 200, node: 'pve1', runnerName: cloning.name, memoryBytes: 4 * GiB }];
    const p = plan(config({ maxTotalRunners: 2 }), observation({ jobs: [job(ULABELS), job(ULABELS), job(ULABELS)], vms: [...observation().vms, cloning], inFlight: inFlight({ creating }) }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([201]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 1, booting: 1, create: 1, limitedBy: 'max_total_runners 2' });
  });

  it('counts creations this process has in flight as supply, and their VMIDs as taken', () => {
    const p = plan(config(), observation({
      jobs: [job(ULABELS), job(ULABELS)],
      inFlight: inFlight({ creating: [{ pool: 'ubuntu', scope: REPO, vmid: 200, node: 'pve1', runnerName: 'ubuntu-200-zz99', memoryBytes: 4 * GiB }] }),
    }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([201]);
  });

  it('does not let a runner of one repository offset demand in another', () => {
    const idle = ourVm(ubuntu, 200, { scope: 'repo:acme/other' });
    const p = plan(config(), observation({
      jobs: [job(ULABELS)],
      vms: [...observation().vms, idle],
      runners: [runnerFor(idle, { scope: 'repo:acme/other' })],
      runnerScopes: [REPO, 'repo:acme/other'],
    }));
    expect(creates(p.actions)).toHaveLength(1);
    expect(creates(p.actions)[0]!.scope).toBe(REPO);
  });

  it('serves the oldest jobs first when a cap binds', () => {
    const young = job(ULABELS, { createdAt: '2026-11-24T11:59:00Z' });
    const old = job(['self-hosted', 'gpu'], { createdAt: '2026-11-24T11:00:00Z' });
    const p = plan(config({ maxTotalRunners: 1 }), observation({ jobs: [young, old] }));
    expect(creates(p.actions).map((c) => c.forJob)).toEqual([old.id]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')!.limitedBy).toBe('max_total_runners 1');
  });
});

describe('planner: caps', () => {
  const many = (n: number) => Array.from({ length: n }, () => job(ULABELS));

  it('never exceeds max_runners, counting every VM of the pool whatever its state', () => {
    const stopped = ourVm(ubuntu, 200, { status: 'stopped' });
    const p = plan(config({ disableCleanup: true }), observation({ jobs: many(10), vms: [...observation().vms, stopped] }));
    expect(creates(p.actions)).toHaveLength(3);
    expect(p.pools.find((s) => s.pool === 'ubuntu')!.limitedBy).toBe('max_runners 4');
  });

  it('never exceeds max_total_runners across pools', () => {
    const p = plan(config({ maxTotalRunners: 3 }), observation({ jobs: [...many(2), job(['gpu']), job(['gpu'])] }));
    expect(creates(p.actions)).toHaveLength(3);
  });

  it('stops at the end of the VMID range, skipping VMIDs used by anything', () => {
    const small = pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 202 }, maxRunners: 10, template: { kind: 'name', name: 'ubuntu-template' } });
    const foreign = { ...template('x', 201, 'pve1'), template: false, name: 'keep-me' };
    const p = plan(config({ pools: [small] }), observation({ jobs: many(5), vms: [...observation().vms, foreign] }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([200, 202]);
    expect(p.pools[0]!.limitedBy).toBe('no free VMID in 200-202');
  });

  it('does not reuse a VMID inside its cooldown, and does after it', () => {
    const freed = new Map([[200, NOW - 10_000]]);
    expect(creates(plan(config(), observation({ jobs: many(1), inFlight: inFlight({ recentlyFreed: freed }) })).actions)[0]!.vmid).toBe(201);
    const old = new Map([[200, NOW - 120_000]]);
    expect(creates(plan(config(), observation({ jobs: many(1), inFlight: inFlight({ recentlyFreed: old }) })).actions)[0]!.vmid).toBe(200);
  });

  it('places by free memory, accounting for VMs planned in the same tick, and stops when none fits', () => {
    const p = plan(config(), observation({ jobs: many(4), nodes: nodes(['pve1', 9], ['pve2', 7]) }));
    // 4 GiB each: pve1 (9) → pve2 (7) → pve1 (5) → pve2 (3)? no: pve2 has 3 left < 4, pve1 1 left
    expect(creates(p.actions).map((c) => c.node)).toEqual(['pve1', 'pve2', 'pve1']);
    expect(p.pools.find((s) => s.pool === 'ubuntu')!.limitedBy).toMatch(/enough free memory/);
  });

  it('counts the memory running VMs may claim, not only what the node reports in use', () => {
    // pve1 reports 60 of 64 GiB free, but its running VMs are entitled to 62 GiB of it
    const big = { ...template('x', 150, 'pve1'), template: false, name: 'db', status: 'running', maxmemBytes: 62 * GiB };
    const p = plan(config(), observation({ jobs: many(1), vms: [...observation().vms, big], nodes: nodes(['pve1', 60, 64], ['pve2', 8]) }));
    expect(creates(p.actions).map((c) => c.node)).toEqual(['pve2']);
  });

  it('only places on online nodes of the pool that hold a copy of the template', () => {
    const p = plan(config(), observation({ jobs: many(1), nodes: [{ ...nodes(['pve1', 100])[0]!, online: false }, ...nodes(['pve2', 8])] }));
    expect(creates(p.actions).map((c) => [c.node, c.templateVmid])).toEqual([['pve2', 9100]]);
    const noCopy = plan(config(), observation({ jobs: [job(['gpu'])], vms: [template('ubuntu-template', 9000, 'pve1')] }));
    expect(creates(noCopy.actions)).toEqual([]);
    expect(noCopy.pools.find((s) => s.pool === 'gpu')!.limitedBy).toBe("template 'gpu-template' not found");
  });

  it('uses the template memory when the pool sets none', () => {
    const p0 = pool({ name: 'ubuntu', labels: ULABELS, memoryMb: undefined, template: { kind: 'name', name: 'ubuntu-template' } });
    const p = plan(config({ pools: [p0] }), observation({ jobs: many(1) }));
    expect(creates(p.actions)[0]!.memoryBytes).toBe(2 * GiB);
  });
});

describe('planner: ownership', () => {
  it('never acts on a VM that lacks either tag, or lies outside its pool range without our description', () => {
    const untaggedStopped = { ...ourVm(ubuntu, 203, { status: 'stopped' }), tags: ['pvr-pool.ubuntu'], name: 'my-vm' };
    // With our description too it would be drained (planner-drain.test.ts).
    const outOfRange = { ...ourVm(ubuntu, 250, { status: 'stopped' }), name: 'ubuntu-250-ab12', meta: undefined };
    const unknownPool = { ...ourVm(ubuntu, 204, { status: 'stopped' }), tags: ['pve-runners', 'pvr-pool.gone'] };
    const p = plan(config(), observation({ vms: [...observation().vms, untaggedStopped, outOfRange, unknownPool] }));
    expect(p.actions).toEqual([]);
    expect(p.notes.join('\n')).toMatch(/VM 203 .*not ours/);
    expect(p.notes.join('\n')).toMatch(/VM 250 .*outside pool ubuntu's range/);
    expect(p.notes.join('\n')).toMatch(/VM 204 .*names no configured pool/);
  });

  it('adopts a VM it cloned but could not tag (name, range and description are ours)', () => {
    const half = { ...ourVm(ubuntu, 205, { status: 'stopped' }), tags: [] };
    const p = plan(config(), observation({ vms: [...observation().vms, half] }));
    expect(kinds(p.actions)).toEqual(['adopt-vm']);
    expect(plan(config(), observation({ vms: [...observation().vms, { ...half, lock: 'clone' }] })).actions).toEqual([]);
  });

  it('counts half-made VMs against the caps and as runners on their way while they clone', () => {
    const halves = [200, 201, 202, 203].map((id) => ({ ...ourVm(ubuntu, id, { status: 'stopped', lock: 'clone' }), tags: [] }));
    const p = plan(config(), observation({ jobs: [job(ULABELS), job(ULABELS), job(ULABELS), job(ULABELS), job(ULABELS)], vms: [...observation().vms, ...halves] }));
    expect(creates(p.actions)).toEqual([]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 4, booting: 4, limitedBy: 'max_runners 4' });
  });

  it('skips the VMID of a container in a range and never treats it as ours', () => {
    const ct = { ...ourVm(ubuntu, 200, { status: 'stopped' }), kind: 'lxc' as const, name: 'ubuntu-200-ab12' };
    const p = plan(config(), observation({ jobs: [job(ULABELS)], vms: [...observation().vms, ct] }));
    expect(p.actions.map((a) => [a.kind, 'vmid' in a ? a.vmid : undefined])).toEqual([['create', 201]]);
    expect(p.notes.join('\n')).toMatch(/container 200 .* never touched, VMID skipped/);
  });

  it('counts a bare clone placeholder in a range against the caps (a restart mid-clone), and never touches it', () => {
    const placeholder = { vmid: 202, node: 'pve1', name: '', status: 'stopped', template: false, tags: [], lock: 'clone', maxmemBytes: 0, uptimeS: 0 };
    const p = plan(config({ maxTotalRunners: 2 }), observation({ jobs: [job(ULABELS), job(ULABELS), job(ULABELS)], vms: [...observation().vms, placeholder] }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([200]);
    expect(p.actions.some((a) => 'vmid' in a && a.vmid === 202)).toBe(false);
    expect(p.notes.join('\n')).toMatch(/VM 202 .*being cloned by another task/);
  });

  it('deletes only registrations of our exact shape, prefix and range', () => {
    const runners = ['ubuntu-205-ab12', 'ubuntu-builder', 'ubuntu-999-ab12', 'laptop', 'ubuntu-205-AB12', 'ubuntu-0205-ab12'].map((name, i) => ({ id: i + 1, name, scope: REPO, status: 'offline', busy: false }));
    const p = plan(config(), observation({ runners }));
    expect(p.actions).toEqual([expect.objectContaining({ kind: 'delete-runner', runnerId: 1, name: 'ubuntu-205-ab12' })]);
  });

  it('keeps a registration whose VM is being created by this process', () => {
    const runners = [{ id: 7, name: 'ubuntu-200-zz99', scope: REPO, status: 'offline', busy: false }];
    const creating = [{ pool: 'ubuntu', scope: REPO, vmid: 200, node: 'pve1', runnerName: 'ubuntu-200-zz99', memoryBytes: GiB }];
    expect(plan(config(), observation({ runners, inFlight: inFlight({ creating }) })).actions).toEqual([]);
  });
});

describe('planner: removals', () => {
  const withVm = (vm: ReturnType<typeof ourVm>, extra: Parameters<typeof observation>[0] = {}) => observation({ vms: [...observation().vms, vm], ...extra });

  it('removes a stopped VM, deregistering its runner first', () => {
    const vm = ourVm(ubuntu, 200, { status: 'stopped' });
    const p = plan(config(), withVm(vm, { runners: [runnerFor(vm, { status: 'offline' })] }));
    expect(removals(p.actions)).toEqual([expect.objectContaining({ vmid: 200, running: false, runner: { id: 2000, scope: REPO }, reason: expect.stringMatching(/stopped/) })]);
  });

  it('creates nothing while a runner VM is stopped with PAUSE_ON_STOPPED; removes nothing with DISABLE_CLEANUP', () => {
    const vm = ourVm(ubuntu, 200, { status: 'stopped' });
    const paused = plan(config({ pauseOnStopped: true, disableCleanup: true }), withVm(vm, { jobs: [job(ULABELS), job(['gpu'])] }));
    expect(paused.actions).toEqual([]);
    expect(paused.notes).toContain('PAUSE_ON_STOPPED: creating nothing while runner VMs are stopped (200)');
    expect(paused.pools.map((s) => s.limitedBy)).toEqual(['PAUSE_ON_STOPPED', 'PAUSE_ON_STOPPED']);
    // without DISABLE_CLEANUP the stopped VM is removed, and creation resumes once it is gone
    expect(kinds(plan(config({ pauseOnStopped: true }), withVm(vm, { jobs: [job(ULABELS)] })).actions)).toEqual(['remove-vm']);
    expect(kinds(plan(config({ pauseOnStopped: true }), observation({ jobs: [job(ULABELS)] })).actions)).toEqual(['create']);
    const late = ourVm(ubuntu, 201, { ageMs: 20 * MIN });
    const p = plan(config({ disableCleanup: true }), observation({ vms: [...observation().vms, vm, late], runners: [{ id: 1, name: 'ubuntu-209-qq11', scope: REPO, status: 'offline', busy: false }], snippets: [{ node: 'pve1', file: 'pvr-ubuntu-208-aaaa.yaml' }] }));
    expect(p.actions).toEqual([]);
    expect(p.notes).toContain('DISABLE_CLEANUP is set: nothing is removed');
  });

  it('removes a VM not registered within boot_timeout, and keeps one still within it', () => {
    const late = ourVm(ubuntu, 200, { ageMs: 11 * MIN });
    const fresh = ourVm(ubuntu, 201, { ageMs: 9 * MIN });
    const p = plan(config(), observation({ vms: [...observation().vms, late, fresh], runners: [runnerFor(late, { status: 'offline' })] }));
    expect(removals(p.actions)).toEqual([expect.objectContaining({ vmid: 200, running: true, runner: { id: 2000, scope: REPO }, reason: expect.stringMatching(/boot_timeout 10m/) })]);
  });

  it('does not judge registration when the runner listing of the scope failed', () => {
    const late = ourVm(ubuntu, 200, { ageMs: 11 * MIN });
    expect(plan(config(), withVm(late, { runnerScopes: [] })).actions).toEqual([]);
  });

  it('removes an idle runner past idle_timeout only when no matching job waits', () => {
    const idle = ourVm(ubuntu, 200, { ageMs: 16 * MIN });
    const base = { runners: [runnerFor(idle)] };
    expect(removals(plan(config(), withVm(idle, base)).actions)).toEqual([expect.objectContaining({ vmid: 200, reason: expect.stringMatching(/idle_timeout/) })]);
    expect(removals(plan(config(), withVm(idle, { ...base, jobs: [job(ULABELS)] })).actions)).toEqual([]);
    expect(removals(plan(config(), withVm(idle, { ...base, jobScopesFailed: [REPO] })).actions)).toEqual([]);
    expect(removals(plan(config(), withVm(ourVm(ubuntu, 200, { ageMs: 14 * MIN }), base)).actions)).toEqual([]);
  });

  it('stops a VM running past max_job_duration; a busy runner is never deregistered', () => {
    const long = ourVm(ubuntu, 200, { ageMs: 361 * MIN });
    const p = plan(config(), withVm(long, { runners: [runnerFor(long, { busy: true })] }));
    expect(p.actions).toEqual([expect.objectContaining({ kind: 'stop-vm', vmid: 200, reason: expect.stringMatching(/max_job_duration 6h/) })]);
  });

  it('never removes a running VM whose runner is listed busy though offline; past max_job_duration it is stopped (property 3 found it)', () => {
    for (const ageMs of [11 * MIN, 3 * MIN]) {
      const vm = ourVm(ubuntu, 200, { ageMs });
      const runners = [runnerFor(vm, { status: 'offline', busy: true })];
      expect(plan(config(), withVm(vm, { runners })).actions).toEqual([]);
      expect(plan(config(), withVm(vm, { runners, inFlight: inFlight({ seenOnline: new Set([vm.name]) }) })).actions).toEqual([]);
    }
    const long = ourVm(ubuntu, 200, { ageMs: 361 * MIN });
    expect(kinds(plan(config(), withVm(long, { runners: [runnerFor(long, { status: 'offline', busy: true })] })).actions)).toEqual(['stop-vm']);
  });

  it('removes a VM whose runner was seen online and is now gone (job done, no power-off)', () => {
    const vm = ourVm(ubuntu, 200, { ageMs: 3 * MIN });
    const p = plan(config(), withVm(vm, { inFlight: inFlight({ seenOnline: new Set([vm.name]) }) }));
    expect(removals(p.actions)).toEqual([expect.objectContaining({ vmid: 200, runner: undefined, reason: expect.stringMatching(/finished/) })]);
  });

  it('leaves locked VMs and VMs with an operation in flight alone', () => {
    const locked = ourVm(ubuntu, 200, { status: 'stopped', lock: 'clone' });
    const busy = ourVm(ubuntu, 201, { status: 'stopped' });
    expect(plan(config(), observation({ vms: [...observation().vms, locked, busy], inFlight: inFlight({ busyVmids: new Set([201]) }) })).actions).toEqual([]);
  });

  it('deletes snippets of VMs that have started or are gone, never others', () => {
    const started = ourVm(ubuntu, 200);
    const notYet = ourVm(ubuntu, 201, { status: 'stopped', lock: 'clone' });
    const snippets = ['pvr-ubuntu-200-ab12.yaml', 'pvr-ubuntu-201-ab12.yaml', 'pvr-ubuntu-202-ab12.yaml', 'user-notes.yaml', 'pvr-other-1-x.yaml'].map((file) => ({ node: 'pve1', file }));
    const p = plan(config(), observation({ vms: [...observation().vms, started, notYet], runners: [runnerFor(started)], snippets }));
    expect(p.actions.filter((a) => a.kind === 'delete-snippet').map((a) => (a as { file: string }).file)).toEqual(['pvr-ubuntu-200-ab12.yaml', 'pvr-ubuntu-202-ab12.yaml']);
  });
});

describe('planner: purity', () => {
  it('gives the same plan for the same observation and does not mutate it', () => {
    const vm = ourVm(ubuntu, 200, { status: 'stopped' });
    const o = observation({ jobs: [job(ULABELS), job(['gpu'])], vms: [...observation().vms, vm] });
    const frozen = JSON.stringify(o, (_k, v) => (v instanceof Set || v instanceof Map ? [...v] : v));
    const a = plan(config(), o);
    const b = plan(config(), o);
    expect(a).toEqual(b);
    expect(JSON.stringify(o, (_k, v) => (v instanceof Set || v instanceof Map ? [...v] : v))).toBe(frozen);
    expect(gpu.maxRunners).toBe(2);
  });
});
