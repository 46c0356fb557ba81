/**
 * config.sh and run.sh in a simulated guest against the simulated GitHub, through the real
 * Proxmox and GitHub clients: arguments as actions/runner's CommandSettings reads them, default
 * labels unless --no-default-labels, a duplicate name refused unless --replace, runner groups,
 * ACTIONS_RUNNER_INPUT_* variables, root refused; a non-ephemeral runner keeps its VM running.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../src/clock.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { memoryLogger } from '../src/log.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { awaitTask } from '../src/proxmox/tasks.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';

const SPEED = 50;
const scope = { kind: 'repo', owner: 'acme', repo: 'app' } as const;
const URL = 'https://github.com/acme/app';

describe('config.sh and run.sh in the guest', () => {
  let sim: Simulator;
  let gh: OctokitGithubApi;
  let px: ReturnType<typeof createProxmoxClient>;
  beforeEach(async () => {
    sim = new Simulator(parseScenario(`
seed: 9
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 1s, config: 100ms, start: 500ms, boot: 5s, stop: 500ms, shutdown: 1s, destroy: 500ms}
github:
  repos: [acme/app]
  timings: {runner_connect: 1s}
  lag: {jobs: 0s, runners: 0s, runner_deletion: 0s}   # these tests read what the guest just did (sim-github-lag covers the lag)
workload:
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, Linux, X64, big], duration: 5s}
`), { speed: SPEED, keepEvents: true });
    await sim.start();
    const e = sim.endpoints;
    const { log } = memoryLogger();
    gh = new OctokitGithubApi(createGithubClient({ apiUrl: e.github.url, auth: { kind: 'token', token: e.github.token }, log, timeScale: SPEED }));
    px = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: true });
  });
  afterEach(() => sim.stop());

  const until = async (cond: () => boolean | Promise<boolean>) => {
    const deadline = sim.clock.nowMs() + 120_000;
    while (!(await cond())) {
      if (sim.clock.nowMs() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  /** Boots VM `vmid` whose runcmd is `lines` (with $TOKEN set to a fresh registration token) and waits for cloud-init to end. */
  async function boot(vmid: number, lines: string[]) {
    const { token } = await gh.createRegistrationToken(scope);
    const userData = `#cloud-config\n${JSON.stringify({ runcmd: [`TOKEN=${token}`, 'cd /opt/actions-runner', ...lines] })}\n`;
    writeFileSync(join(sim.endpoints.proxmox.snippetsDirs.pve1!, `vm-${vmid}.yaml`), userData);
    const wait = (upid: string) => awaitTask(px, systemClock, upid, 'test', { timeoutMs: 10_000, pollMs: 10, maxPollMs: 50 });
    await wait(await px.clone('pve1', 9000, { newid: vmid, name: `vm-${vmid}`, description: '', full: false, pool: 'pve-runners' }));
    const cfg = await px.updateConfig('pve1', vmid, { cicustom: `user=local:snippets/vm-${vmid}.yaml` });
    if (cfg) await wait(cfg);
    await wait(await px.start('pve1', vmid));
    await until(() => sim.ctx.recorder.events.some((e) => e.what.startsWith(`vm ${vmid} cloud-init finished`) || e.what.startsWith(`vm ${vmid} powering off`)) || (sim.guests.inside(vmid)?.console.some((l) => l === 'Listening for Jobs') ?? false));
    return { token, console: () => sim.guests.inside(vmid)?.console ?? [] };
  }

  const runners = async () => (await gh.listRunners(scope)).items.map((r) => ({ name: r.name, labels: r.labels, status: r.status }));

  it('adds the default labels, once each, unless --no-default-labels; refuses a duplicate name unless --replace', async () => {
    await boot(201, ['sudo -u runner ./config.sh --unattended --url https://github.com/acme/app --token "$TOKEN" --name one --labels big,linux,,Big']);
    expect(await runners()).toEqual([{ name: 'one', labels: ['self-hosted', 'Linux', 'X64', 'big'], status: 'offline' }]);

    const dup = await boot(202, ['sudo -u runner ./config.sh --unattended --url https://github.com/acme/app --token "$TOKEN" --name one --labels other']);
    expect(dup.console()).toEqual(['√ Connected to GitHub', 'A runner exists with the same name one.', 'cloud-init: Failed to run module scripts_user (runcmd exited 1)']);

    await boot(203, ['sudo -u runner ./config.sh --unattended --replace --no-default-labels --url https://github.com/acme/app --token "$TOKEN" --name one --labels other']);
    expect(await runners()).toEqual([{ name: 'one', labels: ['other'], status: 'offline' }]);

    const bad = await boot(204, ['sudo -u runner ./config.sh --unattended --no-default-labels --url https://github.com/acme/app --token "$TOKEN" --name two']);
    expect(bad.console()).toContain('Disabling default labels via --no-default-labels without specifying --labels is not supported');
  });

  it('reads ACTIONS_RUNNER_INPUT_* variables; refuses root, an unknown runner group, a missing token; warns on unknown arguments', async () => {
    const r = await boot(205, [
      './config.sh --unattended --url https://github.com/acme/app --token "$TOKEN"',
      'sudo -u runner ./config.sh --unattended --url https://github.com/acme/app --name x',
      'sudo -u runner ./config.sh --unattended --url https://github.com/acme/app --token "$TOKEN" --runnergroup gpu --name x',
      'sudo -u runner ACTIONS_RUNNER_INPUT_TOKEN="$TOKEN" ACTIONS_RUNNER_INPUT_NAME=from-env ACTIONS_RUNNER_INPUT_EPHEMERAL=true ./config.sh --unattended --url https://github.com/acme/app --frobnicate 1',
    ]);
    expect(r.console()).toEqual([
      'Must not run with sudo',
      'Invalid configuration provided for token. Terminating unattended configuration.',
      '√ Connected to GitHub', 'Could not find any self-hosted runner group named "gpu".',
      "Unrecognized command-line input arguments for command configure: 'frobnicate'. For usage refer to: .\\config.cmd --help or ./config.sh --help",
      '√ Connected to GitHub', '√ Runner successfully added', '√ Settings Saved.',
    ]);
    expect(await runners()).toEqual([{ name: 'from-env', labels: ['self-hosted', 'Linux', 'X64'], status: 'offline' }]);
    expect(r.console().join('\n')).not.toContain(r.token);
  });

  it('a non-ephemeral runner takes job after job and its VM keeps running', async () => {
    await boot(206, ['sudo -u runner ./config.sh --unattended --url https://github.com/acme/app --token "$TOKEN" --name keeper --labels big', 'sudo -u runner ./run.sh']);
    await until(() => [...sim.ctx.recorder.jobs.values()].every((j) => j.conclusion === 'success'));
    expect([...sim.ctx.recorder.jobs.values()].map((j) => j.runnerName)).toEqual(['keeper', 'keeper']);
    expect(await runners()).toEqual([{ name: 'keeper', labels: ['self-hosted', 'Linux', 'X64', 'big'], status: 'online' }]);
    expect((await px.listVms()).find((v) => v.vmid === 206)?.status).toBe('running');
  });

  it('run.sh --jitconfig starts an ephemeral runner that takes one job and exits 0; a used JIT config is refused, also with exit 0', async () => {
    const jit = await gh.generateJitConfig(scope, { name: 'jit-one', labels: ['self-hosted', 'Linux', 'X64', 'big'], runnerGroupId: 1 });
    const r = await boot(207, [`JIT=${jit.encodedJitConfig}`, 'sudo -u runner ./run.sh --jitconfig "$JIT"; echo "run.sh exited $?"', 'sudo -u runner ./run.sh --jitconfig "$JIT"; echo "again: $?"']);
    await until(() => r.console().some((l) => l.startsWith('again: ')));
    expect([...sim.ctx.recorder.jobs.values()].filter((j) => j.runnerName === 'jit-one')).toHaveLength(1);
    const lines = r.console();
    expect(lines.slice(lines.indexOf('run.sh exited 0') - 3)).toEqual([
      'Job completed with result: Succeeded',
      'Runner listener exit with 0 return code, stop the service, no retry needed.',
      'Exiting runner...',
      'run.sh exited 0',
      '√ Connected to GitHub', "Current runner version: '2.336.0'", 'Listening for Jobs',
      "An error occurred: Runner registration for 'jit-one' was not found: it has been deleted.",
      'Runner listener exit with terminated error, stop the service, no retry needed.',
      'Exiting runner...',
      'again: 0',
    ]);
    expect(lines.join('\n')).not.toContain(jit.encodedJitConfig);
  });
});
