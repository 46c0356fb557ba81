/**
 * The daemon under GitHub's listing lag, ticked by the test (the real wiring in-process, against the
 * simulator over HTTP), so each race is made to happen rather than hoped for:
 * - a runner listed idle past idle_timeout takes a job the job listing does not show yet: the tick
 *   plans its removal, GitHub answers the deregistration 422, and the VM and its job live on;
 * - a job still listed queued after our runner, listed busy, took it: no second VM for it.
 * The lags are long here (a minute) so that the window a tick must fall into is wide whatever the
 * machine's load; e2e-github-lag-default.test.ts runs a workload with the default lag.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { daemonEnv } from '../src/cli/demo.js';
import { systemClock } from '../src/clock.js';
import { loadSettings } from '../src/config/index.js';
import { wire, type Wiring } from '../src/daemon/wire.js';
import { memoryLogger, Redactor } from '../src/log.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { ROOT } from './helpers/e2e.js';

const SPEED = 10;
const LABELS = ['self-hosted', 'linux'];

let sim: Simulator;
let w: Wiring;
let lines: string[];

async function start(lag: string): Promise<void> {
  sim = new Simulator(parseScenario(`
seed: 5
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 2s, config: 200ms, start: 1s, boot: 30s, stop: 1s, shutdown: 2s, destroy: 1s}
github:
  repos: [acme/app]
  lag: ${lag}
  timings: {runner_connect: 2s}
workload: []
`), { speed: SPEED, keepEvents: true });
  const endpoints = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'pvr-lag-'));
  const pools = join(dir, 'pools.yaml');
  writeFileSync(pools, `github:
  repos: [acme/app]
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux]
    vmid_range: [200, 209]
    max_runners: 4
    node: pve1
    idle_timeout: 10s  # the least allowed; the runner is listed idle a minute later
    user_data: ${join(ROOT, 'cloud-init', 'ubuntu-2404.yaml')}
`);
  const settings = loadSettings(daemonEnv(endpoints, pools, SPEED), { cwd: dir });
  const mem = memoryLogger({ format: 'json', level: 'debug' });
  lines = mem.lines;
  // The daemon's intervals run SPEED times faster too, as `demo` runs it.
  w = wire(settings, { clock: systemClock, log: mem.log, redactor: new Redactor(), timeScale: SPEED });
}

afterEach(async () => {
  await w?.executor.drain();
  await sim?.stop();
});

/** Polls until `cond` holds (what it waits for is caused by the test; the limit only ends a broken run). */
async function waitFor(what: string, cond: () => boolean, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}\n${events().join('\n')}\n${lines.filter((l) => !l.includes('"debug"')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const events = () => sim.ctx.recorder.events.map((e) => e.what);
const jobs = () => [...sim.ctx.recorder.jobs.values()];
const scenarioNow = () => sim.ctx.clock.nowMs();

/** Ticks until a tick plans a creation, and lets it finish. */
async function tickUntilCreated(): Promise<void> {
  for (;;) {
    const r = await w.daemon.tick();
    if (r.plan.actions.some((a) => a.kind === 'create')) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  await w.executor.drain();
}

describe('e2e: the daemon under GitHub listing lag', () => {
  it('keeps a runner listed idle past idle_timeout that just took a job: deregistration gets 422, the VM and its job live on', async () => {
    await start('{jobs: 60s, runners: 60s, runner_deletion: 10s}');
    sim.github.queueRun('acme/app', 'CI', [{ labels: LABELS, durationMs: 60_000 }], false);
    await tickUntilCreated(); // job A listed after 60 s: one VM for it
    expect(sim.pve.leaks().vms).toEqual([200]);

    // Somebody else's runner (a name no pool owns) takes A before our VM has booted: ours comes up idle.
    const octokit = new Octokit({ auth: sim.endpoints.github.token, baseUrl: sim.endpoints.github.url, log: { debug() {}, info() {}, warn() {}, error() {} } });
    const laptop = await octokit.actions.generateRunnerJitconfigForRepo({ owner: 'acme', repo: 'app', name: 'laptop-1', runner_group_id: 1, labels: LABELS });
    sim.github.connect({ kind: 'jit', encodedJitConfig: laptop.data.encoded_jit_config }, () => {});
    await waitFor('the laptop takes A', () => jobs()[0]?.runnerName === 'laptop-1');
    const onlineEvent = () => events().find((e) => /^runner ubuntu-2404-200-[a-z0-9]{4} online$/.test(e));
    await waitFor('our runner online (idle)', () => onlineEvent() !== undefined);
    const onlineAt = sim.ctx.recorder.events.find((e) => e.what === onlineEvent())!.t;
    await waitFor('our runner listed idle', () => scenarioNow() > onlineAt + 61_000);

    // Job B: taken by our idle runner after GitHub's dispatch delay; the job listing will not show
    // it for a minute, the runner listing shows the runner idle as long.
    sim.github.queueRun('acme/app', 'CI', [{ labels: LABELS, durationMs: 30_000 }], false);
    const runnerName = onlineEvent()!.split(' ')[1]!;
    await waitFor('our idle runner takes B', () => jobs()[1]?.runnerName !== undefined);
    expect(jobs()[1]?.runnerName).toBe(runnerName);
    const r = await w.daemon.tick();
    expect(r.plan.actions.map((a) => `${a.kind} ${'vmid' in a ? a.vmid : ''}`)).toEqual(['remove-vm 200']); // planned: idle past idle_timeout, no job listed
    await w.executor.drain();
    expect(lines.some((l) => l.includes('runner took a job meanwhile (GitHub answered 422): VM kept'))).toBe(true);
    expect(sim.pve.leaks().vms).toEqual([200]);
    expect(events().filter((e) => e.startsWith('JOB KILLED'))).toEqual([]);

    // B completes on it; the VM powers off and only then goes.
    await waitFor('B completes', () => jobs()[1]?.conclusion !== undefined);
    expect(jobs()[1]?.conclusion).toBe('success');
    for (let i = 0; sim.pve.leaks().vms.length > 0; i++) {
      if (i > 200) throw new Error('the VM was never removed after its job');
      await w.daemon.tick();
      await w.executor.drain();
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(events().filter((e) => e.startsWith('JOB KILLED'))).toEqual([]);
  }, 120_000);

  it('gives no second VM to a job still listed queued after our runner, listed busy, took it', async () => {
    await start('{jobs: 60s, runners: 0s, runner_deletion: 0s}');
    sim.github.queueRun('acme/app', 'CI', [{ labels: LABELS, durationMs: 300_000 }], false);
    await tickUntilCreated();
    await waitFor('our runner takes the job', () => /^ubuntu-2404-200-/.test(jobs()[0]?.runnerName ?? ''));
    const takenAt = jobs()[0]!.takenAt!;
    const r = await w.daemon.tick();
    // The observation still lists the job queued (a minute of lag) and the runner busy.
    expect(scenarioNow()).toBeLessThan(takenAt + 60_000);
    expect(r.observation.runners.filter((x) => x.busy).map((x) => x.name)).toEqual([jobs()[0]!.runnerName]);
    expect(r.plan.actions.filter((a) => a.kind === 'create')).toEqual([]);
    expect(lines.some((l) => l.includes('is busy and no listed job names it: taken to be running it'))).toBe(true);
    const again = await w.daemon.tick(); // and on the next tick too, until the listing catches up
    expect(scenarioNow()).toBeLessThan(takenAt + 60_000);
    expect(again.plan.actions.filter((a) => a.kind === 'create')).toEqual([]);
    await w.executor.drain();
    expect(sim.ctx.recorder.vmsCreated).toBe(1);
  }, 120_000);
});
