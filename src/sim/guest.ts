/**
 * The VMs' insides: boot (scenario `timings.boot`, or never with `boot_failure_rate`), then
 * cloud-init runs the user-data (guest/cloud-init.ts) on the template's image (guest/images.ts),
 * whose programs include the actions runner (guest/runner.ts). The VM powers off only when its
 * bootstrap says so; otherwise it idles, the case the daemon's boot_timeout exists for.
 */
import { type BootedVm, type GuestAgent, type GuestExecStatus, type GuestHooks, type GuestPower, QgaError, type RunnerBroker, type SimContext } from './contracts.js';
import { Faults } from './faults.js';
import { parseUserData, UserDataProblem } from './guest/cloud-config.js';
import { RUNCMD_SCRIPT, runCloudInit } from './guest/cloud-init.js';
import { AgentProcesses } from './guest/agent-exec.js';
import { exec } from './guest/commands.js';
import { FsError, GuestFs } from './guest/fs.js';
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

  private readonly writeWaiters = new Set<() => void>();

  sleepUntilWrite(ms: number): Promise<void> {
    return this.wait((resolve) => {
      const wake = () => resolve(undefined);
      this.writeWaiters.add(wake);
      const cancel = this.ctx.clock.after(ms, wake);
      return () => {
        cancel();
        this.writeWaiters.delete(wake);
      };
    });
  }

  /** Something wrote into the guest from outside: pollers look again now. */
  written(): void {
    const waiters = [...this.writeWaiters];
    this.writeWaiters.clear();
    for (const w of waiters) w();
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

interface VmState {
  vm: BootedVm;
  cancel?: () => void;
  cancelAgent?: () => void;
  /** qemu-ga answers (timings.agent after the start) */
  agentUp?: boolean;
  machine?: GuestMachine;
  /** qemu-ga's guest-exec processes, gone with the VM */
  procs?: AgentProcesses;
}

export class Guests implements GuestHooks, GuestAgent {
  private readonly vms = new Map<number, VmState>();
  /** the last machine each VMID booted, kept after it stops so tests can read what happened inside */
  private readonly last = new Map<number, GuestMachine>();
  private readonly faults: Faults;
  readonly agent: GuestAgent = this;

  constructor(private readonly ctx: SimContext, private readonly broker: RunnerBroker, private readonly power: GuestPower) {
    this.faults = new Faults(ctx.scenario.proxmox.faults, ctx.rng.fork('guest-faults'));
  }

  /** The guest's cloud-init-output.log and exec trace, from its last boot (undefined before any). */
  inside(vmid: number): { console: readonly string[]; execs: readonly ExecRecord[]; fs: GuestFs } | undefined {
    const m = this.last.get(vmid);
    return m && { console: m.console, execs: m.execs, fs: m.fs };
  }

  started(vm: BootedVm): void {
    const state: VmState = { vm };
    this.vms.set(vm.vmid, state);
    if (this.faults.hit('boot_failure_rate')) {
      this.ctx.recorder.event(`vm ${vm.vmid} boot failure (injected): never registers`);
      return;
    }
    const t = this.ctx.scenario.proxmox.timings;
    // qemu-ga is a unit of the image's early boot, independent of how long cloud-init then takes.
    state.cancelAgent = this.ctx.clock.after(t.agentMs, () => {
      state.cancelAgent = undefined;
      if (!this.machineOf(state)) return;
      state.agentUp = true;
      this.ctx.recorder.event(`vm ${vm.vmid} guest agent up`);
    });
    state.cancel = this.ctx.clock.after(t.bootMs, () => {
      state.cancel = undefined;
      this.boot(vm, state);
    });
  }

  stopped(vmid: number): void {
    const state = this.vms.get(vmid);
    if (!state) return;
    this.vms.delete(vmid);
    state.cancel?.();
    state.cancelAgent?.();
    state.machine?.halt();
  }

  running(vmid: number): boolean {
    return this.vms.get(vmid)?.agentUp === true;
  }

  /** guest-get-osinfo as qemu-ga reports it: os-release on Linux, `mswindows` on Windows. */
  osInfo(vmid: number): Record<string, string> {
    const m = this.agentMachine(vmid);
    return m.image.os === 'Windows'
      ? { id: 'mswindows', name: 'Microsoft Windows', 'pretty-name': 'Windows Server 2022 Datacenter', 'version-id': '2022', 'kernel-release': '20348', machine: 'x86_64' }
      : { id: 'ubuntu', name: 'Ubuntu', 'pretty-name': 'Ubuntu 24.04 LTS', 'version-id': '24.04', 'kernel-release': '6.8.0-31-generic', machine: 'x86_64' };
  }

  /** qemu-ga's guest-file-open(wb): a new file is created 0600 by root, an existing one truncated. */
  fileWrite(vmid: number, path: string, content: Buffer, cutAt?: number): void {
    const m = this.agentMachine(vmid);
    const file = m.fs.resolve(path);
    const owner = m.image.os === 'Windows' ? 'SYSTEM' : 'root';
    try {
      const existing = m.fs.read(file);
      m.fs.write(file, '', existing ? {} : { mode: 0o600, owner, group: owner });
      m.fs.write(file, content.subarray(0, cutAt ?? content.length).toString('utf8'), { append: true });
      m.written();
      m.event(`guest agent wrote ${file}${cutAt !== undefined ? ` (cut short: ${cutAt} of ${content.length} bytes)` : ` (${content.length} bytes)`}`);
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      throw new QgaError(`failed to open file '${path}' (mode: 'wb'): No such file or directory`);
    }
  }

  exec(vmid: number, argv: string[], input: Buffer | undefined): number {
    const m = this.agentMachine(vmid);
    const state = this.vms.get(vmid)!;
    state.procs ??= new AgentProcesses(m);
    return state.procs.exec(argv, input);
  }

  execStatus(vmid: number, pid: number): GuestExecStatus {
    this.agentMachine(vmid);
    const procs = this.vms.get(vmid)!.procs;
    if (!procs) throw new QgaError("Invalid parameter 'pid'");
    return procs.status(pid);
  }

  private agentMachine(vmid: number): GuestMachine {
    const m = this.vms.get(vmid)?.machine;
    if (!m || !this.running(vmid)) throw new QgaError('Guest agent is not available');
    return m;
  }

  /** The VM's disk as the image has it, from the first moment anything in it runs. */
  private machineOf(state: VmState): GuestMachine | undefined {
    if (state.machine) return state.machine;
    const template = this.ctx.scenario.proxmox.templates.find((t) => t.vmid === state.vm.image);
    if (!template) return undefined;
    const m = new GuestMachine(state.vm.vmid, imageFor(template), this.ctx, this.broker, this.power);
    state.machine = m;
    this.last.set(state.vm.vmid, m);
    return m;
  }

  private boot(vm: BootedVm, state: VmState): void {
    const m = this.machineOf(state);
    if (!m) {
      this.ctx.recorder.event(`vm ${vm.vmid} booted without a runner: its disk is not a scenario template's`);
      return;
    }
    if (vm.userData === undefined && m.image.agentUnit) {
      // No cicustom: Proxmox's own cloud-init data names the host and runs nothing; the image's
      // pve-runners-agent unit (After=cloud-final) waits for runner.env from the guest agent.
      m.fs.hostname = vm.name;
      this.afterCloudInit(m);
      return;
    }
    let cfg;
    try {
      cfg = parseUserData(vm.userData);
    } catch (e) {
      if (!(e instanceof UserDataProblem)) throw e;
      m.event(`booted without a runner: ${e.message}`);
      return;
    }
    runCloudInit(m, cfg, vm.name).then(
      (r) => {
        m.event(`cloud-init finished: runcmd ${r.runcmdStatus === undefined ? 'absent' : `exited ${r.runcmdStatus}`}, power_state ${r.powerState}; the VM stays up`);
        if (m.alive && m.image.os === 'Linux') this.afterCloudInit(m);
      },
      (e: unknown) => {
        if (!(e instanceof PowerLoss)) throw e;
      },
    );
  }

  /** Units ordered after cloud-final: pve-runners-agent runs only when cloud-init ran no runcmd. */
  private afterCloudInit(m: GuestMachine): void {
    const unit = m.image.agentUnit;
    if (!unit || m.fs.exists(RUNCMD_SCRIPT)) return;
    const root = { user: m.image.os === 'Windows' ? 'SYSTEM' : 'root', cwd: '/', env: new Map([['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']]) };
    const io = { out: (l: string) => m.console.push(l), err: (l: string) => m.console.push(l) };
    m.exec([...unit], root, io).catch((e: unknown) => {
      if (!(e instanceof PowerLoss)) throw e;
    });
  }
}
