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
}

/** Proxmox → guests. The simulated Proxmox calls these; the guest layer implements them. */
export interface GuestHooks {
  /** The start task succeeded: the VM is running and begins to boot. */
  started(vm: BootedVm): void;
  /** The VM stopped (stop task, destroy, or its own power-off): abandon whatever it was doing. */
  stopped(vmid: number): void;
}

/** Guests → Proxmox: the guest powers itself off (as `poweroff` in the VM would). */
export interface GuestPower {
  powerOff(vmid: number): void;
}

/** How a runner inside a VM authenticates with GitHub: the two contract variants of runner.env. */
export type RunnerCredentials =
  | { kind: 'jit'; encodedJitConfig: string }
  | { kind: 'token'; url: string; token: string; name: string; labels: string[] };

export type RunnerExit =
  | { reason: 'job-done'; jobId: number; conclusion: 'success' | 'failure' | 'cancelled' }
  | { reason: 'rejected'; message: string };

/**
 * Guests → GitHub: the runner service's side of GitHub (not the REST API). A connected runner is
 * online; GitHub assigns it the oldest queued job its labels fit, runs it for the job's duration,
 * then (ephemeral) removes the registration and calls onExit.
 */
export interface RunnerBroker {
  /** Returns the runner id, or calls onExit({reason:'rejected'}) for a bad/expired/used credential. */
  connect(creds: RunnerCredentials, onExit: (exit: RunnerExit) => void): number | undefined;
  /** The VM under the runner vanished: it goes offline; a job it was running fails. */
  lost(runnerId: number): void;
}
