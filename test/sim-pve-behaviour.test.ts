/**
 * Proxmox behaviours the daemon must cope with: clone locks, running-destroy, clone into an
 * existing VMID, snippets missing on the starting node, node memory exhaustion, touches of
 * foreign VMs, and injected faults (at rate 1.0, so deterministic).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASIC, startPve, type PveHarness } from './helpers/pve-sim.js';

async function cloneAndWait(h: PveHarness, newid: number, opts: Record<string, string | number | boolean> = {}, src = 9000): Promise<void> {
  const upid = await h.px.nodes.$('pve1').qemu.$(src).clone.$post({ newid, ...opts });
  expect(await h.waitTask('pve1', upid)).toBe('OK');
}

describe('PveSim VM behaviour', () => {
  let h: PveHarness;
  beforeEach(async () => {
    h = await startPve();
  });
  afterEach(async () => h.close());

  it('a cloning VM is locked: config changes fail at once, start and destroy tasks fail', async () => {
    // A long clone (1.2 s real at speed 50) so the requests below surely land while it runs.
    await h.close();
    h = await startPve(BASIC.replace('clone: 1s', 'clone: 60s'));
    const upid = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 210 });
    const put = await h.raw('PUT', '/nodes/pve1/qemu/210/config', { body: 'name=x' });
    expect([put.status, put.reason]).toEqual([500, 'VM is locked (clone)']);
    const post = await h.raw('POST', '/nodes/pve1/qemu/210/config', { body: 'name=x' });
    expect([post.status, post.reason]).toEqual([500, 'VM is locked (clone)']);
    const start = await h.px.nodes.$('pve1').qemu.$(210).status.start.$post();
    const destroy = await h.px.nodes.$('pve1').qemu.$(210).$delete();
    expect(await h.waitTask('pve1', start)).toBe('VM is locked (clone)');
    expect(await h.waitTask('pve1', destroy)).toBe('VM is locked (clone)');
    expect(await h.waitTask('pve1', upid)).toBe('OK');
    const cfg = await h.px.nodes.$('pve1').qemu.$(210).config.$get();
    expect(cfg.name).toBe('Copy-of-VM-ubuntu-tpl');
    const tpl = await h.px.nodes.$('pve1').qemu.$(9000).config.$get();
    expect(cfg.smbios1).not.toBe(tpl.smbios1);
    expect(cfg.net0).not.toBe(tpl.net0);
    expect(h.recorder.taskFailures).toBe(2);
  });

  it('clone checks: existing VMID, local storage with target, storage/format on linked clones', async () => {
    const { px } = h;
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 9001 })).rejects.toThrow(/Error 500 unable to create VM 9001: config file already exists/);
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 300, target: 'pve2' })).rejects.toThrow(/Error 500 can't clone VM to node 'pve2' \(VM uses local storage\)/);
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 300, storage: 'local-lvm' })).rejects.toThrow(/parameter 'storage' not allowed for linked clones/);
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 300, format: 'qcow2' })).rejects.toThrow(/parameter 'format' not allowed for linked clones/);
    // A full clone may choose its storage; a shared template may go to another node.
    await cloneAndWait(h, 301, { full: true, storage: 'local-lvm' });
    expect((await px.nodes.$('pve1').qemu.$(301).config.$get()).scsi0).toMatch(/^local-lvm:vm-301-disk-0,/);
    await cloneAndWait(h, 302, { target: 'pve2' }, 9001);
    expect((await px.cluster.resources.$get({ type: 'vm' })).find((v) => v.vmid === 302)?.node).toBe('pve2');
    // A VMID taken on another node only fails inside the worker.
    const other = await px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 302 });
    expect(await h.waitTask('pve1', other)).toBe("close (rename) atomic file '/etc/pve/nodes/pve1/qemu-server/302.conf' failed: File exists");
  });

  it('a running VM cannot be destroyed; a template cannot be started; digest guards config', async () => {
    await cloneAndWait(h, 220);
    expect(await h.waitTask('pve1', await h.px.nodes.$('pve1').qemu.$(220).status.start.$post())).toBe('OK');
    const del = await h.raw('DELETE', '/nodes/pve1/qemu/220');
    expect([del.status, del.reason, del.json]).toEqual([500, 'VM 220 is running - destroy failed', { data: null, message: 'VM 220 is running - destroy failed\n' }]);
    expect(await h.waitTask('pve1', await h.px.nodes.$('pve1').qemu.$(9000).status.start.$post())).toBe("you can't start a vm if it's a template");
    const { digest } = await h.px.nodes.$('pve1').qemu.$(220).config.$get();
    await h.px.nodes.$('pve1').qemu.$(220).config.$put({ description: 'a', digest });
    await expect(h.px.nodes.$('pve1').qemu.$(220).config.$put({ description: 'b', digest })).rejects.toThrow(/Error 500 checksum mismatch \(file change by other user\?\)/);
    expect(await h.waitTask('pve1', await h.px.nodes.$('pve1').qemu.$(220).status.start.$post())).toBe('VM 220 already running');
  });

  it('start fails when the snippet is missing on the starting node (per-node snippets)', async () => {
    await cloneAndWait(h, 230, { target: 'pve2' }, 9001);
    writeFileSync(join(h.info.snippetsDirs.pve1!, 'u.yaml'), '#cloud-config\n');
    await h.px.nodes.$('pve2').qemu.$(230).config.$put({ cicustom: 'user=local:snippets/u.yaml' });
    const upid = await h.px.nodes.$('pve2').qemu.$(230).status.start.$post();
    expect(await h.waitTask('pve2', upid)).toBe("can't open '/var/lib/vz/snippets/u.yaml' - No such file or directory");
    expect(h.guests.booted).toEqual([]);
    writeFileSync(join(h.info.snippetsDirs.pve2!, 'u.yaml'), '#cloud-config\nhostname: x\n');
    expect(await h.waitTask('pve2', await h.px.nodes.$('pve2').qemu.$(230).status.start.$post())).toBe('OK');
    expect(h.guests.booted[0]).toMatchObject({ vmid: 230, node: 'pve2', userData: '#cloud-config\nhostname: x\n' });
    const log = await h.px.nodes.$('pve2').tasks.$(upid).log.$get();
    expect(log.at(-1)?.t).toBe("TASK ERROR: can't open '/var/lib/vz/snippets/u.yaml' - No such file or directory");
  });

  it('node memory: running VMs hold their memory; a start that does not fit fails', async () => {
    // pve2 has 4096 MiB; each clone of shared-tpl asks 1024, raised to 3500 for the first.
    await cloneAndWait(h, 240, { target: 'pve2' }, 9001);
    await cloneAndWait(h, 241, { target: 'pve2' }, 9001);
    await h.px.nodes.$('pve2').qemu.$(240).config.$put({ memory: '3500' });
    expect(await h.waitTask('pve2', await h.px.nodes.$('pve2').qemu.$(240).status.start.$post())).toBe('OK');
    const nodes = await h.px.cluster.resources.$get({ type: 'node' });
    expect(nodes.find((n) => n.node === 'pve2')).toMatchObject({ mem: 3500 * 1024 ** 2, maxmem: 4096 * 1024 ** 2 });
    const fail = await h.px.nodes.$('pve2').qemu.$(241).status.start.$post();
    expect(await h.waitTask('pve2', fail)).toBe('start failed: QEMU exited with code 1');
    expect((await h.px.nodes.$('pve2').tasks.$(fail).log.$get()).map((l) => l.t)).toContain("kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory");
    // The guest powers itself off: memory is free again and the second VM fits.
    h.sim.powerOff(240);
    expect(h.guests.stoppedIds).toEqual([240]);
    expect((await h.px.nodes.$('pve2').qemu.$(240).status.current.$get()).status).toBe('stopped');
    expect(await h.waitTask('pve2', await h.px.nodes.$('pve2').qemu.$(241).status.start.$post())).toBe('OK');
  });

  it('records every mutating touch of a foreign VM or template, and still answers it', async () => {
    expect(await h.waitTask('pve1', await h.px.nodes.$('pve1').qemu.$(205).status.stop.$post())).toBe('OK');
    await h.px.nodes.$('pve1').qemu.$(9000).config.$put({ description: 'oops' });
    await cloneAndWait(h, 250); // using the template as clone source is not a touch
    expect(h.recorder.foreignTouches).toHaveLength(2);
    expect(h.recorder.foreignTouches[0]).toMatch(/POST \/nodes\/pve1\/qemu\/205\/status\/stop on foreign VM 205$/);
    expect(h.recorder.foreignTouches[1]).toMatch(/PUT \/nodes\/pve1\/qemu\/9000\/config on template 9000$/);
    expect(h.sim.leaks().vms).toEqual([250]);
  });
});

describe('PveSim offline node', () => {
  it('requests proxied to an offline node fail with 595; the node shows offline', async () => {
    const h = await startPve(BASIC.replace('{name: pve2, memory_mb: 4096}', '{name: pve2, memory_mb: 4096, status: offline}'));
    try {
      await expect(h.px.nodes.$('pve2').qemu.$get()).rejects.toThrow(/connection failed with 595 No route to host/);
      const nodes = await h.px.nodes.$get();
      expect(nodes.find((n) => n.node === 'pve2')?.status).toBe('offline');
    } finally {
      await h.close();
    }
  });
});

describe('PveSim shared snippet storage', () => {
  it('one directory serves every node', async () => {
    const h = await startPve(`${BASIC}\nsnippets: shared\nstorage: cephfs`);
    try {
      expect(h.info.snippetsDirs.pve1).toBe(h.info.snippetsDirs.pve2);
      await cloneAndWait(h, 260, { target: 'pve2' }, 9001);
      writeFileSync(join(h.info.snippetsDirs.pve1!, 'u.yaml'), 'x');
      await h.px.nodes.$('pve2').qemu.$(260).config.$put({ cicustom: 'user=cephfs:snippets/u.yaml' });
      expect(await h.waitTask('pve2', await h.px.nodes.$('pve2').qemu.$(260).status.start.$post())).toBe('OK');
      const st = await h.px.nodes.$('pve2').storage.$get({ content: 'snippets' });
      expect(st).toEqual([expect.objectContaining({ storage: 'cephfs', shared: 1 })]);
      expect(h.sim.leaks().snippets).toEqual([join(h.info.snippetsDirs.pve1!, 'u.yaml')]);
    } finally {
      await h.close();
    }
  });
});

describe('PveSim faults at rate 1.0', () => {
  it('http_error_rate: a transient failure before anything happens (595 from pveproxy for a protected method)', async () => {
    const h = await startPve(`${BASIC}\nfaults: {http_error_rate: 1.0}`);
    try {
      const r = await h.raw('GET', '/nodes/pve1/qemu');
      expect([r.status, r.reason, r.contentType, r.text]).toEqual([595, 'Connection refused', null, '']);
      expect(h.recorder.requests.get('proxmox GET /nodes/{node}/qemu')).toMatchObject({ count: 1, errors: 1 });
    } finally {
      await h.close();
    }
  });

  it('per-endpoint lock timeout on clone only', async () => {
    const h = await startPve(`${BASIC}\nfaults: {endpoints: {"POST /nodes/{node}/qemu/{vmid}/clone": {lock_timeout_rate: 1.0}}}`);
    try {
      await expect(h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 270 })).rejects.toThrow(/Error 500 can't lock file '\/var\/lock\/qemu-server\/lock-9000\.conf' - got timeout/);
      expect(h.sim.leaks().vms).toEqual([]);
      await h.px.nodes.$('pve1').qemu.$(205).config.$put({ description: 'fine' }); // other endpoints unaffected
    } finally {
      await h.close();
    }
  });

  it('task_failure_rate: a failed clone removes the half-made VM', async () => {
    const h = await startPve(`${BASIC.replace('clone: 1s', 'clone: 20s')}\nfaults: {task_failure_rate: 1.0}`);
    try {
      const upid = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 280 });
      expect((await h.px.nodes.$('pve1').qemu.$(280).config.$get()).lock).toBe('clone');
      expect(await h.waitTask('pve1', upid)).toBe("clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
      await expect(h.px.nodes.$('pve1').qemu.$(280).config.$get()).rejects.toThrow(/Configuration file 'nodes\/pve1\/qemu-server\/280\.conf' does not exist/);
      expect([h.recorder.vmsCreated, h.recorder.vmsDestroyed, h.recorder.taskFailures]).toEqual([1, 1, 1]);
      expect(h.sim.leaks().vms).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('the same seed gives the same token secret and UPIDs', async () => {
    const run = async () => {
      const h = await startPve(BASIC, { seed: 99 });
      try {
        const upid = await h.px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 290 });
        return [h.info.tokenSecret, upid.split(':').slice(0, 4).join(':')];
      } finally {
        await h.close();
      }
    };
    const a = await run();
    expect(a[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await run()).toEqual(a);
  });
});
