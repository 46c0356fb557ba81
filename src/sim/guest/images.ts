/**
 * What a template's disk holds, by the contract of the scripts baked into it:
 * - `pve-runners` (runners/linux, runners/windows-2022): run-once reads runner.env, runs config.sh
 *   and run.sh (or run.sh with the JIT config) as the `runner` user, then powers the VM off;
 * - `energyplusci` (the Python predecessor, shared/seeds/001): /opt/actions-runner/run-once.sh
 *   `<url> <token> [labels] [name]` drops to user `ci`, runs config.sh --unattended --replace
 *   --ephemeral and run.sh; it does not power off (its user-data's power_state does).
 * These are models of the scripts' documented behaviour, kept consistent with runners/linux/run-once.sh
 * by test/sim-guest-run-once.test.ts; the scripts themselves are not interpreted.
 */
import { parseRunnerEnv, RunnerEnvError } from '../../cloudinit/runner-env.js';
import type { ScenarioTemplate } from '../scenario.js';
import type { Image, Machine, Proc, Program } from './machine.js';
import { configSh, runSh } from './runner.js';

/** run-once passes the organisation runner group only when runner.env names one. */
const groupArgs = (env: Record<string, string>): string[] => (env.RUNNER_GROUP ? ['--runnergroup', env.RUNNER_GROUP] : []);

const RUNNER_DIR = '/opt/actions-runner';

/**
 * The image's unit for delivery: guest-agent (runners/linux/pve-runners-agent.service, the
 * Windows image's scheduled task): run-once in its agent mode, which waits for a complete runner.env.
 */
const agentUnit = (windows: boolean): string[] => (windows ? ['c:\\actions-runner\\run-once.ps1', '-Agent'] : [`${RUNNER_DIR}/run-once.sh`, '--agent']);

/** The last line of a runner.env the daemon wrote through the guest agent (daemon/agent-delivery.ts). */
const COMPLETE_LINE = 'RUNNER_ENV_COMPLETE="1"\n';
/** run-once --agent gives up (and powers off) after this long without a complete file; RUNNER_ENV_WAIT overrides. */
const AGENT_WAIT_S = 3600;

/**
 * run-once --agent: polls each second until runner.env exists and ends with the completion line (a
 * write cut short never does), up to RUNNER_ENV_WAIT seconds; a file without it is never read.
 */
async function waitForCompleteFile(m: Machine, envFile: string, proc: Proc, log: (s: string) => void): Promise<boolean> {
  const limit = Number(proc.env.get('RUNNER_ENV_WAIT') || AGENT_WAIT_S);
  for (let waited = 0; ; waited++) {
    const f = m.fs.read(envFile);
    if (f && f.content.endsWith(COMPLETE_LINE) && (f.content.length === COMPLETE_LINE.length || f.content.endsWith(`\n${COMPLETE_LINE}`))) {
      m.event(`run-once --agent: ${envFile} is complete; starting the runner`);
      return true;
    }
    if (waited >= limit) {
      log(`${envFile} not complete after ${limit}s; nothing to run`);
      return false;
    }
    await m.sleepUntilWrite(1000);
  }
}

/** runners/linux/run-once.sh, step by step, with its overrides RUNNER_ENV_FILE, RUNNER_USER, RUNNER_POWEROFF, RUNNER_ENV_WAIT. */
const pveRunOnce: Program = async (argv, proc, io, m) => {
  const log = (s: string) => io.err(`pve-runners run-once: ${s}`);
  const envFile = m.fs.resolve(proc.env.get('RUNNER_ENV_FILE') || '/etc/pve-runners/runner.env', proc.cwd);
  const runAs = proc.env.get('RUNNER_USER') || 'runner';
  const asRunner = (argv: string[], env: Map<string, string>) =>
    m.exec(proc.user === 'root' && runAs !== 'root' ? ['runuser', '-u', runAs, '--', ...argv] : argv, { ...proc, cwd: RUNNER_DIR, env }, io);
  const run = async (): Promise<number> => {
    if (argv[1] === '--agent' && !(await waitForCompleteFile(m, envFile, proc, log))) return 1;
    const file = m.fs.read(envFile);
    if (!file) return (log(`${envFile} is missing: nothing to run`), 1);
    let env: Record<string, string>;
    try {
      env = parseRunnerEnv(file.content);
    } catch (e) {
      if (!(e instanceof RunnerEnvError)) throw e;
      return (log(`${envFile}: ${e.message}; refusing to guess`), 1);
    }
    m.fs.remove(envFile);
    if (env.RUNNER_JITCONFIG) {
      log(`starting JIT runner ${env.RUNNER_NAME ?? ''}`);
      return asRunner(['./run.sh'], new Map([...proc.env, ['ACTIONS_RUNNER_INPUT_JITCONFIG', env.RUNNER_JITCONFIG]]));
    }
    for (const key of ['RUNNER_URL', 'RUNNER_TOKEN', 'RUNNER_NAME', 'RUNNER_LABELS']) {
      if (!env[key]) return (log(`runner.env has neither RUNNER_JITCONFIG nor ${key}`), 1);
    }
    log(`registering ephemeral runner ${env.RUNNER_NAME}`);
    const status = await asRunner(
      ['./config.sh', '--unattended', '--ephemeral', '--replace', '--disableupdate', '--no-default-labels', '--url', env.RUNNER_URL!, '--name', env.RUNNER_NAME!, '--labels', env.RUNNER_LABELS!, ...groupArgs(env), '--work', '_work'],
      new Map([...proc.env, ['ACTIONS_RUNNER_INPUT_TOKEN', env.RUNNER_TOKEN!]]),
    );
    if (status !== 0) return status;
    return asRunner(['./run.sh'], new Map(proc.env));
  };
  const status = await run();
  // trap power_off EXIT: whatever happened, $POWEROFF runs (word-split, as the script does) — the VM goes down.
  log(`runner exited with status ${status}; powering off`);
  const poweroff = (proc.env.get('RUNNER_POWEROFF') || 'poweroff').split(/\s+/).filter(Boolean);
  await m.exec(poweroff, proc, io);
  return status;
};

/** runners/windows-2022/scripts/run-once.ps1: the same steps with config.cmd/run.cmd, then Stop-Computer. */
const pveRunOncePs1: Program = async (argv, proc, io, m) => {
  const dir = 'C:\\actions-runner';
  const envFile = m.fs.resolve('C:\\ProgramData\\pve-runners\\runner.env');
  const say = (s: string) => io.out(`pve-runners run-once: ${s}`);
  let exitCode = 1;
  const cwd = m.fs.resolve(dir);
  try {
    if (argv.slice(1).some((a) => a.toLowerCase() === '-agent') && !(await waitForCompleteFile(m, envFile, proc, say))) throw new RunnerEnvError(`${envFile} never became complete`);
    const file = m.fs.read(envFile);
    if (!file) throw new RunnerEnvError(`Could not find file '${envFile}'.`);
    const env = parseRunnerEnv(file.content);
    m.fs.remove(envFile);
    if (env.RUNNER_JITCONFIG) {
      exitCode = await m.exec([`${dir}\\run.cmd`], { ...proc, cwd, env: new Map([...proc.env, ['ACTIONS_RUNNER_INPUT_JITCONFIG', env.RUNNER_JITCONFIG]]) }, io);
    } else {
      for (const k of ['RUNNER_URL', 'RUNNER_TOKEN', 'RUNNER_NAME', 'RUNNER_LABELS']) if (!env[k]) throw new RunnerEnvError(`runner.env has neither RUNNER_JITCONFIG nor ${k}`);
      const c = await m.exec([`${dir}\\config.cmd`, '--unattended', '--ephemeral', '--replace', '--disableupdate', '--no-default-labels', '--url', env.RUNNER_URL!, '--name', env.RUNNER_NAME!, '--labels', env.RUNNER_LABELS!, ...groupArgs(env), '--work', '_work'],
        { ...proc, cwd, env: new Map([...proc.env, ['ACTIONS_RUNNER_INPUT_TOKEN', env.RUNNER_TOKEN!]]) }, io);
      if (c !== 0) throw new RunnerEnvError(`config.cmd failed with exit code ${c}`);
      exitCode = await m.exec([`${dir}\\run.cmd`], { ...proc, cwd, env: new Map(proc.env) }, io);
    }
  } catch (e) {
    if (!(e instanceof RunnerEnvError)) throw e;
    say(e.message);
  }
  say(`runner exited with ${exitCode}; shutting down`);
  return m.powerOff('run-once.ps1');
};

/** `powershell.exe ... -File script`: runs the image's script (nothing else of PowerShell is modelled). */
const powershell: Program = async (argv, proc, io, m) => {
  const i = argv.findIndex((a) => a.toLowerCase() === '-file');
  if (i < 0 || !argv[i + 1]) return (io.err('powershell.exe: only -File <script> is modelled'), 1);
  return m.exec([argv[i + 1]!, ...argv.slice(i + 2)], proc, io);
};

/** The predecessor's run-once.sh, by its usage line and steps (seed 001 "Runner Bootstrap Flow"). */
const energyplusRunOnce: Program = async (argv, proc, io, m) => {
  const args = argv.slice(1);
  if (args.length < 2) return (io.err(`usage: ${argv[0]} <repo_or_org_url> <registration_token> [labels] [runner_name]`), 2);
  if (proc.user === 'root') return m.exec(['/usr/sbin/runuser', '-u', proc.env.get('RUNNER_USER') || 'ci', '--', argv[0]!, ...args], proc, io);
  const [url, token, labels = 'energyplus,linux,x64,ubuntu-24.04', name = m.fs.hostname] = args as [string, string, string?, string?];
  const here: Proc = { ...proc, cwd: RUNNER_DIR };
  let status = await m.exec(['./config.sh', '--unattended', '--replace', '--ephemeral', '--url', url, '--token', token, '--name', name, '--labels', labels], here, io);
  if (status === 0) status = await m.exec(['./run.sh'], here, io); // set -e: a failed config.sh ends the script
  // trap cleanup EXIT: a runner still configured is removed (`config.sh remove`, `|| true`).
  if (m.fs.read(`${RUNNER_DIR}/.runner`)) await m.exec(['./config.sh', 'remove', '--token', token], here, io);
  return status;
};

export function imageFor(t: ScenarioTemplate): Image {
  const windows = t.image === 'pve-runners' && /windows/i.test(t.name);
  const programs = new Map<string, Program>();
  if (windows) {
    const dir = 'c:\\actions-runner';
    programs.set('powershell.exe', powershell);
    programs.set(`${dir}\\run-once.ps1`, pveRunOncePs1);
    programs.set(`${dir}\\config.cmd`, configSh(dir));
    programs.set(`${dir}\\run.cmd`, runSh(dir));
  } else {
    programs.set(`${RUNNER_DIR}/config.sh`, configSh(RUNNER_DIR));
    programs.set(`${RUNNER_DIR}/run.sh`, runSh(RUNNER_DIR));
    programs.set(`${RUNNER_DIR}/run-once.sh`, t.image === 'energyplusci' ? energyplusRunOnce : pveRunOnce);
  }
  const runnerUser = t.image === 'energyplusci' ? 'ci' : 'runner';
  return {
    kind: windows ? 'pve-runners (Windows)' : t.image,
    os: windows ? 'Windows' : 'Linux',
    arch: 'X64',
    runnerVersion: t.runnerVersion,
    ...(t.image === 'pve-runners' ? { agentUnit: agentUnit(windows) } : {}),
    sudoers: new Set([runnerUser]),
    programs,
    setup: (disk) => {
      disk.users.set(windows ? 'SYSTEM' : 'root', { uid: 0, home: windows ? 'C:\\Windows\\system32\\config\\systemprofile' : '/root' });
      disk.users.set(runnerUser, { uid: runnerUser === 'ci' ? 1000 : 1001, home: `/home/${runnerUser}` });
      for (const d of ['/root', `/home/${runnerUser}`, RUNNER_DIR, '/etc/pve-runners', '/usr/local/bin', '/tmp', '/var/log']) disk.mkdir(d, true);
      for (const p of programs.keys()) if (p.startsWith('/')) disk.write(p, '', { mode: 0o755, owner: runnerUser, group: runnerUser });
    },
  };
}
