/**
 * The simulator records every request the official schemas refuse, so the e2e runs (test/helpers/e2e.ts)
 * can assert that the daemon's whole traffic stays valid — not only that it got answers.
 */
import { startPve, type PveHarness } from './helpers/pve-sim.js';

let h: PveHarness;
afterEach(async () => h?.close());

describe('simulated Proxmox: requests the schema refuses are recorded', () => {
  it('a bad boolean, an unknown parameter, an unserved method and a body on DELETE; a valid request and a refused-but-valid one are not', async () => {
    h = await startPve();
    expect((await h.raw('GET', '/cluster/resources?type=vm')).status).toBe(200);
    // valid by the schema, refused by PVE's semantics (nextid of a taken VMID): not a contract breach
    expect((await h.raw('GET', '/cluster/nextid?vmid=9000')).status).toBe(400);
    expect(h.recorder.invalidRequests).toEqual([]);
    expect((await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=300&full=true' })).status).toBe(400);
    expect((await h.raw('GET', '/cluster/resources?type=vm&colour=red')).status).toBe(400);
    expect((await h.raw('GET', '/nodes/pve1/lxc')).status).toBe(501);
    expect((await h.raw('DELETE', '/nodes/pve1/qemu/9000', { body: 'purge=1' })).status).toBe(501);
    expect(h.recorder.invalidRequests).toEqual([
      expect.stringMatching(/proxmox POST \/nodes\/\{node\}\/qemu\/\{vmid\}\/clone: .*full.*boolean/),
      expect.stringMatching(/proxmox GET \/cluster\/resources: .*colour/),
      expect.stringMatching(/proxmox GET \/nodes\/pve1\/lxc: no such method/),
      expect.stringMatching(/proxmox DELETE .*: a body on DELETE/),
    ]);
  });
});
