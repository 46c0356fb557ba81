/**
 * Proxmox shapes that are less kind than a quick simulator would be, on a clock the test moves:
 * in-progress clones named `VM <vmid>` once pvestatd has seen them, full clones that take minutes,
 * tasks that end `WARNINGS: N`, and who answers what while pveproxy or pvedaemon restarts — each
 * through the daemon's own Proxmox client where the daemon has to cope with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import proxmoxApi, { type Proxmox } from 'proxmox-api';
import { systemClock } from '../src/clock.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { ProxmoxError } from '../src/proxmox/errors.js';
import { awaitTask } from '../src/proxmox/tasks.js';
import type { ProxmoxApi } from '../src/proxmox/api.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';
import { PveSim, type PveEndpointInfo } from '../src/sim/pve/index.js';
import { FakeGuests, pveScenario, WIDE_ACCESS } from './helpers/pve-sim.js';
import { ManualClock } from './helpers/manual-clock.js';

const NODES = `nodes: [{name: pve1, memory_mb: 8192}, {name: pve2, memory_mb: 8192}]
templates:
  - {name: ubuntu-tpl, vmid: 9000, node: pve1, memory: 2048}
  - {name: shared-tpl, vmid: 9001, node: pve1, memory: 1024, storage: ceph, shared_storage: true}
foreign_vms: [{vmid: 205, node: pve1, name: keep-me, status: stopped}]`;

interface Harness {
  clock: ManualClock;
  px: Proxmox.Api;
  api: ProxmoxApi;
  info: PveEndpointInfo;
  recorder: Recorder;
  sim: PveSim;
  raw(method: string, path: string): Promise<{ status: number; reason: string; contentType: string | null; text: string }>;
  task(node: string, upid: string): Promise<{ exitstatus?: string; log: string[] }>;
  close(): Promise<void>;
}

async function start(extra: string): Promise<Harness> {
  // these tests are about VM behaviour, not access: the token may do everything (sim-pve-access covers the grants)
  const scenario = parseScenario(pveScenario(`${NODES}\n${WIDE_ACCESS}\n${extra}`));
  const clock = new ManualClock();
  const recorder = new Recorder(() => clock.nowMs(), undefined, true);
  const root = mkdtempSync(join(tmpdir(), 'pve-errs-'));
  const sim = new PveSim({ scenario, clock, rng: new Rng(scenario.seed), recorder }, new FakeGuests(), root);
  const info = await sim.start();
  const url = new URL(info.url);
  const px = proxmoxApi({ host: url.hostname, port: Number(url.port), schema: 'http', tokenID: info.tokenId, tokenSecret: info.tokenSecret });
  const api = createProxmoxClient({ url: info.url, tokenId: info.tokenId, tokenSecret: info.tokenSecret, verifySsl: true, queryTimeoutMs: 2_000 });
  return {
    clock, px, api, info, recorder, sim,
    async raw(method, path) {
      const res = await fetch(`${info.url}${path}`, { method, headers: { Authorization: `PVEAPIToken=${info.tokenId}=${info.tokenSecret}` } });
      return { status: res.status, reason: res.statusText, contentType: res.headers.get('content-type'), text: await res.text() };
    },
    async task(node, upid) {
      const st = await px.nodes.$(node).tasks.$(upid).status.$get();
      const log = await px.nodes.$(node).tasks.$(upid).log.$get({ limit: 500 });
      return { exitstatus: st.exitstatus, log: log.map((l) => l.t) };
    },
    async close() {
      await sim.stop();
      clock.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const vmEntry = async (h: Harness, vmid: number) => (await h.px.cluster.resources.$get({ type: 'vm' })).find((v) => v.vmid === vmid) as Record<string, unknown> | undefined;

describe('a clone in progress, as qemu-server and pvestatd show it', () => {
  it('is unnamed and unknown until pvestatd sees it, then `VM <vmid>`; the real name only after the next refresh', async () => {
    const h = await start('timings: {clone: 65s, stats: 10s}');
    try {
      await vmEntry(h, 9000); // pvestatd's snapshot of t=0, before the clone exists
      const upid = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 300, name: 'ubuntu-2404-300' });
      // /cluster/resources: known to the cluster's VM list, not yet to pvestatd
      expect(await vmEntry(h, 300)).toEqual({ id: 'qemu/300', type: 'qemu', node: 'pve1', vmid: 300, status: 'unknown', lock: 'clone' });
      // status/current and the node's VM list run qemu-server's vmstatus on the placeholder config now
      const current = await h.px.nodes.$('pve1').qemu.$(300).status.current.$get();
      expect(current).toMatchObject({ vmid: 300, name: 'VM 300', status: 'stopped', lock: 'clone', cpus: 1, maxmem: 512 * 1024 ** 2, maxdisk: 0 });
      expect((await h.px.nodes.$('pve1').qemu.$get()).find((v) => v.vmid === 300)).toMatchObject({ name: 'VM 300', status: 'stopped', lock: 'clone' });

      h.clock.advance(10_000); // pvestatd's next round: the placeholder, by qemu-server's default name
      expect(await vmEntry(h, 300)).toMatchObject({ name: 'VM 300', status: 'stopped', lock: 'clone', maxcpu: 1, maxmem: 512 * 1024 ** 2, maxdisk: 0 });
      // The daemon's client reads that as what it is, no name (a placeholder the planner may count as ours)
      expect((await h.api.listVms()).find((v) => v.vmid === 300)).toMatchObject({ name: '', lock: 'clone', tags: [] });

      h.clock.advance(50_000); // t=60: a refresh while still cloning
      expect(await vmEntry(h, 300)).toMatchObject({ name: 'VM 300', lock: 'clone' });
      h.clock.advance(5_000); // t=65: the clone writes the real config
      expect((await h.task('pve1', upid)).exitstatus).toBe('OK');
      expect((await h.px.nodes.$('pve1').qemu.$(300).config.$get()).name).toBe('ubuntu-2404-300');
      // lock and tags are read live, the name is pvestatd's until its next round
      const stale = await vmEntry(h, 300);
      expect(stale).toMatchObject({ name: 'VM 300', status: 'stopped' });
      expect(stale).not.toHaveProperty('lock');
      h.clock.advance(5_000);
      expect(await vmEntry(h, 300)).toMatchObject({ name: 'ubuntu-2404-300', maxmem: 2048 * 1024 ** 2, maxdisk: 20 * 1024 ** 3 });
      expect((await h.api.listVms()).find((v) => v.vmid === 300)?.name).toBe('ubuntu-2404-300');
    } finally {
      await h.close();
    }
  });
});

describe('full clones', () => {
  it('take full_clone (default 3 minutes) where a linked clone takes clone', async () => {
    const h = await start('timings: {clone: 2s}');
    try {
      // one after the other: clones on one storage share its lock and its bandwidth (sim-pve-storage-lock)
      const linked = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 310 });
      h.clock.advance(2_000);
      expect((await h.task('pve1', linked)).exitstatus).toBe('OK');
      const full = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 311, full: true });
      h.clock.advance(2_000);
      expect((await h.task('pve1', full)).exitstatus).toBeUndefined();
      expect((await h.px.nodes.$('pve1').qemu.$(311).config.$get()).lock).toBe('clone');
      h.clock.advance(180_000 - 2_000 - 1);
      expect((await h.task('pve1', full)).exitstatus).toBeUndefined();
      h.clock.advance(1);
      expect((await h.task('pve1', full)).exitstatus).toBe('OK');
      expect((await h.px.nodes.$('pve1').qemu.$(311).config.$get()).scsi0).toMatch(/^local-lvm:vm-311-disk-0,/);
      const fromVm = await h.px.nodes.$('pve1').qemu.$(205).clone.$post({ newid: 312 }); // not a template: always full
      h.clock.advance(180_000 - 1);
      expect((await h.task('pve1', fromVm)).exitstatus).toBeUndefined();
      h.clock.advance(1);
      expect((await h.task('pve1', fromVm)).exitstatus).toBe('OK');
    } finally {
      await h.close();
    }
  });

  it('a scenario sets its own full-clone time', async () => {
    const h = await start('timings: {clone: 2s, full_clone: 40s}');
    try {
      const full = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 320, full: true });
      h.clock.advance(39_999);
      expect((await h.task('pve1', full)).exitstatus).toBeUndefined();
      h.clock.advance(1);
      expect((await h.task('pve1', full)).exitstatus).toBe('OK');
    } finally {
      await h.close();
    }
  });
});

describe('tasks that end WARNINGS: N', () => {
  it('clone to another node, start and destroy log a WARN line, end WARNINGS: 1, and did their work', async () => {
    const h = await start('timings: {clone: 2s, start: 1s, destroy: 1s}\nfaults: {task_warning_rate: 1.0}');
    try {
      // A clone on the same node deactivates nothing: no warning there.
      // (one after the other: both wait on the shared storage's one lock)
      const local = await h.px.nodes.$('pve1').qemu.$(9001).clone.$post({ newid: 330 });
      h.clock.advance(2_000);
      expect((await h.task('pve1', local)).exitstatus).toBe('OK');
      const remote = await h.px.nodes.$('pve1').qemu.$(9001).clone.$post({ newid: 331, target: 'pve2' });
      h.clock.advance(2_000);
      const cloned = await h.task('pve1', remote);
      expect(cloned.exitstatus).toBe('WARNINGS: 1');
      expect(cloned.log.slice(-3)).toEqual([
        "can't deactivate LV '/dev/ceph/base-9001-disk-0':   Logical volume ceph/base-9001-disk-0 in use.",
        'WARN: volume deactivation failed: ceph:base-9001-disk-0',
        'TASK WARNINGS: 1',
      ]);
      expect((await h.px.nodes.$('pve2').qemu.$(331).config.$get()).lock).toBeUndefined();

      const started = await h.px.nodes.$('pve2').qemu.$(331).status.start.$post();
      h.clock.advance(1_000);
      const s = await h.task('pve2', started);
      expect(s.exitstatus).toBe('WARNINGS: 1');
      expect(s.log).toContain("WARN: could not set polling interval for ballooning - VM 331 qmp command 'qom-set' failed - got timeout");
      expect((await h.px.nodes.$('pve2').qemu.$(331).status.current.$get()).status).toBe('running');

      const destroyed = await h.px.nodes.$('pve1').qemu.$(330).$delete();
      h.clock.advance(1_000);
      const d = await h.task('pve1', destroyed);
      expect(d.exitstatus).toBe('WARNINGS: 1');
      expect(d.log.at(-2)).toBe("WARN: Could not remove disk 'ceph:base-9001-disk-0/vm-330-disk-0', check manually: lvremove 'ceph/vm-330-disk-0' error:   Logical volume ceph/vm-330-disk-0 in use.");
      await expect(h.px.nodes.$('pve1').qemu.$(330).config.$get()).rejects.toThrow(/does not exist/);

      // The daemon's own client and task waiter take each of them for the success it is.
      for (const [node, upid] of [['pve1', remote], ['pve2', started], ['pve1', destroyed]] as const) {
        await expect(awaitTask(h.api, systemClock, upid, 'op', { timeoutMs: 1_000, pollMs: 10, maxPollMs: 10 })).resolves.toBeUndefined();
        expect((await h.api.taskStatus(node, upid)).exitstatus).toBe('WARNINGS: 1');
      }
      expect(h.recorder.taskFailures).toBe(0);
    } finally {
      await h.close();
    }
  });
});

describe('while pveproxy or pvedaemon restarts (http_error_rate)', () => {
  const fault = (endpoint: string) => `faults: {endpoints: {"${endpoint}": {http_error_rate: 1.0}}}`;

  it('a protected method gets pveproxy\'s 595 Connection refused from its proxy to pvedaemon, with no body; nothing is done', async () => {
    const h = await start(fault('POST /nodes/{node}/qemu/{vmid}/clone'));
    try {
      const res = await fetch(`${h.info.url}/nodes/pve1/qemu/9000/clone`, {
        method: 'POST',
        headers: { Authorization: `PVEAPIToken=${h.info.tokenId}=${h.info.tokenSecret}`, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'newid=340',
      });
      expect([res.status, res.statusText, res.headers.get('content-type'), await res.text()]).toEqual([595, 'Connection refused', null, '']);
      // the daemon's client: a transient error, not a lock, not a collision
      const err = await h.api.clone('pve1', 9000, { newid: 341, name: 'ubuntu-2404-341', description: 'x', full: false }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ProxmoxError);
      expect(err).toMatchObject({ status: 595, pveMessage: 'Connection refused', isTransient: true, isLockContention: false });
      expect(h.sim.leaks().vms).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('an unprotected method pveproxy serves itself gets no HTTP answer at all; the client tries once more, then reports a network error', async () => {
    const h = await start(fault('GET /cluster/resources'));
    try {
      await expect(fetch(`${h.info.url}/cluster/resources`, { headers: { Authorization: `PVEAPIToken=${h.info.tokenId}=${h.info.tokenSecret}` } })).rejects.toThrow();
      const err = await h.api.listVms().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ProxmoxError);
      expect(err).toMatchObject({ status: 0, isTransient: true });
      expect(h.recorder.requests.get('proxmox GET /cluster/resources')).toMatchObject({ count: 3, errors: 3 });
      expect(await h.api.version()).toMatchObject({ version: '9.1.3' }); // the rest of the API answers
    } finally {
      await h.close();
    }
  });

  it('an unprotected proxyto-node method: closed connection on the node the client talks to, 595 from another node', async () => {
    const h = await start(fault('GET /nodes/{node}/qemu/{vmid}/config'));
    try {
      await expect(h.raw('GET', '/nodes/pve1/qemu/9000/config')).rejects.toThrow();
      const other = await h.raw('GET', '/nodes/pve1/qemu/9001/config').catch(() => undefined);
      expect(other).toBeUndefined();
      const remote = await h.px.nodes.$('pve1').qemu.$(9001).clone.$post({ newid: 350, target: 'pve2' });
      h.clock.advance(3_000);
      expect((await h.task('pve1', remote)).exitstatus).toBe('OK');
      expect(await h.raw('GET', '/nodes/pve2/qemu/350/config')).toEqual({ status: 595, reason: 'Connection refused', contentType: null, text: '' });
      await expect(h.api.getConfig('pve2', 350)).rejects.toMatchObject({ status: 595, isTransient: true });
    } finally {
      await h.close();
    }
  });
});
