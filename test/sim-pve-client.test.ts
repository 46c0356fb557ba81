/**
 * The real proxmox-api client against the simulated Proxmox: the daemon's whole VM lifecycle,
 * and the error paths as proxmox-api surfaces them.
 */
import { writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BASIC, startPve, type PveHarness } from './helpers/pve-sim.js';

describe('PveSim through proxmox-api', () => {
  let h: PveHarness;
  beforeEach(async () => {
    // Clones take 20 scenario-s (0.4 s real) so the locked state is surely observed.
    h = await startPve(BASIC.replace('clone: 1s', 'clone: 20s'));
  });
  afterEach(async () => h.close());

  it('clone → task → config → start → stop → destroy', async () => {
    const { px } = h;
    const upid = await px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 201, name: 'ubuntu-201-ab12', full: false });
    expect(upid).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:pve-runners@pve!daemon:$/);
    // The VM exists at once, locked until the clone task ends.
    const during = await px.nodes.$('pve1').qemu.$(201).config.$get();
    expect(during.lock).toBe('clone');
    expect(await h.waitTask('pve1', upid)).toBe('OK');
    const cfg = await px.nodes.$('pve1').qemu.$(201).config.$get();
    expect(cfg.lock).toBeUndefined();
    expect(cfg.name).toBe('ubuntu-201-ab12');
    expect(cfg.scsi0).toMatch(/^local-lvm:base-9000-disk-0\/vm-201-disk-0/);

    writeFileSync(join(h.info.snippetsDirs.pve1!, 'runner-201.yaml'), '#cloud-config\nruncmd: [echo hi]\n');
    const cfgUpid = await px.nodes.$('pve1').qemu.$(201).config.$post({ cicustom: 'user=local:snippets/runner-201.yaml', tags: 'pve-runners,pvr-pool.ubuntu pvr-pool.ubuntu', description: 'created-at=2026-01-01' });
    expect(await h.waitTask('pve1', cfgUpid as string)).toBe('OK');
    const after = await px.nodes.$('pve1').qemu.$(201).config.$get();
    expect(after.tags).toBe('pve-runners;pvr-pool.ubuntu');
    expect(after.cicustom).toBe('user=local:snippets/runner-201.yaml');
    expect(h.recorder.peakByPool.get('ubuntu')).toBe(1);

    const startUpid = await px.nodes.$('pve1').qemu.$(201).status.start.$post();
    expect(await h.waitTask('pve1', startUpid)).toBe('OK');
    // The snippet was read at start: deleting it now changes nothing for the guest.
    unlinkSync(join(h.info.snippetsDirs.pve1!, 'runner-201.yaml'));
    expect(h.guests.booted).toEqual([{ vmid: 201, node: 'pve1', name: 'ubuntu-201-ab12', userData: '#cloud-config\nruncmd: [echo hi]\n', image: 9000 }]);
    expect((await px.nodes.$('pve1').qemu.$(201).status.current.$get()).status).toBe('running');

    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(201).status.stop.$post())).toBe('OK');
    expect(h.guests.stoppedIds).toEqual([201]);
    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(201).$delete({ purge: true, 'destroy-unreferenced-disks': true }))).toBe('OK');
    const vms = await px.cluster.resources.$get({ type: 'vm' });
    expect(vms.map((v) => v.vmid).sort()).toEqual([205, 9000, 9001]);
    expect(h.sim.leaks()).toEqual({ vms: [], snippets: [] });
    expect(h.recorder.vmsCreated).toBe(1);
    expect(h.recorder.vmsDestroyed).toBe(1);
    expect(h.recorder.foreignTouches).toEqual([]);
    expect(h.recorder.tasks).toBe(5);
    expect(h.recorder.requests.get('proxmox POST /nodes/{node}/qemu/{vmid}/clone')?.count).toBe(1);
  });

  it('surfaces sync errors as proxmox-api errors with PVE status line and body', async () => {
    const { px } = h;
    await expect(px.nodes.$('pve2').qemu.$(9000).config.$get()).rejects.toThrow(
      /return Error 500 Configuration file 'nodes\/pve2\/qemu-server\/9000\.conf' does not exist: \{"data":null,"message":"Configuration file 'nodes\/pve2\/qemu-server\/9000\.conf' does not exist\\n"\}$/,
    );
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 205 })).rejects.toThrow(/return Error 500 unable to create VM 205: config file already exists/);
    await expect(px.cluster.nextid.$get({ vmid: 205 })).rejects.toThrow(/return Error 400 Parameter verification failed\.: \{"data":null,"errors":\{"vmid":"VM 205 already exists"\}\}/);
    await expect(px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 5 })).rejects.toThrow(/"newid":"invalid format - value does not look like a valid VM ID\\n"/);
    expect(await px.cluster.nextid.$get()).toBe('100');
    expect(await px.cluster.nextid.$get({ vmid: 300 })).toBe('300');
  });

  it('wrong token → 401 Authentication failed! (proxmox-api sees no JSON body)', async () => {
    const proxmoxApi = (await import('proxmox-api')).default;
    const url = new URL(h.info.url);
    const bad = proxmoxApi({ host: url.hostname, port: Number(url.port), schema: 'http', tokenID: h.info.tokenId, tokenSecret: '00000000-0000-0000-0000-000000000000' });
    await expect(bad.version.$get()).rejects.toThrow(/return Error 401 Authentication failed!: \{"data":null,"errors":""\}/);
    expect(existsSync(h.info.snippetsDirs.pve1!)).toBe(true);
  });
});
