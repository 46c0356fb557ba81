/** The daemon's own Proxmox client listing a node's running clone tasks, against the simulated Proxmox. */
import { createProxmoxClient } from '../src/proxmox/client.js';
import { ManualClock } from './helpers/manual-clock.js';
import { BASIC_CLUSTER, startPve, type PveHarness } from './helpers/pve-sim.js';

describe('ProxmoxApi.activeTasks (GET /nodes/{node}/tasks?source=active&typefilter=…)', () => {
  let h: PveHarness;
  const clock = new ManualClock();
  beforeAll(async () => {
    h = await startPve(BASIC_CLUSTER, { clock });
  });
  afterAll(async () => h.close());

  it('reads each running task from its UPID (a token\'s whole id as its user; the id the VM cloned from); ended ones are gone', async () => {
    const api = createProxmoxClient({ url: h.info.url, tokenId: h.info.tokenId, tokenSecret: h.info.tokenSecret, verifySsl: false });
    const ours = await api.clone('pve1', 9000, { newid: 210, name: 'ci-210-ab12', description: 'x', full: false, pool: 'pve-runners' });
    const alices = h.sim.personClones({ user: 'alice@pam', source: 9001, newid: 207, name: 'alice-vm', durationMs: 5_000 });
    const tasks = await api.activeTasks('pve1', 'qmclone');
    expect(tasks.sort((a, b) => a.user.localeCompare(b.user))).toEqual([
      { upid: alices, node: 'pve1', type: 'qmclone', id: '9001', user: 'alice@pam', running: true },
      { upid: ours, node: 'pve1', type: 'qmclone', id: '9000', user: 'pve-runners@pve!daemon', running: true },
    ]);
    expect(await api.activeTasks('pve2', 'qmclone')).toEqual([]);
    expect(await api.activeTasks('pve1', 'qmstart')).toEqual([]);
    clock.advance(5_000);
    expect(await api.activeTasks('pve1', 'qmclone')).toEqual([]);
  });
});
