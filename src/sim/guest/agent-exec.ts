/**
 * qemu-ga's guest-exec and guest-exec-status (qemu qga/commands.c) in a simulated guest: the
 * program is spawned directly (g_spawn_async_with_pipes with SEARCH_PATH, no shell) as root, with
 * stdout and stderr captured (PVE always asks capture-output) and input-data as its stdin. A program
 * that cannot be spawned fails guest-exec itself, with glib's message; there is no exit status 127.
 * A pid is known until guest-exec-status has reported it exited: then qemu-ga frees its record,
 * and the next query of that pid is "Invalid parameter 'pid'", like a pid it never started.
 */
import { type GuestExecStatus, QgaError } from '../contracts.js';
import { spawnError } from './commands.js';
import { type Machine, PowerLoss, type Proc } from './machine.js';

interface Process {
  finished: boolean;
  status: number;
  out: string[];
  err: string[];
  /** a simulator bug inside the program, reported by exec-status rather than lost */
  crash?: unknown;
}

/** Where the simulated guest's pids start: above what a booted system's own processes took. */
const FIRST_PID = 1200;

/** qemu-ga's environment under systemd: root, `/`, the default PATH. */
const agentProc = (): Proc => ({ user: 'root', cwd: '/', env: new Map([['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']]) });

const text = (lines: string[]): Buffer | undefined => (lines.length ? Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8') : undefined);

/** One VM's qemu-ga process table; it goes with the VM (a stop ends qemu-ga and its children). */
export class AgentProcesses {
  private readonly procs = new Map<number, Process>();
  private next = FIRST_PID;

  constructor(private readonly m: Machine) {}

  exec(argv: string[], input: Buffer | undefined): number {
    const m = this.m;
    if (m.image.os === 'Windows') throw new QgaError('guest-exec in a Windows guest is not modelled by the simulator');
    const errno = spawnError(m, argv[0]!);
    // glib's G_SPAWN_ERROR text, wrapped by qemu-ga's QERR_QGA_COMMAND_FAILED
    if (errno) throw new QgaError(`Guest agent command failed, error was 'Failed to execute child process “${argv[0]}” (${errno})'`);
    const pid = this.next++;
    const p: Process = { finished: false, status: 0, out: [], err: [] };
    this.procs.set(pid, p);
    const io = { out: (l: string) => p.out.push(l), err: (l: string) => p.err.push(l), stdin: input?.toString('utf8') };
    m.event(`guest agent exec pid ${pid}: ${argv[0]}`);
    m.exec(argv, agentProc(), io).then(
      (status) => {
        p.status = status;
        p.finished = true;
      },
      (e: unknown) => {
        if (e instanceof PowerLoss) return; // the VM went down: this table goes with it
        p.crash = e;
        p.finished = true;
      },
    );
    return pid;
  }

  status(pid: number): GuestExecStatus {
    const p = this.procs.get(pid);
    if (!p) throw new QgaError("Invalid parameter 'pid'");
    if (!p.finished) return { exited: false };
    this.procs.delete(pid);
    if (p.crash !== undefined) throw p.crash;
    return { exited: true, exitcode: p.status, out: text(p.out), err: text(p.err) };
  }
}
