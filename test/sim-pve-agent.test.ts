/**
 * The simulated QEMU guest agent endpoints, through the daemon's own client and raw HTTP, against the
 * whole simulator (guests included): agent_available's three 500s, get-osinfo, file-write's
 * encode parameter (and the double-base64 trap), its content limit, and what reaches the guest's disk;
 * exec and exec-status (command as an array parameter, pids qemu-ga forgets, the privilege).
 */
import { createProxmoxClient } from '../src/proxmox/client.js';
import type { ProxmoxApi } from '../src/proxmox/api.js';
import { ProxmoxError } from '../src/proxmox/errors.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator, type SimEndpoints } from '../src/sim/simulator.js';

const scenario = (agent: string, access = '{guest_agent: true}') => `
seed: 3
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: no-agent-template, vmid: 9001, node: pve1, agent: false}
  access: ${access}
  timings: {clone: 100ms, start: 100ms, boot: 1h, agent: ${agent}}
github: {repos: [acme/app]}
workload: []
`;

const sims: Simulator[] = [];
afterEach(async () => Promise.all(sims.splice(0).map((s) => s.stop())));

async function setUp(agent: string, access?: string): Promise<{ sim: Simulator; px: ProxmoxApi; e: SimEndpoints }> {
  const sim = new Simulator(parseScenario(scenario(agent, access)), { speed: 50 });
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

/** The token also holds VM.GuestAgent.Unrestricted on the pool's VMs (exec's privilege on PVE 9). */
const UNRESTRICTED = `
    guest_agent: true
    roles: [{name: AgentExec, privs: [VM.GuestAgent.Unrestricted]}]
    acls: [{path: /pool/pve-runners, roles: [AgentExec], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]`;

/** PVE's answer as the API gives it: status, and `data` or the error's message. */
async function call(e: SimEndpoints, method: 'GET' | 'POST', path: string, params: Array<[string, string]>) {
  const form = new URLSearchParams(params).toString();
  const res = await fetch(`${e.proxmox.url}${path}${method === 'GET' ? `?${form}` : ''}`, {
    method,
    headers: { Authorization: `PVEAPIToken=${e.proxmox.tokenId}=${e.proxmox.tokenSecret}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: method === 'POST' ? form : undefined,
  });
  const body = (await res.json()) as { data: unknown; message?: string; errors?: unknown };
  return { status: res.status, data: body.data, message: body.message?.trimEnd(), errors: body.errors };
}

const command = (...argv: string[]): Array<[string, string]> => argv.map((a) => ['command', a]);

async function agentUp(px: ProxmoxApi, vmid: number): Promise<void> {
  // qemu-ga comes up at the start's end plus 0 s of scenario time: wait for the timer, not a duration
  while (!(await px.agentPing('pve1', vmid).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 5));
}

describe('simulated guest agent exec and exec-status', () => {
  const exec = (e: SimEndpoints, vmid: number, params: Array<[string, string]>) => call(e, 'POST', `/nodes/pve1/qemu/${vmid}/agent/exec`, params);
  const status = (e: SimEndpoints, vmid: number, pid: unknown) => call(e, 'GET', `/nodes/pve1/qemu/${vmid}/agent/exec-status`, [['pid', String(pid)]]);
  /** exec, then the status of a program that ends at once (no scenario time passes in it) */
  async function run(e: SimEndpoints, vmid: number, params: Array<[string, string]>) {
    const started = await exec(e, vmid, params);
    expect(started.status).toBe(200);
    return (await status(e, vmid, (started.data as { pid: number }).pid)).data;
  }

  it('runs what file-write put in the guest: cat, test -f, true/false, stdin from input-data; pids are forgotten once reported', async () => {
    const { px, e } = await setUp('0s', UNRESTRICTED);
    await runningClone(px, 9000, 211);
    await agentUp(px, 211);
    await px.agentFileWrite('pve1', 211, '/etc/pve-runners/runner.env', 'RUNNER_NAME="a"\nX=1\n');
    const started = await exec(e, 211, command('cat', '/etc/pve-runners/runner.env'));
    expect(started).toMatchObject({ status: 200, data: { pid: expect.any(Number) } });
    const pid = (started.data as { pid: number }).pid;
    // PVE decodes qemu-ga's base64 out-data and gives booleans as 1/0
    expect(await status(e, 211, pid)).toMatchObject({ status: 200, data: { exited: 1, exitcode: 0, 'out-data': 'RUNNER_NAME="a"\nX=1\n' } });
    // reported exited once: qemu-ga freed the record, so the pid is unknown now, as one never started
    expect(await status(e, 211, pid)).toMatchObject({ status: 500, message: "Agent error: Invalid parameter 'pid'" });
    expect(await status(e, 211, 4242)).toMatchObject({ status: 500, message: "Agent error: Invalid parameter 'pid'" });
    expect(await run(e, 211, command('test', '-f', '/etc/pve-runners/runner.env'))).toEqual({ exited: 1, exitcode: 0 });
    expect(await run(e, 211, command('/usr/bin/test', '-f', '/etc/pve-runners/other.env'))).toEqual({ exited: 1, exitcode: 1 });
    expect(await run(e, 211, command('true'))).toEqual({ exited: 1, exitcode: 0 });
    expect(await run(e, 211, command('false'))).toEqual({ exited: 1, exitcode: 1 });
    expect(await run(e, 211, command('cat', '/etc/nope'))).toEqual({ exited: 1, exitcode: 1, 'err-data': 'cat: /etc/nope: No such file or directory\n' });
    expect(await run(e, 211, [...command('cat'), ['input-data', 'from stdin\n']])).toEqual({ exited: 1, exitcode: 0, 'out-data': 'from stdin\n' });
    // a program still running: exited 0, and the pid stays known
    const sleeping = (await exec(e, 211, command('sleep', '3600'))).data as { pid: number };
    expect((await status(e, 211, sleeping.pid)).data).toEqual({ exited: 0 });
    expect((await status(e, 211, sleeping.pid)).data).toEqual({ exited: 0 });
  });

  it('refuses what qemu-ga cannot spawn, a one-string command, a missing command; needs VM.GuestAgent.Unrestricted', async () => {
    const { px, e } = await setUp('0s', UNRESTRICTED);
    await runningClone(px, 9000, 212);
    await agentUp(px, 212);
    // no shell: an unknown program fails guest-exec itself (glib's spawn error), not exit status 127
    expect(await exec(e, 212, command('nosuch'))).toMatchObject({ status: 500, message: "Agent error: Guest agent command failed, error was 'Failed to execute child process “nosuch” (No such file or directory)'" });
    // the PVE 6/7 habit of one string: on 8.4/9.1 it is one array item, the name of a program
    expect(await exec(e, 212, command('cat /etc/hostname'))).toMatchObject({ status: 500, message: "Agent error: Guest agent command failed, error was 'Failed to execute child process “cat /etc/hostname” (No such file or directory)'" });
    expect(await exec(e, 212, [])).toMatchObject({ status: 400, errors: { command: 'property is missing and it is not optional' } });
    expect(await exec(e, 212, [...command('cat'), ['input-data', 'x'.repeat(65537)]])).toMatchObject({ status: 400, errors: { 'input-data': 'value may only be 65536 characters long' } });

    // the grants create-proxmox-token.sh gives for delivery: guest-agent hold no VM.GuestAgent.Unrestricted
    const plain = await setUp('0s');
    await runningClone(plain.px, 9000, 213);
    await agentUp(plain.px, 213);
    expect(await exec(plain.e, 213, command('true'))).toMatchObject({ status: 403, message: 'Permission check failed (/vms/213, VM.GuestAgent.Unrestricted)' });
    expect(await status(plain.e, 213, 1200)).toMatchObject({ status: 403, message: 'Permission check failed (/vms/213, VM.GuestAgent.Unrestricted)' });
  });

  it("answers agent_available's 500s before anything runs", async () => {
    const { px, e } = await setUp('1h', UNRESTRICTED);
    await runningClone(px, 9001, 214);
    expect(await exec(e, 214, command('true'))).toMatchObject({ status: 500, message: 'No QEMU guest agent configured' });
    await runningClone(px, 9000, 215, false);
    expect(await exec(e, 215, command('true'))).toMatchObject({ status: 500, message: 'VM 215 is not running' });
    expect(await waitTask(px, await px.start('pve1', 215))).toBe('OK');
    // started, but qemu-ga answers only an hour later
    expect(await exec(e, 215, command('true'))).toMatchObject({ status: 500, message: 'QEMU guest agent is not running' });
    expect(await status(e, 215, 1200)).toMatchObject({ status: 500, message: 'QEMU guest agent is not running' });
  });
});
