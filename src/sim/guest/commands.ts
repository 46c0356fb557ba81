/**
 * How the guest finds and runs a command: the image's native programs, a few coreutils and
 * util-linux/sudo commands, a named allow-list of commands with no effect here, then files on the
 * guest's disk (shell scripts run by shell.ts). Anything else is `not found` (127).
 */
import { FsError } from './fs.js';
import type { Io, Machine, Proc, Program } from './machine.js';
import { readable, runScript } from './shell.js';

const PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Accepted and ignored: they configure things the simulation has no model of (docs/simulator.md). */
export const NO_EFFECT = new Set(['systemctl', 'apt-get', 'apt', 'logger', 'sync', 'hostnamectl', 'timedatectl', 'loginctl', 'sysctl']);

const fail = (io: Io, msg: string, status = 1): number => {
  io.err(msg);
  return status;
};

function asUser(m: Machine, user: string, env: Map<string, string>, login: boolean, cwd: string): Proc | undefined {
  const u = m.fs.users.get(user);
  if (!u) return undefined;
  const next = new Map(login ? [['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']] : env);
  next.set('HOME', u.home);
  next.set('USER', user);
  next.set('LOGNAME', user);
  next.set('SHELL', '/bin/bash');
  return { user, cwd: login ? u.home : cwd, env: next };
}

function octalOrPlusX(spec: string, old: number): number | undefined {
  if (/^[0-7]{3,4}$/.test(spec)) return parseInt(spec, 8);
  const m = /^([ugoa]*)\+x$/.exec(spec);
  if (!m) return undefined;
  const who = m[1] || 'a';
  let bits = 0;
  if (/[ua]/.test(who)) bits |= 0o100;
  if (/[ga]/.test(who)) bits |= 0o010;
  if (/[oa]/.test(who)) bits |= 0o001;
  return old | bits;
}

const COMMANDS: Record<string, Program> = {
  mkdir: async (argv, proc, io, m) => {
    const parents = argv.includes('-p');
    for (const d of argv.slice(1).filter((a) => !a.startsWith('-'))) {
      try {
        m.fs.mkdir(m.fs.resolve(d, proc.cwd), parents);
      } catch (e) {
        if (e instanceof FsError) return fail(io, `mkdir: ${e.message}`);
        throw e;
      }
    }
    return 0;
  },
  chmod: async (argv, proc, io, m) => {
    const [spec, ...paths] = argv.slice(1).filter((a) => a !== '-R');
    if (!spec || !paths.length) return fail(io, 'chmod: missing operand');
    for (const p of paths) {
      const path = m.fs.resolve(p, proc.cwd);
      const mode = octalOrPlusX(spec, m.fs.read(path)?.mode ?? 0o755);
      if (mode === undefined) return fail(io, `chmod: mode '${spec}' is not modelled (octal or [ugoa]+x)`);
      try {
        m.fs.chmod(path, mode);
      } catch (e) {
        if (e instanceof FsError) return fail(io, `chmod: ${e.message}`);
        throw e;
      }
    }
    return 0;
  },
  chown: async (argv, proc, io, m) => {
    if (proc.user !== 'root') return fail(io, 'chown: Operation not permitted');
    const [spec, ...paths] = argv.slice(1).filter((a) => a !== '-R');
    if (!spec || !paths.length) return fail(io, 'chown: missing operand');
    const [owner, group] = spec.split(':');
    for (const p of paths) {
      try {
        m.fs.chown(m.fs.resolve(p, proc.cwd), owner!, group);
      } catch (e) {
        if (e instanceof FsError) return fail(io, `chown: ${e.message}`);
        throw e;
      }
    }
    return 0;
  },
  cat: async (argv, proc, io, m) => {
    if (argv.length === 1 && io.stdin) io.stdin.replace(/\n$/, '').split('\n').forEach((l) => io.out(l));
    for (const p of argv.slice(1)) {
      const f = m.fs.read(m.fs.resolve(p, proc.cwd));
      if (!f) return fail(io, `cat: ${p}: No such file or directory`);
      if (!readable(f, proc.user)) return fail(io, `cat: ${p}: Permission denied`);
      f.content.replace(/\n$/, '').split('\n').forEach((l) => io.out(l));
    }
    return 0;
  },
  rm: async (argv, proc, io, m) => {
    const force = argv.some((a) => /^-[a-z]*f/.test(a));
    for (const p of argv.slice(1).filter((a) => !a.startsWith('-'))) {
      if (!m.fs.remove(m.fs.resolve(p, proc.cwd)) && !force) return fail(io, `rm: cannot remove '${p}': No such file or directory`);
    }
    return 0;
  },
  touch: async (argv, proc, io, m) => {
    for (const p of argv.slice(1)) {
      const path = m.fs.resolve(p, proc.cwd);
      try {
        if (!m.fs.read(path)) m.fs.write(path, '', { owner: proc.user, group: proc.user });
      } catch (e) {
        if (e instanceof FsError) return fail(io, `touch: ${e.message}`);
        throw e;
      }
    }
    return 0;
  },
  hostname: async (argv, _proc, io, m) => {
    if (argv.length > 1) return fail(io, 'hostname: setting the host name is not modelled');
    io.out(m.fs.hostname);
    return 0;
  },
  sleep: async (argv, _proc, io, m) => {
    const s = Number(argv[1]);
    if (!(s >= 0)) return fail(io, `sleep: invalid time interval '${argv[1] ?? ''}'`);
    await m.sleep(s * 1000);
    return 0;
  },
  // util-linux runuser: only root; -u keeps the environment but HOME/SHELL/USER/LOGNAME.
  runuser: async (argv, proc, io, m) => {
    if (proc.user !== 'root') return fail(io, 'runuser: may not be used by non-root users');
    const i = argv.indexOf('-u');
    if (i < 0 || !argv[i + 1]) return fail(io, 'runuser: only the -u USER [--] COMMAND form is modelled');
    const rest = argv.slice(i + 2);
    const cmd = rest[0] === '--' ? rest.slice(1) : rest;
    const as = asUser(m, argv[i + 1]!, proc.env, false, proc.cwd);
    if (!as) return fail(io, `runuser: user ${argv[i + 1]} does not exist or the user entry does not contain all the required fields`);
    if (!cmd.length) return fail(io, 'runuser: no command');
    return m.exec(cmd, as, io);
  },
  // sudo with Ubuntu's defaults: env_reset (only VAR=value arguments, or everything with -E), HOME set.
  sudo: async (argv, proc, io, m) => {
    let k = 1;
    let user = 'root';
    let keep = false;
    for (; k < argv.length && argv[k]!.startsWith('-'); k++) {
      const a = argv[k]!;
      if (a === '--') { k++; break; }
      if (a === '-u') user = argv[++k] ?? '';
      else if (a === '-E' || a === '--preserve-env') keep = true;
      else if (a !== '-H' && a !== '-n') return fail(io, `sudo: option ${a} is not modelled`);
    }
    if (proc.user !== 'root' && !m.image.sudoers.has(proc.user)) return fail(io, `sudo: a password is required`);
    const env = new Map<string, string>(keep ? proc.env : []);
    for (; k < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[k]!); k++) {
      const eq = argv[k]!.indexOf('=');
      env.set(argv[k]!.slice(0, eq), argv[k]!.slice(eq + 1));
    }
    const as = asUser(m, user, env, false, proc.cwd);
    if (!as) return fail(io, `sudo: unknown user ${user}`);
    if (!keep) as.env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (k >= argv.length) return fail(io, 'usage: sudo -u user command');
    return m.exec(argv.slice(k), as, io);
  },
  // su [-|-l] USER -c COMMAND: root needs no password; `-` is a login shell (fresh env, home directory).
  su: async (argv, proc, io, m) => {
    const args = argv.slice(1);
    const login = args[0] === '-' || args[0] === '-l' || args[0] === '--login';
    if (login) args.shift();
    const user = args.shift();
    if (user === undefined || args[0] !== '-c' || args[1] === undefined) return fail(io, 'su: only su [-] USER -c COMMAND is modelled');
    if (proc.user !== 'root') return fail(io, 'su: Authentication failure');
    const as = asUser(m, user, proc.env, login, proc.cwd);
    if (!as) return fail(io, `su: user ${user} does not exist or the user entry does not contain all the required fields`);
    return runScript(m, args[1], as, [], io);
  },
  poweroff: async (_argv, proc, io, m) => (proc.user === 'root' ? m.powerOff('poweroff') : fail(io, 'poweroff: Access denied')),
  halt: async (_argv, proc, io, m) => (proc.user === 'root' ? m.powerOff('halt') : fail(io, 'halt: Access denied')),
  shutdown: async (argv, proc, io, m) => {
    if (argv.includes('-r')) return fail(io, 'shutdown: reboot is not modelled');
    return proc.user === 'root' ? m.powerOff('shutdown') : fail(io, 'shutdown: Access denied');
  },
};

COMMANDS.systemctl = async (argv, proc, io, m) => (argv[1] === 'poweroff' || argv[1] === 'halt' ? COMMANDS.poweroff!(argv, proc, io, m) : 0);

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * What execvp (glib's g_spawn with SEARCH_PATH) finds for `name`, without a shell: the errno it
 * fails with, or undefined when there is a program to run. `true`, `false` and `test` are coreutils
 * binaries too, though sh answers them as builtins.
 */
export function spawnError(m: Machine, name: string): 'No such file or directory' | 'Permission denied' | undefined {
  if (!name.includes('/')) {
    if (m.image.programs.has(name) || COMMANDS[name] || NO_EFFECT.has(name) || COREUTILS[name]) return undefined;
    const found = PATH.map((d) => `${d}/${name}`).find((p) => m.image.programs.has(p) || m.fs.read(p));
    return found === undefined ? 'No such file or directory' : spawnError(m, found);
  }
  const path = m.fs.resolve(name);
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const base = basename(path);
  if (m.image.programs.has(path) || (PATH.includes(dir) && (COMMANDS[base] || NO_EFFECT.has(base) || COREUTILS[base]))) return undefined;
  const f = m.fs.read(path);
  if (!f) return 'No such file or directory';
  return (f.mode & 0o111) === 0 ? 'Permission denied' : undefined;
}

/** coreutils' true, false and test (-e/-f/-d/-n/-z, =, !=) run as programs, not as sh builtins. */
const COREUTILS: Record<string, Program> = {
  true: async () => 0,
  false: async () => 1,
  test: async (argv, proc, io, m) => {
    const a = argv.slice(1);
    if (a.length === 0) return 1;
    if (a.length === 1) return a[0] !== '' ? 0 : 1;
    if (a.length === 2) {
      const path = m.fs.resolve(a[1]!, proc.cwd);
      switch (a[0]) {
        case '-e': return m.fs.exists(path) ? 0 : 1;
        case '-f': return m.fs.read(path) ? 0 : 1;
        case '-d': return m.fs.isDir(path) ? 0 : 1;
        case '-n': return a[1] !== '' ? 0 : 1;
        case '-z': return a[1] === '' ? 0 : 1;
      }
    }
    if (a.length === 3 && (a[1] === '=' || a[1] === '!=')) return (a[0] === a[2]) === (a[1] === '=') ? 0 : 1;
    return fail(io, `test: only -e/-f/-d/-n/-z FILE and = / != are modelled`, 2);
  },
};

export async function exec(m: Machine, argv: string[], proc: Proc, io: Io): Promise<number> {
  const name = argv[0]!;
  const bare = !name.includes('/') && !name.includes('\\');
  if (bare) {
    const native = m.image.programs.get(name) ?? COMMANDS[name] ?? COREUTILS[name] ?? (NO_EFFECT.has(name) ? async () => 0 : undefined);
    if (native) return native(argv, proc, io, m);
    for (const dir of PATH) {
      const p = `${dir}/${name}`;
      if (m.image.programs.has(p) || m.fs.read(p)) return runFile(m, p, argv, proc, io);
    }
    return fail(io, `sh: ${name}: not found`, 127);
  }
  const path = m.fs.resolve(name, proc.cwd);
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const system = PATH.includes(dir) ? (COMMANDS[basename(path)] ?? COREUTILS[basename(path)] ?? (NO_EFFECT.has(basename(path)) ? async () => 0 : undefined)) : undefined;
  if (system && !m.image.programs.has(path)) return system(argv, proc, io, m);
  return runFile(m, path, argv, proc, io);
}

const SHEBANG = /^#!\s*(\/bin\/(ba)?sh|\/usr\/bin\/env (ba)?sh)\b/;

async function runFile(m: Machine, path: string, argv: string[], proc: Proc, io: Io): Promise<number> {
  const native = m.image.programs.get(path);
  if (native) return native(argv, proc, io, m);
  const f = m.fs.read(path);
  if (!f) return fail(io, `sh: ${argv[0]}: not found`, 127);
  const x = proc.user === 'root' ? (f.mode & 0o111) !== 0 : f.owner === proc.user ? (f.mode & 0o100) !== 0 : (f.mode & 0o001) !== 0;
  if (!x || !readable(f, proc.user)) return fail(io, `sh: ${argv[0]}: Permission denied`, 126);
  if (!SHEBANG.test(f.content)) return fail(io, `sh: ${argv[0]}: only sh/bash scripts are modelled`, 126);
  return runScript(m, f.content, proc, argv.slice(1), io);
}
