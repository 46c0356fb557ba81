import type { Action, CreateAction } from '../src/planner/actions.js';
import { actsOn, claimOf } from '../src/planner/instance.js';
import type { ObservedVm } from '../src/planner/observation.js';
import { plan } from '../src/planner/plan.js';
import { MIN, NOW, ULABELS, config, gpu, job, observation, ourVm, pool, runnerFor, ubuntu } from './helpers/planner-fixtures.js';

const SELF = { id: 'pvr-a', takeoverAfterMs: 20 * MIN };
const cfg = config({ instance: SELF });
const creates = (actions: Action[]) => actions.filter((a): a is CreateAction => a.kind === 'create');
/** A VM another installation made `ageMs` ago. */
const theirs = (vmid: number, ageMs: number, over: Partial<ObservedVm> = {}, id = 'pvr-b'): ObservedVm => {
  const vm = ourVm(ubuntu, vmid, { ageMs, ...over });
  return { ...vm, meta: { ...vm.meta!, instance: id } };
};
const touched = (actions: Action[]) => actions.flatMap((a) => ('vmid' in a ? [a.vmid] : []));

describe('planner: another pve-runners instance in our pools', () => {
  it('a live other instance (a fresh VM of its) makes the pool create nothing, and its VMs are counted but never touched', () => {
    const fresh = theirs(200, 2 * MIN);
    // an old idle VM of the same live instance: not taken over while its newest VM is fresh
    const oldIdle = theirs(201, 60 * MIN);
    const stopped = theirs(202, 3 * MIN, { status: 'stopped' });
    const p = plan(cfg, observation({
      jobs: [job(ULABELS), job(ULABELS), job(['self-hosted', 'gpu'])],
      vms: [...observation().vms, fresh, oldIdle, stopped],
      runners: [runnerFor(oldIdle)],
    }));
    expect(creates(p.actions).map((c) => c.pool)).toEqual(['gpu']);
    expect(touched(p.actions).filter((v) => v < 300)).toEqual([]);
    expect(p.otherInstances).toEqual([{ id: 'pvr-b', live: true, pools: ['ubuntu'], vmids: [200, 201, 202], lastActiveAt: NOW - 2 * MIN }]);
    const s = p.pools.find((x) => x.pool === 'ubuntu')!;
    expect(s.limitedBy).toBe("another pve-runners instance 'pvr-b' live in its VMID range");
    expect(s.vms).toBe(3);
  });

  it('no warm VM is started or kept topped up, and no registration or snippet without a VM of ours is removed, while the other is live', () => {
    const warmPool = pool({ name: 'ubuntu', labels: ubuntu.labels, sizes: { hot: 0, warm: 2 } });
    const warm = { ...ourVm(warmPool, 203, { status: 'stopped', scope: '' }), meta: { pool: 'ubuntu', scope: '', runner: 'ubuntu-203-ab12', createdAt: NOW - 30 * MIN, warm: { template: 9000 } } };
    const p = plan(config({ instance: SELF, pools: [warmPool, gpu] }), observation({
      jobs: [job(ULABELS)],
      vms: [...observation().vms, theirs(200, MIN), warm],
      // offline, no VM named so: the other instance's clone in progress registers before its VM is listed
      runners: [{ id: 7, name: 'ubuntu-204-zz99', scope: 'repo:acme/app', status: 'offline', busy: false }],
      snippets: [{ node: '', file: 'pvr-ubuntu-204-zz99.yaml' }],
    }));
    expect(p.actions).toEqual([]);
  });

  it('an instance whose newest VM is older than INSTANCE_TAKEOVER_AFTER is gone: its VMs are taken over and cleaned up, and the pool serves again', () => {
    const stopped = theirs(200, 25 * MIN, { status: 'stopped' });
    const idle = theirs(201, 21 * MIN);
    const p = plan(cfg, observation({ jobs: [job(ULABELS)], vms: [...observation().vms, stopped, idle], runners: [runnerFor(idle)] }));
    expect(p.otherInstances).toEqual([expect.objectContaining({ id: 'pvr-b', live: false })]);
    expect(p.actions.filter((a) => a.kind === 'remove-vm').map((a) => (a as { vmid: number }).vmid)).toEqual([200]);
    // the idle one covers the job; nothing else is needed
    expect(creates(p.actions)).toEqual([]);
    expect(p.pools.find((x) => x.pool === 'ubuntu')!.limitedBy).toBeUndefined();
    expect(p.notes.some((n) => n.includes("instance 'pvr-b', which made no VM for INSTANCE_TAKEOVER_AFTER: taken over"))).toBe(true);
  });

  it('VMs without an instance id (made before ids existed) and our own are ours; disjoint ranges are no conflict', () => {
    const legacy = ourVm(ubuntu, 200, { status: 'stopped' });
    const mine = { ...ourVm(ubuntu, 201, { status: 'stopped' }), meta: { ...ourVm(ubuntu, 201).meta!, instance: SELF.id } };
    // another instance's fresh VM in a range none of our pools has
    const elsewhere = { ...ourVm(pool({ name: 'ubuntu', vmidRange: { lo: 500, hi: 509 } }), 500, { ageMs: MIN }) };
    elsewhere.meta = { ...elsewhere.meta!, instance: 'pvr-b' };
    const p = plan(cfg, observation({ jobs: [job(ULABELS)], vms: [...observation().vms, legacy, mine, elsewhere] }));
    expect(p.otherInstances).toEqual([]);
    expect(p.actions.filter((a) => a.kind === 'remove-vm').map((a) => (a as { vmid: number }).vmid)).toEqual([200, 201]);
    expect(creates(p.actions)).toHaveLength(1);
  });

  it('without an instance id of its own the planner looks for no other (a lone daemon, as before)', () => {
    const p = plan(config(), observation({ jobs: [job(ULABELS)], vms: [...observation().vms, theirs(200, MIN, { status: 'stopped' })] }));
    expect(p.otherInstances).toEqual([]);
    expect(p.actions.map((a) => a.kind).sort()).toEqual(['create', 'remove-vm']);
  });

  it('claimOf / actsOn: the one predicate for "ours and this instance\'s"', () => {
    const meta = { pool: 'ubuntu', scope: '', runner: 'x', createdAt: NOW - MIN };
    expect(claimOf(meta, SELF, () => undefined, NOW)).toBe('ours');
    expect(claimOf({ ...meta, instance: 'pvr-a' }, SELF, () => undefined, NOW)).toBe('ours');
    expect(claimOf({ ...meta, instance: 'pvr-b' }, SELF, () => undefined, NOW)).toBe('other-live');
    expect(claimOf({ ...meta, instance: 'pvr-b' }, SELF, () => undefined, NOW + 20 * MIN)).toBe('other-gone');
    // the instance's newest VM decides, not this VM's own stamp
    expect(claimOf({ ...meta, instance: 'pvr-b' }, SELF, () => NOW + 19 * MIN, NOW + 20 * MIN)).toBe('other-live');
    expect(actsOn({ ...meta, instance: 'pvr-b' }, SELF, NOW)).toBe(false);
    expect(actsOn({ ...meta, instance: 'pvr-b' }, SELF, NOW + 21 * MIN)).toBe(true);
    expect(actsOn(undefined, SELF, NOW)).toBe(true);
  });
});
