/** The daemon's own Proxmox client asking whether a VMID is free, against the simulated Proxmox. */
import { createProxmoxClient } from '../src/proxmox/client.js';
import { BASIC, startPve, type PveHarness } from './helpers/pve-sim.js';

describe('ProxmoxApi.isVmidFree (GET /cluster/nextid?vmid=N)', () => {
  let h: PveHarness;
  beforeAll(async () => {
    h = await startPve(BASIC);
  });
  afterAll(async () => h.close());

  it('is true for a free VMID, false for a taken one (400 "VM N already exists"), and a failure otherwise', async () => {
    const api = createProxmoxClient({ url: h.info.url, tokenId: h.info.tokenId, tokenSecret: h.info.tokenSecret, verifySsl: false });
    expect(await api.isVmidFree(300)).toBe(true);
    expect(await api.isVmidFree(205)).toBe(false);
    expect(await api.isVmidFree(9000)).toBe(false);
    // not a VMID Proxmox accepts: a parameter error on another field, not "taken"
    await expect(api.isVmidFree(5)).rejects.toThrow(/400/);
    expect(h.recorder.requests.get('proxmox GET /cluster/nextid')?.count).toBe(4);
  });
});
