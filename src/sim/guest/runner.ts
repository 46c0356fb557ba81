/**
 * The actions runner in the guest, by actions/runner 2.33x's own code: config.sh
 * (Runner.Listener configure: CommandSettings.cs, ConfigurationManager.cs) registers through the
 * simulated GitHub and saves `.runner`/`.credentials`; run.sh (run-helper.sh, Runner.cs,
 * Program.cs) starts the listener from them or from `--jitconfig`, takes jobs until GitHub ends the
 * session (an ephemeral runner after one job), and exits 0 for every terminal error, as run-helper does.
 */
import type { RunnerCredentials, RunnerExit } from '../contracts.js';
import type { Io, Machine, Proc, Program } from './machine.js';

const FLAGS = new Set(['check', 'commit', 'disableupdate', 'ephemeral', 'generateserviceconfig', 'help', 'no-default-labels', 'replace', 'runasservice', 'unattended', 'version', 'local', 'once']);
const CONFIG_ARGS = new Set(['auth', 'labels', 'monitorsocketaddress', 'name', 'pat', 'runnergroup', 'token', 'url', 'username', 'windowslogonaccount', 'windowslogonpassword', 'work']);
const RUN_ARGS = new Set(['jitconfig', 'startuptype']);
const ENV_PREFIX = 'ACTIONS_RUNNER_INPUT_';

interface Parsed {
  commands: string[];
  flags: Set<string>;
  args: Map<string, string>;
  unknown: string[];
}

/** CommandLineParser + CommandSettings: `--flag`, `--arg value`, ACTIONS_RUNNER_INPUT_<NAME> env. */
function parse(argv: string[], env: Map<string, string>, validArgs: Set<string>): Parsed {
  const p: Parsed = { commands: [], flags: new Set(), args: new Map(), unknown: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      p.commands.push(a.toLowerCase());
      continue;
    }
    const name = a.slice(2).toLowerCase();
    if (FLAGS.has(name)) p.flags.add(name);
    else {
      if (!validArgs.has(name)) p.unknown.push(name);
      p.args.set(name, argv[i + 1] ?? '');
      i++;
    }
  }
  for (const [k, v] of env) {
    if (!k.toUpperCase().startsWith(ENV_PREFIX) || !v.trim()) continue;
    const name = k.slice(ENV_PREFIX.length).toLowerCase();
    if (!p.args.has(name)) p.args.set(name, v.trim());
    if (FLAGS.has(name) && v.trim().toLowerCase() === 'true') p.flags.add(name);
  }
  return p;
}

/** The runner refuses root unless RUNNER_ALLOW_RUNASROOT (config.sh, run-helper.sh.template). */
function rootRefused(proc: Proc, m: Machine): boolean {
  return m.image.os === 'Linux' && proc.user === 'root' && !proc.env.get('RUNNER_ALLOW_RUNASROOT');
}

const join = (dir: string, file: string, m: Machine): string => m.fs.resolve(m.image.os === 'Windows' ? `${dir}\\${file}` : `${dir}/${file}`);

export function configSh(dir: string): Program {
  return async (argv, proc, io, m) => {
    m.ctx.recorder.timeline.runnerProcess(m.vmid, 'config');
    if (rootRefused(proc, m)) {
      io.out('Must not run with sudo');
      return 1;
    }
    const p = parse(argv.slice(1), proc.env, CONFIG_ARGS);
    if (p.unknown.length) io.err(`Unrecognized command-line input arguments for command configure: '${p.unknown.join(', ')}'. For usage refer to: .\\config.cmd --help or ./config.sh --help`);
    if (p.commands.length) {
      io.err(`config.sh ${p.commands.join(' ')}: not modelled (only configuring is)`);
      return 1;
    }
    if (m.fs.read(join(dir, '.runner', m))) {
      io.err("Cannot configure the runner because it is already configured. To reconfigure the runner, run 'config.cmd remove' or './config.sh remove' first.");
      return 1;
    }
    // Without --unattended config.sh would prompt; cloud-init's stdin is /dev/null, so a missing value fails either way.
    const required = (name: string): string | undefined => {
      const v = p.args.get(name);
      if (v) return v;
      io.err(`Invalid configuration provided for ${name}. Terminating unattended configuration.`);
      return undefined;
    };
    const url = required('url');
    if (!url) return 1;
    if (!/^https?:\/\/[^/]+/.test(url)) return (io.err(`Invalid configuration provided for url. Terminating unattended configuration.`), 1);
    const token = required('token');
    if (!token) return 1;
    const labelsArg = p.args.get('labels') ?? '';
    // GetLabels: split on ',', empties dropped, no trimming, a case-insensitive set; each at most 256 characters.
    const user = dedupe(labelsArg.split(',').filter((l) => l !== ''));
    if (user.some((l) => l.length > 256)) return (io.err('Invalid configuration provided for labels. Terminating unattended configuration.'), 1);
    const noDefaults = p.flags.has('no-default-labels');
    if (noDefaults && user.length === 0) return (io.err('Disabling default labels via --no-default-labels without specifying --labels is not supported'), 1);
    const labels = dedupe([...(noDefaults ? [] : ['self-hosted', m.image.os, m.image.arch]), ...user]);
    const name = p.args.get('name') || m.fs.hostname;
    const work = p.args.get('work') || '_work';
    io.out('√ Connected to GitHub');
    const result = await m.wait<Parameters<Parameters<Machine['broker']['configure']>[1]>[0]>((resolve) => {
      m.broker.configure({
        url, token, name, labels, group: p.args.get('runnergroup'), ephemeral: p.flags.has('ephemeral'), replace: p.flags.has('replace'),
        disableUpdate: p.flags.has('disableupdate'), version: m.image.runnerVersion, os: m.image.os,
      }, resolve);
      return () => undefined;
    });
    if (!result.ok) {
      io.err(result.message);
      return 1;
    }
    const owner = { owner: proc.user, group: proc.user, mode: 0o644 };
    m.fs.write(join(dir, '.runner', m), JSON.stringify({
      agentId: String(result.runnerId), agentName: name, poolId: String(result.groupId), poolName: result.groupName,
      disableUpdate: String(p.flags.has('disableupdate')), ephemeral: String(p.flags.has('ephemeral')), gitHubUrl: url, workFolder: work,
    }), owner);
    m.fs.write(join(dir, '.credentials', m), JSON.stringify({ scheme: 'OAuth', data: { clientId: result.clientId } }), { ...owner, mode: 0o600 });
    io.out('√ Runner successfully added');
    io.out('√ Settings Saved.');
    return 0;
  };
}

function dedupe(labels: string[]): string[] {
  const seen = new Set<string>();
  return labels.filter((l) => !seen.has(l.toLowerCase()) && seen.add(l.toLowerCase()));
}

/** Listener exits: run-helper.sh maps every terminal return code to exit 0, then run.sh exits 0. */
function listenerDone(io: Io, message?: string): number {
  if (message) io.err(`An error occurred: ${message}`);
  io.out(message ? 'Runner listener exit with terminated error, stop the service, no retry needed.' : 'Runner listener exit with 0 return code, stop the service, no retry needed.');
  io.out('Exiting runner...');
  return 0;
}

export function runSh(dir: string): Program {
  return async (argv, proc, io, m) => {
    m.ctx.recorder.timeline.runnerProcess(m.vmid, 'run');
    if (rootRefused(proc, m)) {
      io.out('Must not run interactively with sudo');
      return 1;
    }
    const p = parse(argv.slice(1), proc.env, RUN_ARGS);
    const jit = p.args.get('jitconfig');
    const runnerFile = join(dir, '.runner', m);
    const credFile = join(dir, '.credentials', m);
    let creds: RunnerCredentials;
    if (jit) {
      const files = decodeJit(jit);
      if (!files) return listenerDone(io, 'The input is not a valid Base-64 string.');
      for (const [f, content] of files) m.fs.write(join(dir, f, m), content, { owner: proc.user, group: proc.user, mode: 0o600 });
      creds = { kind: 'jit', encodedJitConfig: jit };
    } else {
      const saved = readSaved(m.fs.read(runnerFile)?.content, m.fs.read(credFile)?.content);
      if (!saved) {
        io.err('Runner is not configured.');
        return listenerDone(io);
      }
      creds = { kind: 'configured', ...saved };
    }
    io.out('√ Connected to GitHub');
    io.out(`Current runner version: '${m.image.runnerVersion}'`);
    io.out('Listening for Jobs');
    let runnerId: number | undefined;
    const exit = await m.wait<RunnerExit>((resolve) => {
      runnerId = m.broker.connect(creds, resolve, m.image.runnerVersion);
      return () => {
        if (runnerId !== undefined) m.broker.lost(runnerId);
      };
    });
    if (exit.reason === 'job-done') {
      io.out(`Job completed with result: ${exit.conclusion === 'success' ? 'Succeeded' : exit.conclusion === 'failure' ? 'Failed' : 'Canceled'}`);
      // An ephemeral runner deletes its local configuration once GitHub removed the registration.
      for (const f of ['.runner', '.credentials', '.credentials_rsaparams']) m.fs.remove(join(dir, f, m));
      return listenerDone(io);
    }
    return listenerDone(io, exit.message);
  };
}

function decodeJit(encoded: string): Map<string, string> | undefined {
  try {
    const files = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as unknown;
    if (!files || typeof files !== 'object') return undefined;
    return new Map(Object.entries(files as Record<string, unknown>).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]));
  } catch {
    return undefined;
  }
}

function readSaved(runner: string | undefined, cred: string | undefined): { runnerId: number; clientId: string } | undefined {
  if (runner === undefined || cred === undefined) return undefined;
  try {
    const r = JSON.parse(runner) as { agentId?: unknown };
    const c = JSON.parse(cred) as { data?: { clientId?: unknown } };
    const runnerId = Number(r.agentId);
    return Number.isInteger(runnerId) && typeof c.data?.clientId === 'string' ? { runnerId, clientId: c.data.clientId } : undefined;
  } catch {
    return undefined;
  }
}
