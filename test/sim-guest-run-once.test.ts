/**
 * The guest's model of runners/linux/run-once.sh against the script itself: the real script runs
 * with stub config.sh/run.sh (as in run-once.test.ts), the model runs in a simulated guest booted
 * from the shipped template; both must call the runner the same way — same argv, the secret in the
 * same ACTIONS_RUNNER_INPUT_* variable, run.sh skipped when config.sh fails, power-off at the end.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderUserData, type Registration } from '../src/cloudinit/render.js';
import { formatRunnerEnv } from '../src/cloudinit/runner-env.js';
import { RealTimeClock } from '../src/sim/clock.js';
import type { RunnerBroker } from '../src/sim/contracts.js';
import { Guests } from '../src/sim/guest.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';

const ROOT = process.cwd();
const FAKE_BIN = join(ROOT, 'test/fixtures/bin');
const NAME = 'ubuntu-2404-206-zz99';
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

interface RunnerCall { tool: string; args: string[]; input?: 'TOKEN' | 'JITCONFIG' }

function realScript(reg: Registration, configExit: number): { calls: RunnerCall[]; poweredOff: boolean } {
  const root = mkdtempSync(join(tmpdir(), 'pvr-run-once-model-'));
  roots.push(root);
  const dir = join(root, 'opt/actions-runner');
  const fake = join(root, 'fake');
  mkdirSync(dir, { recursive: true });
  mkdirSync(fake);
  copyFileSync(join(ROOT, 'runners/linux/run-once.sh'), join(dir, 'run-once.sh'));
  for (const s of ['config.sh', 'run.sh']) copyFileSync(join(FAKE_BIN, 'runner-stub'), join(dir, s));
  for (const f of ['run-once.sh', 'config.sh', 'run.sh']) chmodSync(join(dir, f), 0o755);
  const envFile = join(root, 'runner.env');
  writeFileSync(envFile, formatRunnerEnv(NAME, reg), { mode: 0o600 });
  const log = join(fake, 'calls');
  spawnSync(join(dir, 'run-once.sh'), [], {
    encoding: 'utf8',
    env: { PATH: `${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`, RUNNER_ENV_FILE: envFile, FAKE_LOG: log, FAKE_BIN, FAKE_DIR: fake, FAKE_EXIT_CONFIG: String(configExit) },
  });
  const recs = existsSync(log) ? readFileSync(log, 'utf8').split('\x1e').filter(Boolean).map((r) => r.split('\x1f')) : [];
  const calls = recs.filter(([tool]) => tool!.endsWith('.sh')).map(([tool, ...args]) => {
    const name = tool!.replace(/\.sh$/, '');
    const input = existsSync(join(fake, `${name}.token`)) ? 'TOKEN' : existsSync(join(fake, `${name}.jitconfig`)) ? 'JITCONFIG' : undefined;
    return { tool: tool!, args, ...(input ? { input } : {}) } as RunnerCall;
  });
  return { calls, poweredOff: recs.some(([tool]) => tool === 'poweroff') };
}

async function model(reg: Registration, configOk: boolean): Promise<{ calls: RunnerCall[]; poweredOff: boolean }> {
  const scenario = parseScenario(`
proxmox: {nodes: [{name: pve1}], templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}], timings: {boot: 0s, shutdown: 0s}}
github: {repos: [acme/app], timings: {runner_connect: 0s}}
workload: []
`);
  const clock = new RealTimeClock(1000);
  const ctx = { scenario, clock, rng: new Rng(1), recorder: new Recorder(() => clock.nowMs()) };
  const broker: RunnerBroker = {
    configure: (_req, done) => done(configOk ? { ok: true, runnerId: 7, clientId: 'c', groupId: 1, groupName: 'Default' } : { ok: false, message: 'A runner exists with the same name x.' }),
    connect: (_c, onExit) => (setImmediate(() => onExit({ reason: 'job-done', jobId: 1, conclusion: 'success' })), 7),
    lost: () => undefined,
  };
  let off!: () => void;
  const poweredOff = new Promise<void>((r) => (off = r));
  const guests = new Guests(ctx, broker, { powerOff: () => off() });
  const userData = renderUserData(readFileSync(join(ROOT, 'cloud-init/ubuntu-2404.yaml'), 'utf8'), { runnerName: NAME, vmid: 206, pool: 'ubuntu-2404', node: 'pve1', registration: reg }, 'ubuntu-2404.yaml');
  guests.started({ vmid: 206, node: 'pve1', name: NAME, userData, image: 9000 });
  await poweredOff;
  clock.stop();
  const execs = guests.inside(206)!.execs;
  const calls = execs.filter((x) => /^\.\/(config|run)\.sh$/.test(x.argv[0]!)).map((x) => {
    const input = x.envNames.includes('ACTIONS_RUNNER_INPUT_TOKEN') ? 'TOKEN' : x.envNames.includes('ACTIONS_RUNNER_INPUT_JITCONFIG') ? 'JITCONFIG' : undefined;
    return { tool: x.argv[0]!.slice(2), args: x.argv.slice(1), ...(input ? { input } : {}) } as RunnerCall;
  });
  expect(execs.filter((x) => /^\.\/(config|run)\.sh$/.test(x.argv[0]!)).every((x) => x.user === 'runner')).toBe(true);
  return { calls, poweredOff: execs.some((x) => x.argv[0] === 'poweroff') };
}

const token: Registration = { kind: 'token', url: 'https://github.com/acme/app', token: 'AABF3JGZDX3P5PMEXLND6TS6FCWO6', labels: ['self-hosted', 'linux', "it's \"q\"", '$(id)'] };
const jit: Registration = { kind: 'jit', encodedJitConfig: 'eyJydW5uZXIiOiJ7fSJ9' };

describe('the guest model of run-once.sh', () => {
  it.each([
    ['JIT', jit, true],
    ['token', token, true],
    ['token, config.sh failing', token, false],
  ] as const)('calls the runner as the real script does: %s', async (_what, reg, configOk) => {
    const real = realScript(reg, configOk ? 0 : 1);
    expect(real.calls.length).toBeGreaterThan(0);
    expect(real.poweredOff).toBe(true);
    expect(await model(reg, configOk)).toEqual(real);
  });
});
