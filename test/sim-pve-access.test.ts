/**
 * Contract: what a pool-scoped token (the default grants, those of scripts/create-proxmox-token.sh)
 * gets from each endpoint of the simulated Proxmox, against what PVE's filtering gives
 * (pve-manager API2/Cluster.pm resources/nextid, qemu-server API2/Qemu.pm vmlist/clone_vm/destroy_vm,
 * pve-access-control RPCEnvironment.pm permissions/get_effective_permissions), through HTTP.
 * Scenario time is a manual clock: a clone is in progress until the test moves time past its end.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimClock } from '../src/sim/clock.js';
import { startPve, type PveHarness } from './helpers/pve-sim.js';

class ManualClock implements SimClock {
  readonly speed = 1;
  private now = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
  nowMs(): number {
    return this.now;
  }
  epochMs(): number {
    return 1_790_000_000_000 + this.now;
  }
  wallEpochAt(ms: number): number {
    return 1_790_000_000_000 + ms;
  }
  after(ms: number, fn: () => void): () => void {
    const t = { at: this.now + ms, fn };
    this.timers.push(t);
    return () => (this.timers = this.timers.filter((x) => x !== t));
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }
  /** Moves scenario time on, firing what falls due in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
  stop(): void {
    this.timers = [];
  }
}

const CLUSTER = `nodes: [{name: pve1}, {name: pve2}]
templates:
  - {name: ubuntu-tpl, vmid: 9000, node: pve1}
  - {name: shared-tpl, vmid: 9001, node: pve1, storage: ceph, shared_storage: true}
foreign_vms:
  - {vmid: 205, node: pve1, name: keep-me}
  - {vmid: 206, node: pve2, name: other-team, status: running}
timings: {clone: 60s, destroy: 1s, start: 1s}`;

type Entry = Record<string, unknown>;
const vmids = (list: unknown) => (list as Entry[]).filter((e) => e.vmid !== undefined).map((e) => e.vmid).sort();

async function start(extra = ''): Promise<{ h: PveHarness; clock: ManualClock }> {
  const clock = new ManualClock();
  const h = await startPve(`${CLUSTER}${extra ? `\n${extra}` : ''}`, { clock });
  return { h, clock };
}

async function taskEnd(h: PveHarness, clock: ManualClock, upid: string, ms: number): Promise<string> {
  clock.advance(ms);
  const st = await h.raw('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
  expect(st.json.data.status).toBe('stopped');
  return st.json.data.exitstatus as string;
}

describe('a pool-scoped token (the default grants)', () => {
  let h: PveHarness;
  let clock: ManualClock;
  beforeAll(async () => ({ h, clock } = await start()));
  afterAll(async () => h.close());

  it('authenticates as the script\'s token', () => {
    expect(h.info.tokenId).toBe('pve-runners@pve!daemon');
  });

  it('a foreign VM inside the pool\'s range: invisible in every listing, 403 on reads and writes, taken for nextid', async () => {
    const table: Array<[string, string, number, unknown]> = [
      // endpoint, path, PVE's status, what PVE answers
      ['GET', '/nodes/pve1/qemu/205/config', 403, 'Permission check failed (/vms/205, VM.Audit)'],
      ['GET', '/nodes/pve1/qemu/205/status/current', 403, 'Permission check failed (/vms/205, VM.Audit)'],
      ['DELETE', '/nodes/pve1/qemu/205', 403, 'Permission check failed (/vms/205, VM.Allocate)'],
      ['POST', '/nodes/pve1/qemu/205/status/start', 403, 'Permission check failed (/vms/205, VM.PowerMgmt)'],
      ['POST', '/nodes/pve1/qemu/205/status/stop', 403, 'Permission check failed (/vms/205, VM.PowerMgmt)'],
      ['PUT', '/nodes/pve1/qemu/205/config', 403, 'Permission check failed (/vms/205, VM.Config.Disk|VM.Config.CDROM|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.HWType|VM.Config.Options|VM.Config.Cloudinit)'],
      ['POST', '/nodes/pve1/qemu/205/clone', 403, 'Permission check failed (/vms/205, VM.Clone)'],
      ['GET', '/cluster/nextid?vmid=205', 400, { vmid: 'VM 205 already exists' }],
      ['GET', '/cluster/nextid?vmid=206', 400, { vmid: 'VM 206 already exists' }],
    ];
    for (const [method, path, status, answer] of table) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : method === 'PUT' ? 'tags=x' : path.endsWith('clone') ? 'newid=210&pool=pve-runners' : '';
      const r = await h.raw(method, path, { body });
      expect([method, path, r.status]).toEqual([method, path, status]);
      expect(status === 400 ? r.json.errors : r.reason).toEqual(answer);
    }
    const all = await h.raw('GET', '/cluster/resources');
    expect(vmids(all.json.data)).toEqual([9000, 9001]);
    expect(vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([9000, 9001]);
    expect(vmids((await h.raw('GET', '/nodes/pve1/qemu')).json.data)).toEqual([9000, 9001]);
    expect(vmids((await h.raw('GET', '/nodes/pve2/qemu')).json.data)).toEqual([]);
    expect(h.recorder.foreignTouches ?? []).toEqual([]);
  });

  it('nodes are listed with their figures (Sys.Audit on /nodes), storages only as granted, pools not at all (no Pool.Audit)', async () => {
    const all = (await h.raw('GET', '/cluster/resources')).json.data as Entry[];
    expect(all.filter((e) => e.type === 'pool')).toEqual([]);
    expect(all.filter((e) => e.type === 'node').map((e) => [e.node, typeof e.maxmem])).toEqual([['pve1', 'number'], ['pve2', 'number']]);
    expect([...new Set(all.filter((e) => e.type === 'storage').map((e) => e.storage))].sort()).toEqual(['ceph', 'local', 'local-lvm']);
    // volumes as check_volume_access allows them: snippets only with Datastore.Allocate, template
    // disks only with VM.Config.Disk on the template: neither is granted
    writeFileSync(join(h.info.snippetsDirs.pve1!, 'pvr-x.yaml'), '#cloud-config\n');
    expect((await h.raw('GET', '/nodes/pve1/storage/local/content?content=snippets')).json.data).toEqual([]);
    expect((await h.raw('GET', '/nodes/pve1/storage/local-lvm/content')).json.data).toEqual([]);
    expect((await h.raw('GET', '/nodes/pve1/storage/local/status')).status).toBe(200);
  });

  it('templates: visible, readable and clonable into the pool; no clone outside it', async () => {
    expect((await h.raw('GET', '/nodes/pve1/qemu/9000/config')).status).toBe(200);
    const outside = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=211' });
    expect([outside.status, outside.reason]).toEqual([403, 'Permission check failed']);
    const otherPool = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=211&pool=elsewhere' });
    expect([otherPool.status, otherPool.reason]).toEqual([403, 'Permission check failed']);
  });

  it('its own clone is invisible until the clone task ends (pool membership comes last), then visible and its own', async () => {
    const c = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=210&name=ci-210-ab12&pool=pve-runners' });
    expect(c.status).toBe(200);
    const upid = c.json.data as string;
    clock.advance(30_000); // half-way through the copy
    const during: Array<[string, unknown]> = [
      ['resources', vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)],
      ['qemu list', vmids((await h.raw('GET', '/nodes/pve1/qemu')).json.data)],
      ['config', (await h.raw('GET', '/nodes/pve1/qemu/210/config')).reason],
      ['status', (await h.raw('GET', '/nodes/pve1/qemu/210/status/current')).reason],
      ['nextid', (await h.raw('GET', '/cluster/nextid?vmid=210')).json.errors],
      ['own task', (await h.raw('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`)).json.data.status],
      ['permissions', (await h.raw('GET', '/access/permissions?path=/vms/210')).json.data],
    ];
    expect(during).toEqual([
      ['resources', [9000, 9001]],
      ['qemu list', [9000, 9001]],
      ['config', 'Permission check failed (/vms/210, VM.Audit)'],
      ['status', 'Permission check failed (/vms/210, VM.Audit)'],
      ['nextid', { vmid: 'VM 210 already exists' }],
      ['own task', 'running'],
      ['permissions', { '/vms/210': {} }],
    ]);
    expect(await taskEnd(h, clock, upid, 30_000)).toBe('OK');
    expect(vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([210, 9000, 9001]);
    expect(vmids((await h.raw('GET', '/nodes/pve1/qemu')).json.data)).toEqual([210, 9000, 9001]);
    const cfg = await h.raw('GET', '/nodes/pve1/qemu/210/config');
    expect([cfg.status, cfg.json.data.name]).toEqual([200, 'ci-210-ab12']);
    // the pool's grants reach the member, never propagating (compile_acl_path)
    expect((await h.raw('GET', '/access/permissions?path=/vms/210')).json.data).toEqual({
      '/vms/210': { 'VM.Allocate': 0, 'VM.Audit': 0, 'VM.Config.CPU': 0, 'VM.Config.Cloudinit': 0, 'VM.Config.Memory': 0, 'VM.Config.Options': 0, 'VM.PowerMgmt': 0 },
    });
    const tag = await h.raw('PUT', '/nodes/pve1/qemu/210/config', { body: 'tags=pve-runners' });
    expect(tag.status).toBe(200);
    // resources leave out `pool` without Pool.Audit on it
    const entry = ((await h.raw('GET', '/cluster/resources?type=vm')).json.data as Entry[]).find((e) => e.vmid === 210);
    expect(entry).not.toHaveProperty('pool');
    // destroy takes the VM out of its pool: a new VM with that VMID is not a member
    const del = await h.raw('DELETE', '/nodes/pve1/qemu/210');
    expect(await taskEnd(h, clock, del.json.data as string, 1_000)).toBe('OK');
    expect((await h.raw('GET', '/access/permissions')).json.data).not.toHaveProperty('/vms/210');
  });

  it('GET /access/permissions: its effective privileges on every path it has ACLs for, propagate flags included', async () => {
    const r = await h.raw('GET', '/access/permissions');
    const runner = { 'VM.Allocate': 1, 'VM.Audit': 1, 'VM.Config.CPU': 1, 'VM.Config.Cloudinit': 1, 'VM.Config.Memory': 1, 'VM.Config.Options': 1, 'VM.PowerMgmt': 1 };
    expect(r.json.data).toEqual({
      '/nodes': { 'Datastore.Audit': 1, 'Sys.Audit': 1 },
      '/pool/pve-runners': runner,
      '/sdn/zones/localnetwork/vmbr0': { 'SDN.Audit': 1, 'SDN.Use': 1 },
      '/storage/ceph': { 'Datastore.AllocateSpace': 1, 'Datastore.Audit': 1 },
      '/storage/local': { 'Datastore.Audit': 1, 'Sys.Audit': 1 },
      '/storage/local-lvm': { 'Datastore.AllocateSpace': 1, 'Datastore.Audit': 1 },
      '/vms/9000': { 'VM.Audit': 1, 'VM.Clone': 1 },
      '/vms/9001': { 'VM.Audit': 1, 'VM.Clone': 1 },
    });
    expect((await h.raw('GET', '/access/permissions?path=/vms')).json.data).toEqual({ '/vms': {} });
    expect((await h.raw('GET', '/access/permissions?path=/vms/205')).json.data).toEqual({ '/vms/205': {} });
    // its user's permissions are not its own: that needs Sys.Audit on /access
    const user = await h.raw('GET', '/access/permissions?userid=pve-runners@pve');
    expect([user.status, user.reason]).toEqual([403, 'Permission check failed (/access, Sys.Audit)']);
  });
});

describe('the evaluation rules, one scenario each', () => {
  const harnesses: PveHarness[] = [];
  afterAll(async () => Promise.all(harnesses.map((x) => x.close())));
  const open = async (access: string) => {
    const r = await start(access);
    harnesses.push(r.h);
    return r;
  };
  const privs = async (h: PveHarness, path: string) => Object.keys((await h.raw('GET', `/access/permissions?path=${path}`)).json.data[path]).sort();

  it('privsep 1: a token holds only what both it and its user hold; privsep 0: its user\'s', async () => {
    const { h } = await open(`access:
  tokens: [{id: pve-runners@pve!wide, privsep: false}]
  acls:
    - {path: /vms/205, roles: [PVEVMAdmin], tokens: [pve-runners@pve!daemon]}
    - {path: /vms/205, roles: [PVEAuditor], users: [pve-runners@pve]}`);
    expect(await privs(h, '/vms/205')).toEqual(['VM.Audit', 'VM.GuestAgent.Audit']);
    expect((await h.raw('DELETE', '/nodes/pve1/qemu/205')).reason).toBe('Permission check failed (/vms/205, VM.Allocate)');
    expect(vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([205, 9000, 9001]);
    // the user may not be asked for its other token's permissions without Sys.Audit on /access
    expect((await h.raw('GET', '/access/permissions?userid=pve-runners@pve!wide')).status).toBe(403);
    const { h: wide } = await open(`access:
  authenticate: pve-runners@pve!wide
  tokens: [{id: pve-runners@pve!wide, privsep: false}]
  acls: [{path: /vms/205, roles: [PVEAuditor], users: [pve-runners@pve]}]`);
    expect(wide.info.tokenId).toBe('pve-runners@pve!wide');
    expect(await privs(wide, '/vms/205')).toEqual(['Datastore.Audit', 'Mapping.Audit', 'Pool.Audit', 'SDN.Audit', 'Sys.Audit', 'VM.Audit', 'VM.GuestAgent.Audit']);
    expect(await privs(wide, '/pool/pve-runners')).toEqual(['VM.Allocate', 'VM.Audit', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Memory', 'VM.Config.Options', 'VM.PowerMgmt']);
  });

  it('propagate 0 applies at its exact path only; a more specific ACL replaces a less specific one', async () => {
    const both = { users: '[pve-runners@pve]', tokens: '[pve-runners@pve!daemon]' };
    const auditor = ['Datastore.Audit', 'Mapping.Audit', 'Pool.Audit', 'SDN.Audit', 'Sys.Audit', 'VM.Audit', 'VM.GuestAgent.Audit'];
    const { h: exact } = await open(`access:
  acls: [{path: /vms, roles: [PVEAuditor], users: ${both.users}, tokens: ${both.tokens}, propagate: false}]`);
    expect(await privs(exact, '/vms')).toEqual(auditor);
    expect(await privs(exact, '/vms/205')).toEqual([]);
    expect(vmids((await exact.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([9000, 9001]);
    const { h } = await open(`access:
  acls:
    - {path: /vms, roles: [PVEAuditor], users: ${both.users}, tokens: ${both.tokens}, propagate: false}
    - {path: /, roles: [PVEAuditor], users: ${both.users}, tokens: ${both.tokens}}`);
    // a non-propagating entry above the path does not apply there, so / 's propagating one still does
    expect(await privs(h, '/vms/205')).toEqual(auditor);
    // the template's own ACL (PVETemplateUser) replaces / 's PVEAuditor there
    expect(await privs(h, '/vms/9000')).toEqual(['VM.Audit', 'VM.Clone']);
    expect(vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([205, 206, 9000, 9001]);
    // and so does the pool's own (PVERunners, no Pool.Audit): / 's Pool.Audit does not reach it, so it is not listed
    expect(((await h.raw('GET', '/cluster/resources')).json.data as Entry[]).filter((e) => e.type === 'pool')).toEqual([]);
    expect(await privs(h, '/pool')).toEqual(auditor);
  });

  it('NoAccess on a path wins over everything inherited and over pool grants; a NoAccess on the pool trumps the members\' own ACLs', async () => {
    const both = 'users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]';
    const { h } = await open(`access:
  pools: [{name: pve-runners, vms: [205]}, {name: locked, vms: [206]}]
  acls:
    - {path: /vms/9001, roles: [NoAccess], ${both}}
    - {path: /vms/206, roles: [PVEAuditor], ${both}}
    - {path: /pool/locked, roles: [NoAccess], ${both}}`);
    expect(await privs(h, '/vms/9001')).toEqual([]);
    expect(await privs(h, '/vms/206')).toEqual([]);
    // a foreign VM placed in our pool is reached by the pool's grants
    expect(await privs(h, '/vms/205')).toEqual(['VM.Allocate', 'VM.Audit', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Memory', 'VM.Config.Options', 'VM.PowerMgmt']);
    expect(vmids((await h.raw('GET', '/cluster/resources?type=vm')).json.data)).toEqual([205, 9000]);
    expect((await h.raw('POST', '/nodes/pve1/qemu/9001/clone', { body: 'newid=212&pool=pve-runners' })).reason).toBe('Permission check failed (/vms/9001, VM.Clone)');
  });

  it('a pool that does not exist is an error; a failed clone leaves no membership', async () => {
    const { h, clock } = await open(`faults: {endpoints: {"POST /nodes/{node}/qemu/{vmid}/clone": {task_failure_rate: 1.0}}}
access:
  acls: [{path: /pool, roles: [PVERunners], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]`);
    const missing = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=213&pool=nope' });
    expect([missing.status, missing.reason]).toEqual([403, "Permission check failed (pool 'nope' does not exist)"]);
    const c = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=213&pool=pve-runners' });
    expect(await taskEnd(h, clock, c.json.data as string, 60_000)).toMatch(/^clone failed: /);
    expect((await h.raw('GET', '/access/permissions')).json.data).not.toHaveProperty('/vms/213');
    expect((await h.raw('GET', '/cluster/nextid?vmid=213')).json.data).toBe('213');
  });

  it('a revoked grant is gone: storage, node figures and a disabled user', async () => {
    const { h } = await open(`access:
  revoke: [{path: /storage/ceph}, {path: /nodes}]`);
    expect(((await h.raw('GET', '/nodes/pve1/storage')).json.data as Entry[]).map((s) => s.storage).sort()).toEqual(['local', 'local-lvm']);
    const all = (await h.raw('GET', '/cluster/resources')).json.data as Entry[];
    expect(all.filter((e) => e.type === 'storage').some((e) => e.storage === 'ceph')).toBe(false);
    expect(all.filter((e) => e.type === 'node')).toEqual([
      { id: 'node/pve1', type: 'node', node: 'pve1', status: 'online', level: '' },
      { id: 'node/pve2', type: 'node', node: 'pve2', status: 'online', level: '' },
    ]);
    const clone = await h.raw('POST', '/nodes/pve1/qemu/9001/clone', { body: 'newid=214&pool=pve-runners' });
    expect([clone.status, clone.reason]).toEqual([403, 'Permission check failed (/storage/ceph, Datastore.AllocateSpace)']);
    const { h: off } = await open(`access:
  users: [{id: pve-runners@pve, enabled: false}]`);
    expect((await off.raw('GET', '/version')).status).toBe(401);
  });
});
