import { describe, expect, it } from '@jest/globals';
import type { PoolConfig } from '../src/config/types.js';
import type { Action, CreateAction, RemoveVmAction, StartWarmAction } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import { config, inFlight, job, MIN, NOW, observation, ourVm, pool, REPO, runnerFor, template, ULABELS } from './helpers/planner-fixtures.js';

const OTHER = 'repo:acme/other';
const hotPool = (hot: number, over: Partial<PoolConfig> = {}) => pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot, warm: 0 }, hotScopes: [REPO], ...over });
const warmPool = (warm: number, over: Partial<PoolConfig> = {}) => pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot: 0, warm }, ...over });
const templates = [template('ubuntu-template', 9000, 'pve1'), template('ubuntu-template', 9100, 'pve2')];
const creates = (as: Action[]) => as.filter((a): a is CreateAction => a.kind === 'create');
const starts = (as: Action[]) => as.filter((a): a is StartWarmAction => a.kind === 'start-warm');
const removals = (as: Action[]) => as.filter((a): a is RemoveVmAction => a.kind === 'remove-vm');
const idle = (p: PoolConfig, vmid: number, ageMs: number, scope = REPO) => {
  const vm = ourVm(p, vmid, { ageMs, scope });
  return { vm, runner: runnerFor(vm, { scope }) };
};
const warmVm = (p: PoolConfig, vmid: number, over: { ageMs?: number; template?: number; stamp?: string; node?: string } = {}) => {
  const vm = ourVm(p, vmid, { status: 'stopped', uptimeS: 0, node: over.node ?? 'pve1', ageMs: over.ageMs ?? 5 * MIN, scope: '' });
  return { ...vm, meta: { ...vm.meta!, warm: { template: over.template ?? (vm.node === 'pve1' ? 9000 : 9100), ...(over.stamp ? { stamp: over.stamp } : {}) } } };
};

describe('planner: hot runners', () => {
  it('makes the hot count of runners in the hot scope with no job queued', () => {
    const p = hotPool(2);
    const out = plan(config({ pools: [p] }), observation({ vms: templates }));
    expect(creates(out.actions).map((a) => [a.purpose, a.scope])).toEqual([['hot', REPO], ['hot', REPO]]);
    expect(creates(out.actions)[0]!.forJob).toBeUndefined();
  });

  it('keeps the youngest idle runners within the count past idle_timeout, and removes the others', () => {
    const p = hotPool(2);
    const a = idle(p, 200, 20 * MIN), b = idle(p, 201, 30 * MIN), c = idle(p, 202, 40 * MIN);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, a.vm, b.vm, c.vm], runners: [a.runner, b.runner, c.runner] }));
    expect(removals(out.actions).map((r) => r.vmid)).toEqual([202]);
    expect(creates(out.actions)).toEqual([]);
    expect(out.pools[0]).toMatchObject({ hot: 2, idle: 3 });
  });

  it('replaces a hot runner that took a job: the job is its, and one more is made', () => {
    const p = hotPool(2);
    const a = idle(p, 200, 5 * MIN), b = idle(p, 201, 5 * MIN);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, a.vm, b.vm], runners: [a.runner, b.runner], jobs: [job(ULABELS)] }));
    expect(creates(out.actions).map((x) => x.purpose)).toEqual(['hot']);
  });

  it('replaces hot runners past hot_max_age one at a time, only while no replacement is on its way', () => {
    const p = hotPool(2, { hotMaxAgeMs: 60 * MIN });
    const a = idle(p, 200, 90 * MIN), b = idle(p, 201, 80 * MIN);
    const obs = observation({ vms: [...templates, a.vm, b.vm], runners: [a.runner, b.runner] });
    const out = plan(config({ pools: [p] }), obs);
    expect(removals(out.actions).map((r) => [r.vmid, r.reason])).toEqual([[200, expect.stringContaining('hot_max_age')]]);
    expect(creates(out.actions).map((x) => x.purpose)).toEqual(['hot']);
    const busy = plan(config({ pools: [p] }), { ...obs, inFlight: inFlight({ creating: [{ pool: 'ubuntu', scope: REPO, vmid: 202, node: 'pve1', runnerName: 'ubuntu-202-zz99', memoryBytes: 1 }] }) });
    expect(removals(busy.actions)).toEqual([]);
  });

  it('measures max_job_duration from the job\'s start, not from the hours its hot runner idled before', () => {
    const p = hotPool(1);
    const a = idle(p, 200, 10 * 60 * MIN);
    const busy = { ...a.runner, busy: true };
    const stops = (jobStarted?: Map<string, number>) => plan(config({ pools: [p] }), observation({ vms: [...templates, a.vm], runners: [busy], ...(jobStarted ? { jobStarted } : {}) })).actions.filter((x) => x.kind === 'stop-vm');
    expect(stops(new Map([[a.vm.name, NOW - 5 * MIN]]))).toEqual([]);
    expect(stops()).toEqual([]);
    expect(stops(new Map([[a.vm.name, NOW - 7 * 60 * MIN]]))).toEqual([expect.objectContaining({ vmid: 200, reason: expect.stringContaining('job running 420m') })]);
  });

  it('follows the sizes in force, not the pool\'s own', () => {
    const p = hotPool(2);
    const out = plan(config({ pools: [p] }), observation({ vms: templates, tierSizes: new Map([['ubuntu', { hot: 0, warm: 0 }]]) }));
    expect(out.actions).toEqual([]);
    const more = plan(config({ pools: [p] }), observation({ vms: templates, tierSizes: new Map([['ubuntu', { hot: 3, warm: 0 }]]) }));
    expect(creates(more.actions)).toHaveLength(3);
  });

  it('spreads the hot count over the named scopes', () => {
    const p = hotPool(3, { hotScopes: [REPO, OTHER] });
    const out = plan(config({ pools: [p] }), observation({ vms: templates, runnerScopes: [REPO, OTHER] }));
    expect(creates(out.actions).map((a) => a.scope)).toEqual([REPO, REPO, OTHER]);
  });

  it('gives way: idle hot runners of one repository are removed for a job of another that max_runners holds back', () => {
    const p = hotPool(2, { maxRunners: 2, hotScopes: [REPO, OTHER] });
    const a = idle(p, 200, 5 * MIN), b = idle(p, 201, 9 * MIN);
    const j = job(ULABELS, { repo: 'acme/third', scope: 'repo:acme/third' });
    const obs = observation({ vms: [...templates, a.vm, b.vm], runners: [a.runner, b.runner], jobs: [j], runnerScopes: [REPO, OTHER, 'repo:acme/third'] });
    const out = plan(config({ pools: [p] }), obs);
    expect(removals(out.actions).map((r) => [r.vmid, r.reason])).toEqual([[201, expect.stringContaining(`makes room for queued job ${j.id}`)]]);
    expect(removals(out.actions)[0]!.runner).toEqual({ id: 2010, scope: REPO });
    expect(creates(out.actions)).toEqual([]);
    // the removal under way is the room: nothing more is removed meanwhile
    const next = plan(config({ pools: [p] }), { ...obs, inFlight: inFlight({ busyVmids: new Set([201]) }) });
    expect(removals(next.actions)).toEqual([]);
  });
});

describe('planner: tiers and caps together (review findings)', () => {
  it('never removes a warm VM it starts in the same plan to make room for another job', () => {
    const p = warmPool(2, { maxRunners: 2 });
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, warmVm(p, 200), warmVm(p, 201)], jobs: [job(ULABELS), job(ULABELS), job(ULABELS)] }));
    expect(starts(out.actions).map((a) => a.vmid)).toEqual([200, 201]);
    expect(removals(out.actions)).toEqual([]);
  });

  it('starts a warm VM for a job even while max_total_runners holds an older job of another pool', () => {
    const a = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'] });
    const b = warmPool(1, { name: 'gpu', labels: ['self-hosted', 'gpu'], vmidRange: { lo: 300, hi: 309 }, template: { kind: 'name', name: 'gpu-template' }, nodes: ['pve2'] });
    const busy = [200, 201, 202].map((id) => idle(a, id, 5 * MIN));
    const w = { ...warmVm(b, 300, { node: 'pve2' }), meta: { ...warmVm(b, 300, { node: 'pve2' }).meta!, warm: { template: 9101 } } };
    const older = job(ULABELS, { createdAt: '2026-11-24T11:00:00Z' });
    const newer = job(['self-hosted', 'gpu'], { createdAt: '2026-11-24T11:30:00Z' });
    const out = plan(config({ pools: [a, b], maxTotalRunners: 4 }), observation({ vms: [...templates, template('gpu-template', 9101, 'pve2'), ...busy.map((x) => x.vm), w], runners: busy.map((x) => ({ ...x.runner, busy: true })), jobs: [older, newer] }));
    expect(starts(out.actions).map((x) => [x.vmid, x.forJob])).toEqual([[300, newer.id]]);
    expect(removals(out.actions)).toEqual([]);
  });

  it('makes no room for a job that could not be placed anyway (no churn with the warm top-up)', () => {
    const a = warmPool(1);
    const b = pool({ name: 'gpu', labels: ['self-hosted', 'gpu'], vmidRange: { lo: 300, hi: 309 }, template: { kind: 'name', name: 'gpu-template' }, nodes: ['pve2'] });
    // gpu's only node has no memory left for a clone
    const obs = observation({ vms: [...templates, template('gpu-template', 9101, 'pve2'), warmVm(a, 200)], jobs: [job(['self-hosted', 'gpu'])], nodes: [{ name: 'pve1', online: true, maxmemBytes: 128 * 2 ** 30, memBytes: 0 }, { name: 'pve2', online: true, maxmemBytes: 128 * 2 ** 30, memBytes: 128 * 2 ** 30 }] });
    const out = plan(config({ pools: [a, b], maxTotalRunners: 1 }), obs);
    expect(removals(out.actions)).toEqual([]);
  });

  it('replaces aged hot runners one at a time also while the first one\'s removal is still under way', () => {
    const p = hotPool(2, { maxRunners: 2, hotMaxAgeMs: 60 * MIN });
    const a = idle(p, 200, 90 * MIN), b = idle(p, 201, 80 * MIN);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, a.vm, b.vm], runners: [a.runner, b.runner], inFlight: inFlight({ busyVmids: new Set([200]) }) }));
    expect(removals(out.actions)).toEqual([]);
  });
});

describe('planner: listings that disagree', () => {
  it('a VM the job listing names as running a job covers no other job, though its runner is not listed yet', () => {
    const p = hotPool(0);
    const vm = ourVm(p, 200, { ageMs: MIN });
    const j = job(ULABELS);
    const booting = plan(config({ pools: [p] }), observation({ vms: [...templates, vm], jobs: [j] }));
    expect(creates(booting.actions)).toEqual([]);
    const taken = plan(config({ pools: [p] }), observation({ vms: [...templates, vm], jobs: [j], jobStarted: new Map([[vm.name, NOW - 2000]]) }));
    expect(creates(taken.actions).map((a) => a.forJob)).toEqual([j.id]);
  });
});

describe('planner: warm VMs', () => {
  it('clones the warm count, with no scope, no job and the template it came from', () => {
    const p = warmPool(2);
    const out = plan(config({ pools: [p] }), observation({ vms: [{ ...templates[0]!, stamp: '1764500000' }, templates[1]!] }));
    expect(creates(out.actions).map((a) => [a.purpose, a.scope, a.forJob])).toEqual([['warm', '', undefined], ['warm', '', undefined]]);
    expect(creates(out.actions).find((a) => a.node === 'pve1')?.templateStamp).toBe('1764500000');
  });

  it('starts a warm VM for a queued job instead of cloning, and tops the warm VMs up again', () => {
    const p = warmPool(1);
    const w = warmVm(p, 200);
    const j = job(ULABELS);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, w], jobs: [j] }));
    expect(starts(out.actions)).toEqual([expect.objectContaining({ vmid: 200, scope: REPO, forJob: j.id, purpose: 'job', name: w.name })]);
    expect(creates(out.actions).map((a) => a.purpose)).toEqual(['warm']);
    expect(removals(out.actions)).toEqual([]);
  });

  it('never removes a warm VM for being stopped, and removes it once its template was rebuilt', () => {
    const p = warmPool(1);
    const keep = plan(config({ pools: [p] }), observation({ vms: [...templates, warmVm(p, 200, { stamp: 'a' })] }));
    expect(keep.actions).toEqual([]);
    const newVmid = plan(config({ pools: [p] }), observation({ vms: [template('ubuntu-template', 9005, 'pve1'), templates[1]!, warmVm(p, 200, { template: 9000 })] }));
    expect(removals(newVmid.actions).map((r) => r.reason)).toEqual([expect.stringContaining('rebuilt (now VMID 9005')]);
    const newBuild = plan(config({ pools: [p] }), observation({ vms: [{ ...templates[0]!, stamp: 'b' }, templates[1]!, warmVm(p, 200, { stamp: 'a' })] }));
    expect(removals(newBuild.actions).map((r) => r.reason)).toEqual([expect.stringContaining('was rebuilt since it was cloned')]);
    // a stale warm VM is never started: the job gets a clone
    const j = job(ULABELS);
    const busy = plan(config({ pools: [p] }), observation({ vms: [{ ...templates[0]!, stamp: 'b' }, templates[1]!, warmVm(p, 200, { stamp: 'a' })], jobs: [j] }));
    expect(starts(busy.actions)).toEqual([]);
    expect(creates(busy.actions).map((a) => a.purpose)).toContain('job');
  });

  it('removes warm VMs above the size in force, oldest first', () => {
    const p = warmPool(2);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, warmVm(p, 200, { ageMs: 50 * MIN }), warmVm(p, 201, { ageMs: 90 * MIN })], tierSizes: new Map([['ubuntu', { hot: 0, warm: 1 }]]) }));
    expect(removals(out.actions).map((r) => r.vmid)).toEqual([201]);
  });

  it('a hot runner is made from a warm VM when there is one', () => {
    const p = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot: 1, warm: 1 }, hotScopes: [REPO] });
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, warmVm(p, 200)] }));
    expect(starts(out.actions).map((a) => [a.vmid, a.purpose, a.scope])).toEqual([[200, 'hot', REPO]]);
    expect(creates(out.actions).map((a) => a.purpose)).toEqual(['warm']);
  });

  it('removes the registration and snippet a failed start left on a warm VM', () => {
    const p = warmPool(1);
    const w = warmVm(p, 200);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, w], runners: [{ id: 5, name: w.name, scope: REPO, status: 'offline', busy: false }], snippets: [{ node: 'pve1', file: `pvr-${w.name}.yaml` }] }));
    expect(out.actions.map((a) => a.kind).sort()).toEqual(['delete-runner', 'delete-snippet']);
  });

  it('a warm VM someone started by hand is removed once it could have registered, not before', () => {
    const p = warmPool(1, { bootTimeoutMs: 10 * MIN });
    const young = { ...warmVm(p, 200, { ageMs: 5 * MIN }), status: 'running' };
    expect(removals(plan(config({ pools: [p] }), observation({ vms: [...templates, young] })).actions)).toEqual([]);
    const old = { ...warmVm(p, 200, { ageMs: 50 * MIN }), status: 'running' };
    expect(removals(plan(config({ pools: [p] }), observation({ vms: [...templates, old] })).actions).map((r) => r.vmid)).toEqual([200]);
  });

  it('caps count warm and hot VMs: at max_runners nothing more is cloned, the job takes the warm VM', () => {
    const p = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot: 1, warm: 1 }, hotScopes: [REPO], maxRunners: 2 });
    const h = idle(p, 200, 5 * MIN);
    const w = warmVm(p, 201);
    const jobs = [job(ULABELS), job(ULABELS), job(ULABELS)];
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, h.vm, w], runners: [h.runner], jobs }));
    // job 1 → the idle hot runner, job 2 → the warm VM, job 3 waits on max_runners
    expect(starts(out.actions).map((a) => a.forJob)).toEqual([jobs[1]!.id]);
    expect(creates(out.actions)).toEqual([]);
    expect(out.pools[0]!.limitedBy).toBe('max_runners 2');
  });

  it('under max_total_runners another pool\'s warm VMs give way to a waiting job', () => {
    const a = warmPool(2, { name: 'ubuntu' });
    const b = pool({ name: 'gpu', labels: ['self-hosted', 'gpu'], vmidRange: { lo: 300, hi: 309 }, template: { kind: 'name', name: 'gpu-template' }, nodes: ['pve2'] });
    const j = job(['self-hosted', 'gpu']);
    const obs = observation({ vms: [...templates, template('gpu-template', 9101, 'pve2'), warmVm(a, 200), warmVm(a, 201)], jobs: [j] });
    const out = plan(config({ pools: [a, b], maxTotalRunners: 2 }), obs);
    expect(removals(out.actions).map((r) => [r.pool, r.reason])).toEqual([['ubuntu', expect.stringContaining('warm VMs give way')]]);
    expect(out.pools.find((s) => s.pool === 'gpu')!.limitedBy).toBe('max_total_runners 2');
  });
});

