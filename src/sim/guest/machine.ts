/**
 * The seams inside a simulated VM: processes (user, working directory, environment), programs
 * (native models of what the image has, such as config.sh, or shell scripts on its disk), and the
 * machine they run on, whose power can go at any await.
 */
import type { RunnerBroker, SimContext } from '../contracts.js';
import type { GuestFs } from './fs.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** the process's standard input when something feeds it (guest-exec's input-data); else none */
  stdin?: string;
}

export interface Proc {
  user: string;
  cwd: string;
  /** the exported environment */
  env: Map<string, string>;
}

/** A native program: what the image's binary or script does, by its documented contract. */
export type Program = (argv: string[], proc: Proc, io: Io, m: Machine) => Promise<number>;

/** The VM stopped (its own power-off, or Proxmox stopped it): every process ends where it is. */
export class PowerLoss extends Error {}

/** What the template's image holds: OS, users, the runner version baked in, its programs. */
export interface Image {
  kind: string;
  os: 'Linux' | 'Windows';
  arch: 'X64';
  runnerVersion: string;
  /** the command of the image's guest-agent delivery unit (pve-runners images only) */
  agentUnit?: readonly string[];
  /** users allowed to sudo without a password */
  sudoers: Set<string>;
  setup(fs: GuestFs): void;
  /** native programs by absolute (resolved) path */
  programs: Map<string, Program>;
}

export interface Machine {
  readonly vmid: number;
  readonly fs: GuestFs;
  readonly image: Image;
  readonly ctx: SimContext;
  readonly broker: RunnerBroker;
  /** cloud-init-output.log: what the bootstrap printed (may hold what a template echoes; never copied to the recorder) */
  readonly console: string[];
  /** a line for the simulator's event log: callers pass only secret-free text */
  event(what: string): void;
  sleep(ms: number): Promise<void>;
  /**
   * Sleeps up to `ms`, waking as soon as something outside writes into the guest (its QEMU agent's
   * file-write): a reader polling for a file sees it at once, never later than in a real guest.
   */
  sleepUntilWrite(ms: number): Promise<void>;
  /** Waits for `start`'s callback; `start` returns a cancel for when the power goes first. */
  wait<T>(start: (resolve: (value: T) => void) => () => void): Promise<T>;
  /** `poweroff`: the OS shuts down (timings.shutdown), then the VM is off. Throws PowerLoss. */
  powerOff(why: string): never;
  exec(argv: string[], proc: Proc, io: Io): Promise<number>;
}
