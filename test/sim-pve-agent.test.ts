/**
 * The simulated QEMU guest agent endpoints, through the daemon's own client and raw HTTP, against the
 * whole simulator (guests included): agent_available's three 500s, get-osinfo, file-write's
 * encode parameter (and the double-base64 trap), its content limit, and what reaches the guest's disk.
 */
import { createProxmoxClient } from '../src/proxmox/client.js';
import type { ProxmoxApi } from '../src/proxmox/api.js';
import { ProxmoxError } from '../src/proxmox/errors.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator, type SimEndpoints } from '../src/sim/simulator.js';

const scenario = (agent: string) => `
seed: 3
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: no-agent-template, vmid: 9001, node: pve1, agent: false}
  access: {guest_agent: true}
  timings: {clone: 100ms, start: 100ms, boot: 1h, agent: ${agent}}
github: {repos: [acme/app]}
workload: []
`;

const sims: Simulator[] = [];
afterEach(async () => Promise.all(sims.splice(0).map((s) => s.stop())));

async function setUp(agent: string): Promise<{ sim: Simulator; px: ProxmoxApi; e: SimEndpoints }> {
  const sim = new Simulator(parseScenario(scenario(agent)), { speed: 50 });
  sims.push(sim);
  const e = await sim.start();
  const px = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: false });
  return { sim, px, e };
}

async function waitTask(px: ProxmoxApi, upid: string): Promise<string | undefined> {
  for (;;) {
    const s = await px.taskStatus('pve1', upid);
    if (s.status === 'stopped') return s.exitstatus;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A clone of `template` in the pve-runners resource pool (where the default grants reach), started. */
async function runningClone(px: ProxmoxApi, template: number, vmid: number, start = true): Promise<void> {
  expect(await waitTask(px, await px.clone('pve1', template, { newid: vmid, name: `t-${vmid}`, description: 'test', full: false, pool: 'pve-runners' }))).toBe('OK');
  if (start) expect(await waitTask(px, await px.start('pve1', vmid))).toBe('OK');
}

const failure = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ProxmoxError);
  return { status: (e as ProxmoxError).status, message: (e as ProxmoxError).pveMessage };
};

function raw(e: SimEndpoints, path: string, body: Record<string, string>) {
  return fetch(`${e.proxmox.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `PVEAPIToken=${e.proxmox.tokenId}=${e.proxmox.tokenSecret}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
}

describe('simulated QEMU guest agent', () => {
  it('answers PVE\'s 500s: no agent configured, VM not running, agent not running yet', async () => {
    const { px } = await setUp('1h');
    await runningClone(px, 9001, 201);
    expect(await failure(px.agentPing('pve1', 201))).toEqual({ status: 500, message: 'No QEMU guest agent configured' });
    await runningClone(px, 9000, 202, false);
    expect(await failure(px.agentPing('pve1', 202))).toEqual({ status: 500, message: 'VM 202 is not running' });
    expect(await waitTask(px, await px.start('pve1', 202))).toBe('OK');
    // started, but qemu-ga answers only an hour later
    expect(await failure(px.agentPing('pve1', 202))).toEqual({ status: 500, message: 'QEMU guest agent is not running' });
    expect(await failure(px.agentFileWrite('pve1', 202, '/etc/pve-runners/runner.env', 'X="1"\n'))).toEqual({ status: 500, message: 'QEMU guest agent is not running' });
    expect(await failure(px.agentOsId('pve1', 202))).toEqual({ status: 500, message: 'QEMU guest agent is not running' });
  });

  it('once the agent is up: ping, get-osinfo, file-write as text (PVE encodes it), encode=0, the trap, the limit', async () => {
    const { sim, px, e } = await setUp('0s');
    await runningClone(px, 9000, 203);
    for (;;) {
      // qemu-ga comes up at the start's end plus 0 s of scenario time: wait for the timer, not a duration
      const ok = await px.agentPing('pve1', 203).then(() => true, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await px.agentOsId('pve1', 203)).toBe('ubuntu');
    const disk = () => sim.guests.inside(203)!.fs;
    await px.agentFileWrite('pve1', 203, '/etc/pve-runners/runner.env', 'RUNNER_NAME="a"\n');
    expect(disk().read('/etc/pve-runners/runner.env')).toMatchObject({ content: 'RUNNER_NAME="a"\n', mode: 0o600, owner: 'root' });
    // already base64, with encode=0: decoded by the guest
    const path = '/nodes/pve1/qemu/203/agent/file-write';
    expect((await raw(e, path, { file: '/etc/pve-runners/b64', content: Buffer.from('plain\n').toString('base64'), encode: '0' })).status).toBe(200);
    expect(disk().read('/etc/pve-runners/b64')?.content).toBe('plain\n');
    // already base64 and encode left at its default: the file holds the base64 text (double encoding)
    expect((await raw(e, path, { file: '/etc/pve-runners/twice', content: Buffer.from('plain\n').toString('base64') })).status).toBe(200);
    expect(disk().read('/etc/pve-runners/twice')?.content).toBe('cGxhaW4K');
    // the schema's maxLength (61440) is a 400 parameter error; nothing is written
    const tooLong = await raw(e, path, { file: '/etc/pve-runners/big', content: 'x'.repeat(61441) });
    expect(tooLong.status).toBe(400);
    expect(disk().read('/etc/pve-runners/big')).toBeUndefined();
    expect((await raw(e, path, { file: '/etc/pve-runners/max', content: 'x'.repeat(61440) })).status).toBe(200);
    // a directory that does not exist: qemu-ga's open fails
    expect(await failure(px.agentFileWrite('pve1', 203, '/nowhere/x', 'y'))).toEqual({ status: 500, message: "Agent error: failed to open file '/nowhere/x' (mode: 'wb'): No such file or directory" });
  });
});
