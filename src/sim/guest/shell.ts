/**
 * The guest's sh: runs a script parsed by shell-parse.ts in one shell process, with shell
 * variables, `export`, `cd`, `source`/`.`, `set -e`/`-u`, `exit`, and redirection of output to files;
 * every other command goes to the machine's exec (commands.ts, the image's programs, scripts on disk).
 * A command that cannot be found fails with 127, as in sh — nothing unknown succeeds quietly.
 */
import { FsError } from './fs.js';
import type { Io, Machine, Proc } from './machine.js';
import { type AndOr, ASSIGN_RE, expandAssignment, expandWord, logicalLines, parseScript, ShellSyntax, ShellUnsupported, type ExpandEnv, type SimpleCommand } from './shell-parse.js';

interface Shell {
  proc: Proc;
  vars: Map<string, string>;
  exported: Set<string>;
  positional: string[];
  status: number;
  errexit: boolean;
  nounset: boolean;
}

class ExitScript extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/** Runs `text` as `sh -c`-like script in a new shell process; returns its exit status. */
export async function runScript(m: Machine, text: string, proc: Proc, args: string[], io: Io): Promise<number> {
  const sh: Shell = {
    proc: { ...proc, env: new Map(proc.env) }, vars: new Map(proc.env), exported: new Set(proc.env.keys()),
    positional: args, status: 0, errexit: false, nounset: false,
  };
  try {
    await runIn(m, sh, text, io);
    return sh.status;
  } catch (e) {
    if (e instanceof ExitScript) return e.status;
    throw e;
  }
}

async function runIn(m: Machine, sh: Shell, text: string, io: Io): Promise<void> {
  for (const line of logicalLines(text)) {
    let items;
    try {
      items = parseScript(line);
    } catch (e) {
      if (!(e instanceof ShellSyntax || e instanceof ShellUnsupported)) throw e;
      io.err(`sh: ${e.message}`);
      throw new ExitScript(2);
    }
    await runItems(m, sh, items, io);
  }
}

async function runItems(m: Machine, sh: Shell, items: AndOr[], io: Io): Promise<void> {
  for (const item of items) {
    let status = (sh.status = await simple(m, sh, item.cmds[0]!, io));
    let lastRan = item.ops.length === 0;
    for (let i = 0; i < item.ops.length; i++) {
      const op = item.ops[i]!;
      lastRan = false;
      if ((op === '&&' && status !== 0) || (op === '||' && status === 0)) continue;
      status = sh.status = await simple(m, sh, item.cmds[i + 1]!, io);
      lastRan = i === item.ops.length - 1;
    }
    sh.status = status;
    // set -e ends the script on a failing list, but not on a failure left of && or || (POSIX `set -e`).
    if (sh.errexit && status !== 0 && lastRan) throw new ExitScript(status);
  }
}

function expandEnv(sh: Shell): ExpandEnv {
  return {
    get: (name) => {
      const v = sh.vars.get(name);
      if (v === undefined && sh.nounset) throw new ShellUnsupported(`${name}: parameter not set`);
      return v;
    },
    positional: sh.positional,
    status: sh.status,
    home: homeOf(sh),
  };
}

function homeOf(sh: Shell): string {
  return sh.vars.get('HOME') ?? '/root';
}

async function simple(m: Machine, sh: Shell, cmd: SimpleCommand, io: Io): Promise<number> {
  let argv: string[];
  let assigns: Array<[string, string]>;
  let out: Io;
  let flush: () => void;
  try {
    const env = expandEnv(sh);
    assigns = cmd.assigns.map((a) => expandAssignment(a, env));
    argv = cmd.words.flatMap((w) => expandWord(w, env));
    ({ out, flush } = redirect(m, sh, cmd, io, env));
  } catch (e) {
    if (!(e instanceof ShellUnsupported || e instanceof ShellSyntax || e instanceof FsError)) throw e;
    io.err(`sh: ${e.message}`);
    if (sh.nounset) throw new ExitScript(2);
    return 2;
  }
  if (argv.length === 0) {
    for (const [k, v] of assigns) sh.vars.set(k, v);
    flush();
    return 0;
  }
  try {
    const builtin = BUILTINS[argv[0]!];
    if (builtin) {
      for (const [k, v] of assigns) sh.vars.set(k, v);
      return await builtin(m, sh, argv, out);
    }
    const env = new Map([...sh.exported].flatMap((k) => (sh.vars.has(k) ? [[k, sh.vars.get(k)!] as [string, string]] : [])));
    for (const [k, v] of assigns) env.set(k, v);
    return await m.exec(argv, { ...sh.proc, env }, out);
  } finally {
    flush();
  }
}

/** `> file`, `>> file`, `2>&1`, `>&2`: output is collected and written when the command ends. */
function redirect(m: Machine, sh: Shell, cmd: SimpleCommand, io: Io, env: ExpandEnv): { out: Io; flush: () => void } {
  const sinks: { 1: (l: string) => void; 2: (l: string) => void } = { 1: (l) => io.out(l), 2: (l) => io.err(l) };
  const files: Array<{ path: string; lines: string[]; append: boolean }> = [];
  for (const r of cmd.redirs) {
    if (r.op === '>&') {
      sinks[r.fd] = r.target === '1' ? sinks[1] : sinks[2];
      continue;
    }
    const [target] = expandWord(r.target, env);
    if (target === undefined) throw new ShellSyntax('ambiguous redirect');
    if (target === '/dev/null') {
      sinks[r.fd] = () => undefined;
      continue;
    }
    const f = { path: m.fs.resolve(target, sh.proc.cwd), lines: [] as string[], append: r.op === '>>' };
    if (m.fs.isDir(f.path)) throw new FsError(`${target}: Is a directory`);
    files.push(f);
    sinks[r.fd] = (l) => f.lines.push(l);
  }
  return {
    out: { out: (l) => sinks[1](l), err: (l) => sinks[2](l) },
    flush: () => {
      for (const f of files) m.fs.write(f.path, f.lines.map((l) => `${l}\n`).join(''), { append: f.append, owner: sh.proc.user, group: sh.proc.user });
      files.length = 0;
    },
  };
}

type Builtin = (m: Machine, sh: Shell, argv: string[], io: Io) => Promise<number>;

const BUILTINS: Record<string, Builtin> = {
  cd: async (m, sh, argv, io) => {
    const dir = m.fs.resolve(argv[1] ?? homeOf(sh), sh.proc.cwd);
    if (!m.fs.isDir(dir)) {
      io.err(`sh: cd: can't cd to ${argv[1] ?? ''}`);
      return 2;
    }
    sh.proc = { ...sh.proc, cwd: dir };
    sh.vars.set('PWD', dir);
    return 0;
  },
  export: async (_m, sh, argv) => {
    for (const a of argv.slice(1)) {
      if (ASSIGN_RE.test(a)) {
        const eq = a.indexOf('=');
        sh.vars.set(a.slice(0, eq), a.slice(eq + 1));
        sh.exported.add(a.slice(0, eq));
      } else sh.exported.add(a);
    }
    return 0;
  },
  unset: async (_m, sh, argv) => {
    for (const a of argv.slice(1)) {
      sh.vars.delete(a);
      sh.exported.delete(a);
    }
    return 0;
  },
  set: async (_m, sh, argv, io) => {
    for (const a of argv.slice(1)) {
      if (a === '-o' || a === 'pipefail') continue; // `set -o pipefail`: no pipelines to fail
      if (!/^[-+][euxo]+$/.test(a)) {
        io.err(`sh: set: ${a}: not modelled`);
        return 2;
      }
      const on = a.startsWith('-');
      if (a.includes('e')) sh.errexit = on;
      if (a.includes('u')) sh.nounset = on;
    }
    return 0;
  },
  exit: async (_m, sh, argv) => {
    throw new ExitScript(argv[1] === undefined ? sh.status : Number(argv[1]) & 255);
  },
  source: (m, sh, argv, io) => source(m, sh, argv, io),
  '.': (m, sh, argv, io) => source(m, sh, argv, io),
  true: async () => 0,
  ':': async () => 0,
  false: async () => 1,
  echo: async (_m, _sh, argv, io) => {
    const noNewline = argv[1] === '-n';
    io.out(argv.slice(noNewline ? 2 : 1).join(' '));
    return 0;
  },
};

/** `. file`: the file's commands run in this shell, so its assignments stay (how env files are read). */
async function source(m: Machine, sh: Shell, argv: string[], io: Io): Promise<number> {
  const name = argv[1];
  if (name === undefined) {
    io.err('sh: .: filename argument required');
    return 2;
  }
  const file = m.fs.read(m.fs.resolve(name, sh.proc.cwd));
  if (!file) {
    io.err(`sh: .: cannot open ${name}: No such file`);
    throw new ExitScript(2); // a special builtin's error ends a non-interactive sh
  }
  if (!readable(file, sh.proc.user)) {
    io.err(`sh: .: cannot open ${name}: Permission denied`);
    throw new ExitScript(2);
  }
  await runIn(m, sh, file.content, io);
  return sh.status;
}

/** Owner bits for the owner, other bits for everyone else; root reads everything. */
export function readable(file: { mode: number; owner: string }, user: string): boolean {
  if (user === 'root') return true;
  return file.owner === user ? (file.mode & 0o400) !== 0 : (file.mode & 0o004) !== 0;
}
