/**
 * What the planner cannot identify still counts: clones in progress whatever their name, VMs whose
 * config could not be read, VMIDs taken by VMs the token cannot see (for a bounded window).
 */
import type { Action, CreateAction } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import { MIN, NOW, ULABELS, config, job, observation, ourVm, ubuntu } from './helpers/planner-fixtures.js';

const creates = (actions: Action[]) => actions.filter((a): a is CreateAction => a.kind === 'create');
const jobs = (n: number) => Array.from({ length: n }, () => job(ULABELS));
const touches = (actions: Action[], vmid: number) => actions.some((a) => 'vmid' in a && a.vmid === vmid);
const bare = (vmid: number, name: string) => ({ vmid, node: 'pve2', name, status: 'stopped', template: false, tags: [], lock: 'clone', maxmemBytes: 0, uptimeS: 0 });

describe('planner: clones in progress count whatever they are named', () => {
  it.each([['unnamed', ''], ['Proxmox placeholder', 'VM 201'], ['any name', 'whatever']])('%s', (_what, name) => {
    const p = plan(config({ maxTotalRunners: 8 }), observation({ jobs: jobs(6), vms: [...observation().vms, bare(201, name), bare(202, name), bare(203, name)] }));
    // max_runners 4, three clones of unknown owner in the range: one new VM, in a free VMID
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([200]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 3, create: 1, limitedBy: 'max_runners 4' });
    expect(touches(p.actions, 201)).toBe(false);
  });

  it('once unlocked and not ours it is someone else\'s: not counted, VMID skipped', () => {
    const p = plan(config(), observation({ jobs: jobs(6), vms: [...observation().vms, { ...bare(201, 'VM 201'), lock: undefined }] }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([200, 202, 203, 204]);
    expect(p.notes.join('\n')).toMatch(/VM 201 \(VM 201\) .* not ours/);
  });
});

describe('planner: a VM whose config could not be read', () => {
  it('counts against its pool and is left alone, tagged or not', () => {
    const unreadTagged = { ...ourVm(ubuntu, 200, { status: 'stopped' }), meta: undefined, configUnread: true };
    const unreadHalf = { ...ourVm(ubuntu, 201, { status: 'stopped' }), tags: [], meta: undefined, configUnread: true };
    const p = plan(config(), observation({ jobs: jobs(6), vms: [...observation().vms, unreadTagged, unreadHalf] }));
    expect(touches(p.actions, 200) || touches(p.actions, 201)).toBe(false);
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([202, 203]);
    expect(p.notes.join('\n')).toMatch(/VM 201 .*may be ours \(its config could not be read this tick\)/);
  });
});

describe('planner: VMIDs taken by VMs the token cannot see', () => {
  it('never picks them, and counts each against its pool for the window after it was first found', () => {
    const hiddenVmids = new Map([[200, NOW - 14 * MIN], [202, NOW - MIN], [300, NOW]]);
    const p = plan(config({ maxTotalRunners: 5 }), observation({ jobs: [...jobs(6), job(['gpu'], { createdAt: '2026-11-24T11:59:59Z' })], hiddenVmids }));
    // ubuntu: 2 hidden count (max_runners 4 → 2 new, in 201 and 203); gpu: 300 counts; 3 hidden + 2 new = max_total_runners 5
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([201, 203]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 2, create: 2, limitedBy: 'max_total_runners 5' });
    expect(p.pools.find((s) => s.pool === 'gpu')).toMatchObject({ vms: 1, create: 0, limitedBy: 'max_total_runners 5' });
    expect(p.notes.join('\n')).toMatch(/VMID 202 in pool ubuntu's range is taken by a VM this token cannot see: VMID skipped, and counted/);
  });

  it('past the window they are someone else\'s: skipped, not counted', () => {
    const hiddenVmids = new Map([[200, NOW - 15 * MIN], [201, NOW - 20 * MIN]]);
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([202, 203, 204, 205]);
    expect(p.notes.join('\n')).toMatch(/VMID 201 .*someone else's, VMID skipped, not counted/);
  });

  it('a hidden VMID this process is creating is counted once, as its creation', () => {
    const creating = [{ pool: 'ubuntu', scope: 'repo:acme/app', vmid: 200, node: 'pve1', runnerName: 'ubuntu-200-zz99', memoryBytes: 1 }];
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids: new Map([[200, NOW]]), inFlight: { ...observation().inFlight, creating } }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([201, 202, 203]);
  });
});

describe('planner: hidden VMIDs, with the clone tasks read (unexplainedClones)', () => {
  const hiddenVmids = new Map([[200, NOW - MIN], [201, NOW - MIN], [202, NOW], [300, NOW]]);

  it('counts at most as many hidden VMIDs as the pool has unexplained clones of ours; the rest are someone else\'s at once', () => {
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids, unexplainedClones: new Map([['ubuntu', 1], ['gpu', 0]]) }));
    // ubuntu: one of 200-202 counts (max_runners 4 → 3 new, in 203-205); gpu: 300 is someone else's
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([203, 204, 205]);
    expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 1, create: 3 });
    expect(p.pools.find((s) => s.pool === 'gpu')).toMatchObject({ vms: 0 });
    const notes = p.notes.join('\n');
    expect(notes).toMatch(/VMID 200 in pool ubuntu's range .*counted against the pool as a clone of ours in progress/);
    expect(notes).toMatch(/VMID 201 in pool ubuntu's range .*no clone of ours is unaccounted for: someone else's, VMID skipped, not counted/);
    expect(notes).toMatch(/VMID 300 in pool gpu's range .*no clone of ours is unaccounted for/);
  });

  it('with no unexplained clone, a hidden VMID costs no slot (a pool missing from the map has none)', () => {
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids, unexplainedClones: new Map() }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([203, 204, 205, 206]);
    expect(p.notes.filter((n) => n.includes('cannot see'))).toHaveLength(4);
  });

  it('more unexplained clones than hidden VMIDs count only the hidden ones; past the window none counts', () => {
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids: new Map([[200, NOW], [201, NOW - 15 * MIN]]), unexplainedClones: new Map([['ubuntu', 3]]) }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([202, 203, 204]);
    expect(p.notes.join('\n')).toMatch(/VMID 201 .*for longer than a clone of ours takes/);
  });

  it('task lists unread (undefined): the window rule, every hidden VMID in it counted', () => {
    const p = plan(config(), observation({ jobs: jobs(6), hiddenVmids, unexplainedClones: undefined }));
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([203]);
    expect(p.notes.join('\n')).toMatch(/VMID 202 .*counted against the pool while it may be a clone of ours in progress \(the clone tasks could not be listed\)/);
  });
});

describe('planner: VMs a person took over', () => {
  it('a VM the executor found without our marks is never acted on, nor counted', () => {
    const vm = ourVm(ubuntu, 200, { status: 'stopped' });
    const p = plan(config(), observation({ jobs: jobs(6), vms: [...observation().vms, vm], inFlight: { ...observation().inFlight, disowned: new Set([200]) } }));
    expect(touches(p.actions, 200)).toBe(false);
    expect(creates(p.actions).map((c) => c.vmid)).toEqual([201, 202, 203, 204]);
    expect(p.notes.join('\n')).toMatch(/VM 200 .*lost pve-runners' marks/);
  });

  it('our name and description on a running VM without our tags is not adopted (we start VMs only once tagged)', () => {
    const running = { ...ourVm(ubuntu, 200), tags: [] };
    const p = plan(config(), observation({ vms: [...observation().vms, running] }));
    expect(p.actions).toEqual([]);
    const stopped = { ...running, status: 'stopped' };
    expect(plan(config(), observation({ vms: [...observation().vms, stopped] })).actions.map((a) => a.kind)).toEqual(['adopt-vm']);
  });

  it('a VM with our name and description but only one of our tags is a person\'s edit: never adopted, never counted, noted once', () => {
    for (const tags of [['pve-runners'], ['pvr-pool.ubuntu']]) {
      const vm = { ...ourVm(ubuntu, 200, { status: 'stopped' }), tags };
      const p = plan(config(), observation({ vms: [...observation().vms, vm] }));
      expect(p.actions.filter((a) => 'vmid' in a && a.vmid === 200 && a.kind !== 'create')).toEqual([]);
      expect(p.notes.join('\n')).toMatch(/VM 200 .*only .* of our two tags: someone edited it/);
    }
  });

  it('nor is one paused or of unknown status: only a stopped one is the clone a crash left untagged (property 2 found it)', () => {
    for (const status of ['paused', 'unknown']) {
      const vm = { ...ourVm(ubuntu, 200, { status }), tags: [] };
      const p = plan(config(), observation({ vms: [...observation().vms, vm] }));
      expect(p.actions).toEqual([]);
      expect(p.pools.find((s) => s.pool === 'ubuntu')).toMatchObject({ vms: 1 }); // still counted
      expect(p.notes.join('\n')).toMatch(new RegExp(`VM 200 .*may be ours .*${status} without our tags`));
    }
  });
});
