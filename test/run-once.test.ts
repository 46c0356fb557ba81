/**
 * runners/linux/run-once.sh, executed for real in a temporary root: stub config.sh/run.sh and a fake
 * poweroff/runuser record how they were called. The runner.env it reads is written by the daemon's
 * own formatter, so the two ends of the format are tested together.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registration } from '../src/cloudinit/render.js';
import { formatRunnerEnv } from '../src/cloudinit/runner-env.js';
import { agentRunnerEnv } from '../src/daemon/agent-delivery.js';

const FAKE_BIN = join(process.cwd(), 'test/fixtures/bin');
const RUN_ONCE = join(process.cwd(), 'runners/linux/run-once.sh');
const isRoot = process.getuid?.() === 0;

const JIT = 'eyJydW5uZXIiOiJ7fSIsIi5jcmVkZW50aWFscyI6IlhYWFhYWFhYWFhYWFgifQ==';
const TOKEN = 'AABF3JGZDX3P5PMEXLND6TS6FCWO6';

interface Call {
  tool: string;
  args: string[];
}

interface Outcome {
  status: number | null;
  stderr: string;
  calls: Call[];
  root: string;
  read(file: string): string | undefined;
}

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function runOnce(envFileText: string | undefined, env: Record<string, string> = {}, args: string[] = []): Outcome {
  const root = mkdtempSync(join(tmpdir(), 'pvr-run-once-'));
  roots.push(root);
  const runnerDir = join(root, 'opt/actions-runner');
  const fakeDir = join(root, 'fake');
  mkdirSync(runnerDir, { recursive: true });
  mkdirSync(join(root, 'etc/pve-runners'), { recursive: true });
  mkdirSync(fakeDir);
  copyFileSync(RUN_ONCE, join(runnerDir, 'run-once.sh'));
  for (const stub of ['config.sh', 'run.sh']) copyFileSync(join(FAKE_BIN, 'runner-stub'), join(runnerDir, stub));
  for (const f of ['run-once.sh', 'config.sh', 'run.sh']) chmodSync(join(runnerDir, f), 0o755);
  const envFile = join(root, 'etc/pve-runners/runner.env');
  if (envFileText !== undefined) writeFileSync(envFile, envFileText, { mode: 0o600 });

  const log = join(fakeDir, 'calls');
  const result = spawnSync(join(runnerDir, 'run-once.sh'), args, {
    cwd: root,
    encoding: 'utf8',
    env: {
      PATH: `${FAKE_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
      RUNNER_ENV_FILE: envFile,
      FAKE_LOG: log,
      FAKE_BIN,
      FAKE_DIR: fakeDir,
      ...env,
    },
  });
  const calls = existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\x1e')
        .filter(Boolean)
        .map((rec) => {
          const [tool, ...args] = rec.split('\x1f');
          return { tool: tool!, args };
        })
    : [];
  return {
    status: result.status,
    stderr: result.stderr,
    calls,
    root,
    read: (file) => (existsSync(join(fakeDir, file)) ? readFileSync(join(fakeDir, file), 'utf8') : undefined),
  };
}

/** The runner's own scripts as they were called, with the runuser hop (root only) checked and removed. */
function runnerCalls(o: Outcome): Call[] {
  const runuser = o.calls.filter((c) => c.tool === 'runuser');
  const runner = o.calls.filter((c) => c.tool.endsWith('.sh'));
  if (isRoot) {
    expect(runuser.map((c) => c.args.slice(0, 3))).toEqual(runner.map(() => ['-u', 'runner', '--']));
  } else {
    expect(runuser).toEqual([]);
  }
  return runner;
}

function expectPoweredOffLast(o: Outcome): void {
  expect(o.calls.filter((c) => c.tool === 'poweroff')).toHaveLength(1);
  expect(o.calls[o.calls.length - 1]!.tool).toBe('poweroff');
}

function expectSecretNeverInArgv(o: Outcome, secret: string): void {
  for (const c of o.calls) expect(c.args.join(' ')).not.toContain(secret);
  for (const snapshot of ['config.cmdlines', 'run.cmdlines']) {
    const text = o.read(snapshot);
    if (text !== undefined) {
      expect(text.length).toBeGreaterThan(0);
      expect(text).not.toContain(secret);
    }
  }
}

describe('run-once.sh', () => {
  it('JIT: starts run.sh with the config in ACTIONS_RUNNER_INPUT_JITCONFIG only, deletes runner.env, powers off', () => {
    const o = runOnce(formatRunnerEnv('ubuntu-2404-205-k3x9', { kind: 'jit', encodedJitConfig: JIT }));
    expect(o.status).toBe(0);
    expect(runnerCalls(o)).toEqual([{ tool: 'run.sh', args: [] }]);
    expect(o.read('run.jitconfig')).toBe(JIT);
    expect(o.read('run.cmdlines')).toContain('run.sh');
    expectSecretNeverInArgv(o, JIT);
    expect(existsSync(join(o.root, 'etc/pve-runners/runner.env'))).toBe(false);
    expect(o.stderr).not.toContain(JIT);
    expectPoweredOffLast(o);
  });

  it('--agent (delivery: guest-agent): runs the runner from a complete agent-written file', () => {
    const o = runOnce(agentRunnerEnv('ubuntu-2404-207-ag01', { kind: 'jit', encodedJitConfig: JIT }), { RUNNER_ENV_WAIT: '0' }, ['--agent']);
    expect(o.status).toBe(0);
    expect(runnerCalls(o)).toEqual([{ tool: 'run.sh', args: [] }]);
    expect(o.read('run.jitconfig')).toBe(JIT);
    expect(existsSync(join(o.root, 'etc/pve-runners/runner.env'))).toBe(false);
    expectPoweredOffLast(o);
  });

  it('--agent never reads a file a failed file-write left half-written (any prefix of the content)', () => {
    const full = agentRunnerEnv('ubuntu-2404-208-ag02', { kind: 'token', url: 'https://github.com/acme/app', token: TOKEN, labels: ['self-hosted', 'linux'], group: 'ci' });
    // every cut, including one that leaves all the registration lines but not the completion line
    for (const cut of [0, 10, full.indexOf('RUNNER_ENV_COMPLETE'), full.length - 1]) {
      const o = runOnce(full.slice(0, cut), { RUNNER_ENV_WAIT: '0' }, ['--agent']);
      expect(o.status).toBe(1);
      expect(runnerCalls(o)).toEqual([]);
      expect(o.stderr).toContain('not complete');
      expectPoweredOffLast(o);
    }
  });

  const hostile: Registration = {
    kind: 'token',
    url: "https://github.com/acme/app\"'$(touch${IFS}pwned)`touch pwned2`",
    token: TOKEN,
    labels: ['self-hosted', 'linux', 'a\nruncmd: [[touch pwned3]]', '$(touch pwned4)', '`touch pwned5`', `it's "q"`, 'back\\slash\\x41', 'ünï'],
  };

  it('token: registers with config.sh --ephemeral --unattended, token via environment, then runs one job', () => {
    const o = runOnce(formatRunnerEnv('ubuntu-2404-206-zz99', hostile));
    expect(o.status).toBe(0);
    expect(runnerCalls(o)).toEqual([
      {
        tool: 'config.sh',
        args: [
          '--unattended', '--ephemeral', '--replace', '--disableupdate', '--no-default-labels',
          '--url', hostile.url,
          '--name', 'ubuntu-2404-206-zz99',
          '--labels', hostile.labels.join(','),
          '--work', '_work',
        ],
      },
      { tool: 'run.sh', args: [] },
    ]);
    expect(o.read('config.token')).toBe(TOKEN);
    expect(o.read('run.token')).toBeUndefined();
    expectSecretNeverInArgv(o, TOKEN);
    // Nothing in the hostile values was executed anywhere.
    for (const f of ['pwned', 'pwned2', 'pwned3', 'pwned4', 'pwned5']) {
      expect(existsSync(join(o.root, f))).toBe(false);
      expect(existsSync(join(o.root, 'opt/actions-runner', f))).toBe(false);
    }
    expectPoweredOffLast(o);
  });

  it('token, organisation scope: config.sh joins the runner group runner.env names (RUNNER_GROUP), hostile or not', () => {
    const group = 'ci $(touch pwned6) "x"';
    const o = runOnce(formatRunnerEnv('ubuntu-2404-207-aa11', { kind: 'token', url: 'https://github.com/acme', token: TOKEN, labels: ['self-hosted', 'linux'], group }));
    expect(o.status).toBe(0);
    expect(runnerCalls(o)[0]).toEqual({
      tool: 'config.sh',
      args: [
        '--unattended', '--ephemeral', '--replace', '--disableupdate', '--no-default-labels',
        '--url', 'https://github.com/acme',
        '--name', 'ubuntu-2404-207-aa11',
        '--labels', 'self-hosted,linux',
        '--runnergroup', group,
        '--work', '_work',
      ],
    });
    expect(existsSync(join(o.root, 'pwned6'))).toBe(false);
    expectPoweredOffLast(o);
  });

  it('a job that fails still powers the VM off, passing the runner status on', () => {
    const o = runOnce(formatRunnerEnv('ubuntu-2404-207-aaaa', { kind: 'jit', encodedJitConfig: JIT }), { FAKE_EXIT_RUN: '3' });
    expect(o.status).toBe(3);
    expectPoweredOffLast(o);
  });

  it('a registration that fails powers off without starting the runner', () => {
    const o = runOnce(formatRunnerEnv('ubuntu-2404-208-bbbb', hostile), { FAKE_EXIT_CONFIG: '1' });
    expect(o.status).toBe(1);
    expect(runnerCalls(o).map((c) => c.tool)).toEqual(['config.sh']);
    expectPoweredOffLast(o);
  });

  it.each([
    ['missing', undefined],
    ['malformed', 'RUNNER_JITCONFIG=unquoted\n'],
    ['shell code instead of data', 'RUNNER_JITCONFIG="x"; touch pwned\n'],
    ['incomplete', 'RUNNER_NAME="n"\nRUNNER_URL="https://github.com/a"\n'],
  ])('a %s runner.env starts nothing and powers off', (_name, text) => {
    const o = runOnce(text);
    expect(o.status).not.toBe(0);
    expect(o.calls.filter((c) => c.tool.endsWith('.sh'))).toEqual([]);
    expect(existsSync(join(o.root, 'pwned'))).toBe(false);
    expectPoweredOffLast(o);
  });

  it('reads every escape the daemon writes exactly as parseRunnerEnv does', () => {
    const name = 'ubuntu-2404-209-cccc';
    const labels = ['tab\there', 'cr\rhere', 'esc\x1bhere', 'del\x7fhere', 'quote"dollar$tick`', 'ラベル😀'];
    const o = runOnce(formatRunnerEnv(name, { kind: 'token', url: 'https://github.com/a', token: TOKEN, labels }));
    expect(runnerCalls(o)[0]!.args).toContain(labels.join(','));
  });
});
