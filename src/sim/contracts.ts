/**
 * The seams between the simulator's parts: the simulated Proxmox, the simulated GitHub, and the
 * guests (VMs acting as runners). Each side is built and tested on its own against these.
 */
import type { SimClock } from './clock.js';
import type { Recorder } from './recorder.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';

export interface SimContext {
  scenario: Scenario;
  clock: SimClock;
  rng: Rng;
  recorder: Recorder;
}

/** What a guest gets when Proxmox starts a VM: the user-data cloud-init would see. */
export interface BootedVm {
  vmid: number;
  node: string;
  name: string;
  /** Contents of the `cicustom` user snippet, read at start time (undefined: no cicustom user volume). */
  userData: string | undefined;
  /** VMID of the template the disk was cloned from (undefined: not a clone of a scenario template) */
  image?: number;
}

/** Proxmox → guests. The simulated Proxmox calls these; the guest layer implements them. */
export interface GuestHooks {
  /** The start task succeeded: the VM is running and begins to boot. */
  started(vm: BootedVm): void;
  /** The VM stopped (stop task, destroy, or its own power-off): abandon whatever it was doing. */
  stopped(vmid: number): void;
  /** The guests' QEMU guest agents (qemu-ga), as QMP reaches them; absent: no guest ever runs one. */
  agent?: GuestAgent;
}

/** What PVE's agent endpoints ask a guest's qemu-ga (its guest-* QMP commands). Errors: QgaError. */
export interface GuestAgent {
  /** qga_check_running: qemu-ga is up in this VM and answers guest-ping */
  running(vmid: number): boolean;
  /** guest-get-osinfo's result */
  osInfo(vmid: number): Record<string, string>;
  /**
   * guest-file-open (mode wb: created 0600 or truncated) + guest-file-write + guest-file-close.
   * `cutAt`: the write fails after that many bytes reached the file (what a half-finished write leaves).
   */
  fileWrite(vmid: number, path: string, content: Buffer, cutAt?: number): void;
  /** guest-exec with capture-output: starts argv (program + arguments, no shell) as root; its pid. */
  exec(vmid: number, argv: string[], input: Buffer | undefined): number;
  /** guest-exec-status: once it reports the process exited, qemu-ga forgets the pid. */
  execStatus(vmid: number, pid: number): GuestExecStatus;
}

/** guest-exec-status's result, the captured output already decoded. */
export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  out?: Buffer;
  err?: Buffer;
}

/** A guest-* command that qemu-ga answered with an error (its `desc`). */
export class QgaError extends Error {}

/** Guests → Proxmox: the guest powers itself off (as `poweroff` in the VM would). */
export interface GuestPower {
  powerOff(vmid: number): void;
}

/**
 * How a runner's listener (run.sh) authenticates with GitHub: a JIT config, or the registration
 * config.sh saved (`.runner`'s agent id, `.credentials`' client id). `token` is config.sh
 * `--unattended --ephemeral --no-default-labels` and run.sh in one step, for broker-level tests.
 */
export type RunnerCredentials =
  | { kind: 'jit'; encodedJitConfig: string }
  | { kind: 'configured'; runnerId: number; clientId: string }
  | { kind: 'token'; url: string; token: string; name: string; labels: string[] };

/** What config.sh sends GitHub (ConfigurationManager.ConfigureAsync), labels already final. */
export interface RunnerConfigRequest {
  url: string;
  token: string;
  name: string;
  labels: string[];
  /** runner group name (`--runnergroup`; config.sh's default is the default group) */
  group?: string;
  ephemeral: boolean;
  replace: boolean;
  disableUpdate: boolean;
  version: string;
  os: string;
}

export type RunnerConfigResult =
  | { ok: true; runnerId: number; clientId: string; groupId: number; groupName: string }
  | { ok: false; message: string };

export type RunnerExit =
  | { reason: 'job-done'; jobId: number; conclusion: 'success' | 'failure' | 'cancelled' }
  | { reason: 'rejected'; message: string };

/**
 * Guests → GitHub: the runner service's side of GitHub (not the REST API). A connected runner is
 * online; GitHub assigns it the oldest queued job its labels fit, runs it for the job's duration,
 * then (ephemeral) removes the registration and calls onExit.
 */
export interface RunnerBroker {
  /** config.sh: registers (or with `replace`, takes over) a runner; answers after the round trips. */
  configure(req: RunnerConfigRequest, done: (result: RunnerConfigResult) => void): void;
  /**
   * run.sh: returns the runner id, or calls onExit({reason:'rejected'}) for a bad/expired/used
   * credential. `version` is the runner software's; below GitHub's minimum it never gets a job.
   */
  connect(creds: RunnerCredentials, onExit: (exit: RunnerExit) => void, version?: string): number | undefined;
  /** The VM under the runner vanished: it goes offline; a job it was running fails. */
  lost(runnerId: number): void;
}
