import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUserData } from '../src/cloudinit/render.js';
import { systemClock } from '../src/clock.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { memoryLogger } from '../src/log.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { awaitTask } from '../src/proxmox/tasks.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { ROOT } from './helpers/e2e.js';

const SPEED = 50;
const scenario = parseScenario(`
seed: 5
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
  timings: {clone: 1s, config: 100ms, start: 500ms, boot: 10s, stop: 500ms, shutdown: 1s, destroy: 500ms}
github:
  repos: [acme/app]
  timings: {runner_connect: 1s}
  lag: {jobs: 0s, runners: 0s, runner_deletion: 0s}  # these tests read right after what they cause
workload:
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, linux], duration: 5s}
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, gpu], duration: 5s}
`);

describe('simulated guests', () => {
  let sim: Simulator;
  beforeEach(async () => {
    sim = new Simulator(scenario, { speed: SPEED, keepEvents: true });
    await sim.start();
  });
  afterEach(() => sim.stop());

  async function boot(vmid: number, userData: (jit: string) => string) {
    const e = sim.endpoints;
    const { log } = memoryLogger();
    const gh = new OctokitGithubApi(createGithubClient({ apiUrl: e.github.url, auth: { kind: 'token', token: e.github.token }, log, timeScale: SPEED }));
    const px = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: true });
    const name = `ubuntu-${vmid}-ab12`;
    const jit = await gh.generateJitConfig({ kind: 'repo', owner: 'acme', repo: 'app' }, { name, labels: ['self-hosted', 'linux', 'x64'], runnerGroupId: 1 });
    const file = `pvr-${name}.yaml`;
    writeFileSync(join(e.proxmox.snippetsDirs.pve1!, file), userData(jit.encodedJitConfig), { mode: 0o600 });
    const wait = (upid: string) => awaitTask(px, systemClock, upid, 'test', { timeoutMs: 10_000, pollMs: 10, maxPollMs: 50 });
    // into the resource pool, as the daemon clones: the default grants allow nothing else
    await wait(await px.clone('pve1', 9000, { newid: vmid, name, description: 'test', full: false, pool: 'pve-runners' }));
    const cfg = await px.updateConfig('pve1', vmid, { cicustom: `user=local:snippets/${file}`, tags: 'pve-runners;pvr-pool.ubuntu' });
    if (cfg) await wait(cfg);
    await wait(await px.start('pve1', vmid));
    return { name, px, gh };
  }

  const until = async (cond: () => boolean | Promise<boolean>, scenarioMs: number) => {
    const deadline = sim.clock.nowMs() + scenarioMs;
    while (!(await cond())) {
      if (sim.clock.nowMs() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('with a valid snippet runs exactly one matching job, unregisters and powers off', async () => {
    const template = readFileSync(join(ROOT, 'cloud-init', 'ubuntu-2404.yaml'), 'utf8');
    const { name, px, gh } = await boot(200, (jit) =>
      renderUserData(template, { runnerName: 'ubuntu-200-ab12', vmid: 200, pool: 'ubuntu', node: 'pve1', registration: { kind: 'jit', encodedJitConfig: jit } }, 'ubuntu-2404.yaml'),
    );
    await until(async () => (await px.listVms()).find((v) => v.vmid === 200)?.status === 'stopped', 60_000);
    const jobs = [...sim.ctx.recorder.jobs.values()];
    const mine = jobs.filter((j) => j.runnerName === name);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ labels: ['self-hosted', 'linux'], conclusion: 'success' });
    expect(jobs.filter((j) => j.labels.includes('gpu'))[0]!.takenAt).toBeUndefined();
    expect(jobs.filter((j) => j.labels.includes('linux') && j.takenAt === undefined)).toHaveLength(1);
    expect((await gh.listRunners({ kind: 'repo', owner: 'acme', repo: 'app' })).items).toEqual([]);
  });

  it('with a broken snippet boots but never registers', async () => {
    const { name, px, gh } = await boot(201, () => '#cloud-config\nruncmd: [[echo, no runner here]]\n');
    // well past boot (10s) and runner_connect (1s)
    await sim.clock.sleep(30_000);
    expect((await px.listVms()).find((v) => v.vmid === 201)?.status).toBe('running');
    const runners = (await gh.listRunners({ kind: 'repo', owner: 'acme', repo: 'app' })).items;
    expect(runners).toEqual([expect.objectContaining({ name, status: 'offline', busy: false })]);
    expect([...sim.ctx.recorder.jobs.values()].every((j) => j.takenAt === undefined)).toBe(true);
    // cloud-init ran the one command there is; nothing started a runner or powered the VM off.
    expect(sim.guests.inside(201)?.console).toEqual(['no runner here']);
    expect(sim.ctx.recorder.events.some((e) => e.what === 'vm 201 cloud-init finished: runcmd exited 0, power_state none; the VM stays up')).toBe(true);
  });
});
