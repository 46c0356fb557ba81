import { parse as parseYaml } from 'yaml';
import { parseRunnerEnv } from '../cloudinit/runner-env.js';
import type { BootedVm, GuestHooks, GuestPower, RunnerBroker, RunnerCredentials, SimContext } from './contracts.js';
import { Faults } from './faults.js';

/** Why a guest's user-data gives it no runner to start; the VM then boots and idles, as a real one would. */
export class UserDataProblem extends Error {}

/**
 * Reads a rendered snippet the way cloud-init and run-once.sh would: a `#cloud-config` YAML
 * document whose write_files puts runner.env in place and whose runcmd runs run-once.
 */
export function credentialsFromUserData(userData: string | undefined): RunnerCredentials {
  if (userData === undefined) throw new UserDataProblem('no cicustom user-data: cloud-init has nothing to run');
  if (!/^#cloud-config[ \t]*\r?\n/.test(userData)) throw new UserDataProblem('user-data does not start with #cloud-config');
  let doc: unknown;
  try {
    doc = parseYaml(userData);
  } catch (e) {
    throw new UserDataProblem(`user-data is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new UserDataProblem('user-data is not a YAML mapping');
  const { write_files: files, runcmd } = doc as { write_files?: unknown; runcmd?: unknown };
  const envFile = Array.isArray(files)
    ? (files as Array<Record<string, unknown>>).find((f) => typeof f?.path === 'string' && /runner\.env$/.test(f.path))
    : undefined;
  if (!envFile || typeof envFile.content !== 'string') throw new UserDataProblem('write_files has no runner.env entry');
  const content = envFile.encoding === 'b64' || envFile.encoding === 'base64' ? Buffer.from(envFile.content, 'base64').toString('utf8') : envFile.content;
  if (!JSON.stringify(runcmd ?? null).includes('run-once')) throw new UserDataProblem('runcmd does not run run-once');
  const env = parseRunnerEnv(content);
  if (env.RUNNER_JITCONFIG) return { kind: 'jit', encodedJitConfig: env.RUNNER_JITCONFIG };
  const { RUNNER_URL: url, RUNNER_TOKEN: token, RUNNER_NAME: name, RUNNER_LABELS: labels } = env;
  if (url && token && name && labels) return { kind: 'token', url, token, name, labels: labels.split(',').map((l) => l.trim()).filter(Boolean) };
  throw new UserDataProblem('runner.env holds neither RUNNER_JITCONFIG nor RUNNER_URL/RUNNER_TOKEN/RUNNER_NAME/RUNNER_LABELS');
}

interface GuestState {
  cancel?: () => void;
  runnerId?: number;
  exited: boolean;
}

/**
 * The VMs' insides: boot (scenario `timings.boot`), read the snippet, start the runner, take one job,
 * power off when the runner exits. A VM whose boot fails or whose snippet is broken stays running
 * without ever registering — the case the daemon's boot_timeout exists for.
 */
export class Guests implements GuestHooks {
  private readonly vms = new Map<number, GuestState>();
  private readonly faults: Faults;

  constructor(private readonly ctx: SimContext, private readonly broker: RunnerBroker, private readonly power: GuestPower) {
    this.faults = new Faults(ctx.scenario.proxmox.faults, ctx.rng.fork('guest-faults'));
  }

  started(vm: BootedVm): void {
    const state: GuestState = { exited: false };
    this.vms.set(vm.vmid, state);
    const { bootMs } = this.ctx.scenario.proxmox.timings;
    if (this.faults.hit('boot_failure_rate')) {
      this.ctx.recorder.event(`vm ${vm.vmid} boot failure (injected): never registers`);
      return;
    }
    state.cancel = this.ctx.clock.after(bootMs, () => this.runOnce(vm, state));
  }

  stopped(vmid: number): void {
    const state = this.vms.get(vmid);
    if (!state) return;
    this.vms.delete(vmid);
    state.cancel?.();
    if (state.runnerId !== undefined && !state.exited) this.broker.lost(state.runnerId);
  }

  private runOnce(vm: BootedVm, state: GuestState): void {
    let creds: RunnerCredentials;
    try {
      creds = credentialsFromUserData(vm.userData);
    } catch (e) {
      if (!(e instanceof UserDataProblem)) throw e;
      this.ctx.recorder.event(`vm ${vm.vmid} booted without a runner: ${e.message}`);
      return;
    }
    state.cancel = this.ctx.clock.after(this.ctx.scenario.github.timings.runnerConnectMs, () => {
      state.cancel = undefined;
      const id = this.broker.connect(creds, (exit) => {
        state.exited = true;
        this.ctx.recorder.event(`vm ${vm.vmid} runner exited: ${exit.reason}`);
        // run-once.sh powers the VM off whatever happened; a short delay stands for the OS shutdown.
        state.cancel = this.ctx.clock.after(this.ctx.scenario.proxmox.timings.shutdownMs, () => {
          if (this.vms.get(vm.vmid) === state) this.power.powerOff(vm.vmid);
        });
      });
      if (id !== undefined && !state.exited) state.runnerId = id;
    });
  }
}
