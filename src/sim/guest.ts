/**
 * The VMs' insides: boot (scenario `timings.boot`, or never with `boot_failure_rate`), then
 * cloud-init runs the user-data (guest/cloud-init.ts) on the template's image (guest/images.ts),
 * whose programs include the actions runner (guest/runner.ts). The VM powers off only when its
 * bootstrap says so; otherwise it idles, the case the daemon's boot_timeout exists for.
 */
import type { BootedVm, GuestHooks, GuestPower, RunnerBroker, SimContext } from './contracts.js';
import { Faults } from './faults.js';
import { parseUserData, UserDataProblem } from './guest/cloud-config.js';
import { runCloudInit } from './guest/cloud-init.js';
import { exec } from './guest/commands.js';
import { GuestFs } from './guest/fs.js';
import { imageFor } from './guest/images.js';
import { type Image, type Io, type Machine, PowerLoss, type Proc } from './guest/machine.js';

export { UserDataProblem } from './guest/cloud-config.js';

/** One exec as the guest saw it, for tests: argv, user, and the names (not values) of the environment. */
export interface ExecRecord {
  argv: string[];
  user: string;
  envNames: string[];
}

class GuestMachine implements Machine {
  readonly fs: GuestFs;
  readonly console: string[] = [];
  readonly execs: ExecRecord[] = [];
  private readonly pending = new Set<(e: PowerLoss) => void>();
  private down = false;

  constructor(readonly vmid: number, readonly image: Image, readonly ctx: SimContext, readonly broker: RunnerBroker, private readonly power: GuestPower) {
    this.fs = new GuestFs(image.os === 'Windows');
    image.setup(this.fs);
  }

  get alive(): boolean {
    return !this.down;
  }

  event(what: string): void {
    this.ctx.recorder.event(`vm ${this.vmid} ${what}`);
  }

  sleep(ms: number): Promise<void> {
    return this.wait((resolve) => this.ctx.clock.after(ms, () => resolve(undefined)));
  }

  wait<T>(start: (resolve: (value: T) => void) => () => void): Promise<T> {
    if (this.down) return Promise.reject(new PowerLoss('powered off'));
    return new Promise<T>((resolve, reject) => {
      let cancel: () => void = () => undefined;
      const lose = (e: PowerLoss) => {
        cancel();
        reject(e);
      };
      this.pending.add(lose);
      cancel = start((v) => {
        if (!this.pending.delete(lose)) return;
        resolve(v);
      });
    });
  }

  powerOff(why: string): never {
    if (!this.down) {
      this.event(`powering off (${why})`);
      this.halt();
      // the OS shutdown takes timings.shutdown; then Proxmox sees the VM stopped
      this.ctx.clock.after(this.ctx.scenario.proxmox.timings.shutdownMs, () => this.power.powerOff(this.vmid));
    }
    throw new PowerLoss(why);
  }

  /** Every process ends where it is (power off, or Proxmox stopped the VM). */
  halt(): void {
    this.down = true;
    const lost = [...this.pending];
    this.pending.clear();
    for (const lose of lost) lose(new PowerLoss('powered off'));
  }

  exec(argv: string[], proc: Proc, io: Io): Promise<number> {
    if (this.down) return Promise.reject(new PowerLoss('powered off'));
    this.execs.push({ argv: [...argv], user: proc.user, envNames: [...proc.env.keys()].sort() });
    return exec(this, argv, proc, io);
  }
}

export class Guests implements GuestHooks {
  private readonly vms = new Map<number, { cancel?: () => void; machine?: GuestMachine }>();
  /** the last machine each VMID booted, kept after it stops so tests can read what happened inside */
  private readonly last = new Map<number, GuestMachine>();
  private readonly faults: Faults;

  constructor(private readonly ctx: SimContext, private readonly broker: RunnerBroker, private readonly power: GuestPower) {
    this.faults = new Faults(ctx.scenario.proxmox.faults, ctx.rng.fork('guest-faults'));
  }

  /** The guest's cloud-init-output.log and exec trace, from its last boot (undefined before any). */
  inside(vmid: number): { console: readonly string[]; execs: readonly ExecRecord[]; fs: GuestFs } | undefined {
    const m = this.last.get(vmid);
    return m && { console: m.console, execs: m.execs, fs: m.fs };
  }

  started(vm: BootedVm): void {
    const state: { cancel?: () => void; machine?: GuestMachine } = {};
    this.vms.set(vm.vmid, state);
    if (this.faults.hit('boot_failure_rate')) {
      this.ctx.recorder.event(`vm ${vm.vmid} boot failure (injected): never registers`);
      return;
    }
    state.cancel = this.ctx.clock.after(this.ctx.scenario.proxmox.timings.bootMs, () => {
      state.cancel = undefined;
      this.boot(vm, state);
    });
  }

  stopped(vmid: number): void {
    const state = this.vms.get(vmid);
    if (!state) return;
    this.vms.delete(vmid);
    state.cancel?.();
    state.machine?.halt();
  }

  private boot(vm: BootedVm, state: { machine?: GuestMachine }): void {
    const template = this.ctx.scenario.proxmox.templates.find((t) => t.vmid === vm.image);
    if (!template) {
      this.ctx.recorder.event(`vm ${vm.vmid} booted without a runner: its disk is not a scenario template's`);
      return;
    }
    const m = new GuestMachine(vm.vmid, imageFor(template), this.ctx, this.broker, this.power);
    state.machine = m;
    this.last.set(vm.vmid, m);
    let cfg;
    try {
      cfg = parseUserData(vm.userData);
    } catch (e) {
      if (!(e instanceof UserDataProblem)) throw e;
      m.event(`booted without a runner: ${e.message}`);
      return;
    }
    runCloudInit(m, cfg, vm.name).then(
      (r) => m.event(`cloud-init finished: runcmd ${r.runcmdStatus === undefined ? 'absent' : `exited ${r.runcmdStatus}`}, power_state ${r.powerState}; the VM stays up`),
      (e: unknown) => {
        if (!(e instanceof PowerLoss)) throw e;
      },
    );
  }
}
