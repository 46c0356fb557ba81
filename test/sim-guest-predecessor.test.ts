/**
 * The Python predecessor's user-data template (test/fixtures/predecessor), served unchanged: rendered
 * as its dispatcher rendered it (string.Template.substitute with a registration token), written as a
 * snippet and booted through the real Proxmox client. Its placeholders (`${repo_url}`…) are not the
 * daemon's (`{{ runner_env }}`…) and it has no runner.env entry, so the daemon's renderer would refuse
 * it: that is why this test renders it the predecessor's way and drives the simulator directly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const TEMPLATE = readFileSync(join(ROOT, 'test/fixtures/predecessor/runner-user-data.pkrtpl'), 'utf8');

/** Python's string.Template.substitute: $name and ${name}, $$ for $, a missing key is an error. */
function substitute(template: string, values: Record<string, string>): string {
  return template.replace(/\$(?:\$|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})/g, (m, a?: string, b?: string) => {
    if (m === '$$') return '$';
    const v = values[(a ?? b)!];
    if (v === undefined) throw new Error(`KeyError: ${a ?? b}`);
    return v;
  });
}

const scenario = (image: string) => parseScenario(`
seed: 3
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1, image: ${image}}]
  timings: {clone: 1s, config: 100ms, start: 500ms, boot: 10s, stop: 500ms, shutdown: 1s, destroy: 500ms}
github:
  repos: [NREL/EnergyPlus]
  timings: {runner_connect: 1s}
  lag: {jobs: 0s, runners: 0s, runner_deletion: 0s}   # these tests read what the guest just did (sim-github-lag covers the lag)
workload:
  - {at: 0s, repo: NREL/EnergyPlus, jobs: 1, labels: [self-hosted, Linux, X64, energyplus], duration: 20s}
`);

describe("the predecessor's cloud-init template", () => {
  let sim: Simulator;
  afterEach(() => sim.stop());

  async function serve(image: string) {
    sim = new Simulator(scenario(image), { speed: SPEED, keepEvents: true });
    await sim.start();
    const e = sim.endpoints;
    const { log } = memoryLogger();
    const gh = new OctokitGithubApi(createGithubClient({ apiUrl: e.github.url, auth: { kind: 'token', token: e.github.token }, log, timeScale: SPEED }));
    const px = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: true });
    const scope = { kind: 'repo', owner: 'NREL', repo: 'EnergyPlus' } as const;
    const { token } = await gh.createRegistrationToken(scope);
    const name = 'energyplus-runner-200';
    const userData = substitute(TEMPLATE, {
      repo_url: 'https://github.com/NREL/EnergyPlus', registration_token: token, runner_labels: 'energyplus,linux,x64,ubuntu-24.04', runner_name: name, runner_user: 'ci',
    });
    writeFileSync(join(e.proxmox.snippetsDirs.pve1!, `${name}.yaml`), userData);
    const wait = (upid: string) => awaitTask(px, systemClock, upid, 'test', { timeoutMs: 10_000, pollMs: 10, maxPollMs: 50 });
    await wait(await px.clone('pve1', 9000, { newid: 200, name, description: '', full: false, pool: 'pve-runners' }));
    const cfg = await px.updateConfig('pve1', 200, { cicustom: `user=local:snippets/${name}.yaml` });
    if (cfg) await wait(cfg);
    await wait(await px.start('pve1', 200));
    const until = async (cond: () => boolean | Promise<boolean>) => {
      const deadline = sim.clock.nowMs() + 120_000;
      while (!(await cond())) {
        if (sim.clock.nowMs() > deadline) throw new Error('condition not met in time');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    return { gh, px, scope, name, token, until };
  }

  it('on its own image registers with the default labels added, runs the job, and cloud-init powers off', async () => {
    const { gh, px, scope, name, token, until } = await serve('energyplusci');
    let seen: Awaited<ReturnType<typeof gh.listRunners>>['items'] = [];
    await until(async () => {
      seen = (await gh.listRunners(scope)).items;
      return seen.some((r) => r.busy);
    });
    // config.sh without --no-default-labels: self-hosted, Linux, X64, then the given ones (case-insensitively once).
    expect(seen).toEqual([expect.objectContaining({ name, status: 'online', busy: true, labels: ['self-hosted', 'Linux', 'X64', 'energyplus', 'ubuntu-24.04'] })]);
    await until(async () => (await px.listVms()).find((v) => v.vmid === 200)?.status === 'stopped');
    const jobs = [...sim.ctx.recorder.jobs.values()];
    expect(jobs).toEqual([expect.objectContaining({ runnerName: name, conclusion: 'success' })]);
    expect((await gh.listRunners(scope)).items).toEqual([]); // ephemeral: gone after its job
    const inside = sim.guests.inside(200);
    // runuser to ci, then the image's run-once.sh runs config.sh and run.sh as ci; the token only in argv, as the predecessor passed it
    expect(inside?.execs.map((x) => [x.user, x.argv[0]])).toEqual([
      ['root', '/usr/sbin/runuser'], ['ci', '/opt/actions-runner/run-once.sh'], ['ci', './config.sh'], ['ci', './run.sh'],
    ]);
    expect(inside?.execs[2]!.argv).toEqual(['./config.sh', '--unattended', '--replace', '--ephemeral', '--url', 'https://github.com/NREL/EnergyPlus', '--token', token, '--name', name, '--labels', 'energyplus,linux,x64,ubuntu-24.04']);
    expect(sim.ctx.recorder.events.map((e) => e.what)).toContain('vm 200 powering off (cloud-init power_state poweroff)');
  });

  it("on pve-runners' image it cannot work: the image has no user ci, runcmd fails, power_state still powers off", async () => {
    const { gh, px, scope, until } = await serve('pve-runners');
    await until(async () => (await px.listVms()).find((v) => v.vmid === 200)?.status === 'stopped');
    expect(sim.guests.inside(200)?.console).toEqual([
      'runuser: user ci does not exist or the user entry does not contain all the required fields',
      'cloud-init: Failed to run module scripts_user (runcmd exited 1)',
    ]);
    expect((await gh.listRunners(scope)).items).toEqual([]);
    expect([...sim.ctx.recorder.jobs.values()].every((j) => j.takenAt === undefined)).toBe(true);
  });
});
