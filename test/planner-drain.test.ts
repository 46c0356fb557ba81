/**
 * Draining: VMs of ours that no configured pool holds (their pool removed from pools.yaml, or their
 * VMID outside a shrunk range) are known by their own marks, never given work, removed once stopped
 * or idle, and never while busy. The planner has no memory of earlier configs: what it sees is what
 * a restart after the edit sees too.
 */
import type { Action, RemoveVmAction } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import { MIN, NOW, ULABELS, config, gpu, inFlight, job, observation, ourVm, pool, runnerFor, ubuntu } from './helpers/planner-fixtures.js';

const removals = (actions: Action[]) => actions.filter((a): a is RemoveVmAction => a.kind === 'remove-vm');
const touched = (actions: Action[]) => actions.filter((a) => 'vmid' in a).map((a) => (a as { vmid: number }).vmid).sort();
const base = observation().vms;

describe('planner: VMs of a removed pool are drained', () => {
  // pools.yaml no longer has gpu (VMIDs 300-301): its VMs still carry its tag and description.
  const cfg = config({ pools: [ubuntu] });
  const stopped = ourVm(gpu, 300, { status: 'stopped' });
  const idle = ourVm(gpu, 301);
  const busy = ourVm(gpu, 302);
  const running = ourVm(gpu, 303);
  const young = ourVm(gpu, 304, { ageMs: 2 * MIN });
  const late = ourVm(gpu, 305, { ageMs: 11 * MIN });
  const runners = [runnerFor(idle), runnerFor(busy, { busy: true })];
  const obs = observation({ vms: [...base, stopped, idle, busy, running, young, late], runners, jobStarted: new Map([[running.name, NOW - MIN]]) });

  it('removes the stopped, the idle (registration first) and the one whose runner never came; never the busy or the booting', () => {
    const p = plan(cfg, obs);
    const r = removals(p.actions);
    expect(r.map((a) => a.vmid).sort()).toEqual([300, 301, 305]);
    for (const a of r) expect(a).toMatchObject({ pool: 'gpu', drain: true });
    expect(r.find((a) => a.vmid === 301)).toMatchObject({ running: true, runner: { id: 3010, scope: 'repo:acme/app' } });
    expect(r.find((a) => a.vmid === 300)!.reason).toMatch(/^drained \(pool gpu is no longer configured\): VM is stopped/);
    expect(touched(p.actions)).toEqual([300, 301, 305]);
    expect(p.draining.map((d) => [d.vmid, d.state])).toEqual([[300, 'removing'], [301, 'removing'], [302, 'busy'], [303, 'busy'], [304, 'booting'], [305, 'removing']]);
    expect(p.notes.join('\n')).toMatch(/VM 302 \(gpu-302-ab12\) on pve1 is ours but pool gpu is no longer configured: drained/);
  });

  it('gives them no work and counts them against max_total_runners', () => {
    // Their labels match ubuntu's jobs too: a drained idle runner is no cover for a job.
    const p = plan(config({ pools: [ubuntu], maxTotalRunners: 8 }), { ...obs, jobs: Array.from({ length: 4 }, () => job(ULABELS)) });
    expect(p.actions.filter((a) => a.kind === 'create')).toHaveLength(2);
    expect(p.pools[0]).toMatchObject({ create: 2, limitedBy: 'max_total_runners 8' });
  });

  it('removes nothing while its runners cannot be listed (busy or not is unknown)', () => {
    const p = plan(cfg, { ...obs, runnerScopes: [], runners: [] });
    expect(removals(p.actions).map((a) => a.vmid)).toEqual([300]);
  });

  it('leaves alone a VM whose marks do not agree (one tag, or a description naming another pool or name)', () => {
    const oneTag = { ...ourVm(gpu, 300, { status: 'stopped' }), tags: ['pve-runners'] };
    const otherMeta = { ...ourVm(gpu, 301, { status: 'stopped' }), meta: { ...ourVm(gpu, 301).meta!, pool: 'ubuntu' } };
    const renamed = { ...ourVm(gpu, 302, { status: 'stopped' }), name: 'my-vm' };
    const noMeta = { ...ourVm(gpu, 303, { status: 'stopped' }), meta: undefined };
    const p = plan(cfg, observation({ vms: [...base, oneTag, otherMeta, renamed, noMeta] }));
    expect(touched(p.actions)).toEqual([]);
    expect(p.draining).toEqual([]);
  });

  it('with cleanup disabled removes nothing', () => {
    expect(removals(plan({ ...cfg, disableCleanup: true }, obs).actions)).toEqual([]);
  });
});

describe('planner: VMs outside a shrunk range are drained', () => {
  // ubuntu's range was 200-209; now 200-204.
  const shrunk = pool({ ...ubuntu, vmidRange: { lo: 200, hi: 204 } });
  const inside = ourVm(ubuntu, 201);
  const outIdle = ourVm(ubuntu, 207, { ageMs: 30 * MIN });
  const outBusy = ourVm(ubuntu, 208);
  const obs = observation({ vms: [...base, inside, outIdle, outBusy], runners: [runnerFor(inside), runnerFor(outIdle), runnerFor(outBusy, { busy: true })], jobs: [job(ULABELS), job(ULABELS)] });

  it('removes the idle one outside, keeps the busy one, and serves jobs from inside the range only', () => {
    const p = plan(config({ pools: [shrunk, gpu] }), obs);
    expect(removals(p.actions).map((a) => [a.vmid, a.drain])).toEqual([[207, true]]);
    expect(removals(p.actions)[0]!.reason).toMatch(/VMID 207 lies outside pool ubuntu's range 200-204/);
    // two jobs: the idle runner inside covers one, a new VM inside the range the other
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => (a as { vmid: number }).vmid)).toEqual([200]);
    expect(p.draining.map((d) => [d.vmid, d.state])).toEqual([[207, 'removing'], [208, 'busy']]);
  });

  it('a VM with an action under way is left to it', () => {
    const p = plan(config({ pools: [shrunk, gpu] }), { ...obs, inFlight: inFlight({ busyVmids: new Set([207]) }) });
    expect(removals(p.actions)).toEqual([]);
  });

  it('so is one this process is still creating for a pool a reload removed (stopped between clone and start)', () => {
    const cloned = ourVm(gpu, 300, { status: 'stopped' });
    const creating = [{ pool: 'gpu', scope: 'repo:acme/app', vmid: 300, node: 'pve1', runnerName: cloned.name, memoryBytes: 1 }];
    const p = plan(config({ pools: [ubuntu] }), observation({ vms: [...base, cloned], inFlight: inFlight({ creating }) }));
    expect(removals(p.actions)).toEqual([]);
    expect(p.draining.map((d) => d.state)).toEqual(['acting']);
  });
});

describe('planner: a drained VM\'s snippet', () => {
  it('goes once the VM has started, and with its removal', () => {
    const cfg = config({ pools: [ubuntu] });
    const booting = ourVm(gpu, 300);
    const stopped = ourVm(gpu, 301, { status: 'stopped' });
    const p = plan(cfg, observation({ vms: [...base, booting, stopped], snippets: [{ node: '', file: `pvr-${booting.name}.yaml` }, { node: '', file: `pvr-${stopped.name}.yaml` }] }));
    expect(p.actions.filter((a) => a.kind === 'delete-snippet').map((a) => (a as { reason: string }).reason)).toEqual(['its drained VM has started', 'its drained VM is being removed']);
  });
});
