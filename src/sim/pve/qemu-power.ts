/**
 * VM power and lifetime (qemu-server API2/Qemu.pm vm_start/vm_stop/vm_shutdown/destroy_vm and
 * QemuServer.pm): start/stop/shutdown checks run inside the worker (they end the task with the
 * error), destroy's running check answers synchronously. A start reads the cicustom user snippet
 * at once — the cloud-init ISO is generated at start — and holds the VM's memory on its node.
 */
import { memoryMb, type Vm } from './cluster.js';
import { PveError, PveParamError } from './errors.js';
import { parsePropertyString } from './formats.js';
import { lockTimeout, noteTouch } from './qemu-common.js';
import type { Params, PveWorld } from './world.js';

const cicustomFormat = Object.fromEntries(['meta', 'network', 'user', 'vendor'].map((k) => [k, { type: 'string' }]));

/** vm_start holds the config lock while QEMU comes up: a stop or destroy meanwhile cannot lock. */
const starting = new WeakSet<Vm>();

function rejectSkiplock(p: Params): void {
  if (p.skiplock !== undefined) throw new PveParamError({ skiplock: 'Only root may use this option.' });
}

/** Resolves the cicustom `user=` volume and reads it as the start worker does (throws PVE's text). */
function readUserData(w: PveWorld, vm: Vm): string | undefined {
  const raw = vm.config.get('cicustom');
  if (raw === undefined) return undefined;
  const volid = parsePropertyString(cicustomFormat, raw).user;
  if (volid === undefined) return undefined;
  const colon = volid.indexOf(':');
  const storage = volid.slice(0, colon);
  const volname = volid.slice(colon + 1);
  const known = storage === w.snippets.storage || w.ctx.scenario.proxmox.templates.some((t) => t.storage === storage);
  if (!known) throw new Error(`storage '${storage}' does not exist`);
  const m = /^snippets\/([^/]+)$/.exec(volname);
  if (storage !== w.snippets.storage || !m) throw new Error(`${volid} is not in the snippets directory`);
  return w.snippets.read(vm.node, m[1]!);
}

export function startVm(w: PveWorld, p: Params, endpoint: string): unknown {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  noteTouch(w, vm, endpoint, p);
  rejectSkiplock(p);
  const base = { node: vm.node, type: 'qmstart', id: vm.vmid, user: w.user, durationMs: w.ctx.scenario.proxmox.timings.startMs };
  const fail = (reason: string, log: string[] = []) => w.tasks.start({ ...base, log, finish: () => undefined, failNow: reason });

  if (vm.kind === 'template' || vm.config.get('template') === '1') return fail("you can't start a vm if it's a template");
  const lock = vm.config.get('lock');
  if (lock !== undefined) return fail(`VM is locked (${lock})`);
  if (vm.status === 'running' || starting.has(vm)) return fail(`VM ${vm.vmid} already running`);
  let userData: string | undefined;
  try {
    userData = readUserData(w, vm);
  } catch (e) {
    return fail((e as Error).message);
  }
  // The cloud-init ISO generated now stays on the VM's storage while it runs.
  w.storageWatch.checkDrive(vm.vmid, userData, vm.config);
  if (w.faults.hit('task_failure_rate', endpoint)) return fail('timeout waiting on systemd');
  const mem = memoryMb(vm.config);
  if (mem > w.cluster.freeMb(vm.node)) {
    return fail('start failed: QEMU exited with code 1', [`kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory`]);
  }
  vm.heldMb = mem;
  starting.add(vm);
  // vm_start sets the balloon's stats polling over QMP after QEMU is up and only warns when that
  // times out (QemuServer.pm, "could not set polling interval for ballooning"); the VM runs.
  const balloonWarning = vm.config.get('balloon') !== '0' && w.faults.hit('task_warning_rate', endpoint)
    ? { warnings: [`could not set polling interval for ballooning - VM ${vm.vmid} qmp command 'qom-set' failed - got timeout`] }
    : undefined;
  return w.tasks.start({
    ...base,
    log: [`generating cloud-init ISO`],
    finish: () => {
      starting.delete(vm);
      vm.status = 'running';
      vm.pid = w.rng.int(1000, 4_000_000);
      vm.startedAtMs = w.ctx.clock.nowMs();
      w.hooks.started({ vmid: vm.vmid, node: vm.node, name: vm.config.get('name') ?? `VM ${vm.vmid}`, userData, image: vm.image });
      return balloonWarning;
    },
  });
}

/** The VM is off (stop, shutdown, or its own power-off): free its memory and tell the guests. */
export function markStopped(w: PveWorld, vm: Vm): void {
  if (vm.status !== 'running') return;
  vm.status = 'stopped';
  vm.heldMb = 0;
  vm.pid = undefined;
  vm.startedAtMs = undefined;
  w.hooks.stopped(vm.vmid);
}

function powerDown(w: PveWorld, p: Params, endpoint: string, kind: 'qmstop' | 'qmshutdown'): unknown {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  noteTouch(w, vm, endpoint, p);
  rejectSkiplock(p);
  if (p.keepActive !== undefined) throw new PveParamError({ keepActive: 'Only root may use this option.' });
  const t = w.ctx.scenario.proxmox.timings;
  const base = { node: vm.node, type: kind, id: vm.vmid, user: w.user, durationMs: kind === 'qmstop' ? t.stopMs : t.shutdownMs };
  const lock = vm.config.get('lock');
  if (lock !== undefined) return w.tasks.start({ ...base, finish: () => undefined, failNow: `VM is locked (${lock})` });
  if (starting.has(vm)) return w.tasks.start({ ...base, finish: () => undefined, failNow: lockTimeout(vm.vmid).message });
  const failure = w.faults.hit('task_failure_rate', endpoint)
    ? kind === 'qmshutdown' ? 'VM quit/powerdown failed - got timeout' : lockTimeout(vm.vmid).message
    : undefined;
  return w.tasks.start({
    ...base,
    finish: () => {
      if (failure) throw new Error(failure);
      markStopped(w, vm);
    },
  });
}

export const stopVm = (w: PveWorld, p: Params, endpoint: string) => powerDown(w, p, endpoint, 'qmstop');
export const shutdownVm = (w: PveWorld, p: Params, endpoint: string) => powerDown(w, p, endpoint, 'qmshutdown');

export function destroyVm(w: PveWorld, p: Params, endpoint: string): unknown {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  noteTouch(w, vm, endpoint, p);
  rejectSkiplock(p);
  if (w.faults.hit('lock_timeout_rate', endpoint)) throw lockTimeout(vm.vmid);
  if (vm.status === 'running' || starting.has(vm)) throw new PveError(`VM ${vm.vmid} is running - destroy failed`);
  const base = { node: vm.node, type: 'qmdestroy', id: vm.vmid, user: w.user, durationMs: w.ctx.scenario.proxmox.timings.destroyMs };
  const lock = vm.config.get('lock');
  if (lock !== undefined) return w.tasks.start({ ...base, finish: () => undefined, failNow: `VM is locked (${lock})` });
  const failure = w.faults.hit('task_failure_rate', endpoint) ? lockTimeout(vm.vmid).message : undefined;
  const disks = [...vm.config.entries()].filter(([k, v]) => /^(scsi|virtio|sata|ide)\d+$/.test(k) && !v.includes('media=cdrom')).map(([, v]) => v.split(',')[0]!);
  // destroy_vm frees each disk and only warns when that fails (QemuServer.pm "Could not remove disk
  // …, check manually"): the VM is gone, its volume stays behind on the storage.
  const stuck = disks.length > 0 && w.faults.hit('task_warning_rate', endpoint) ? disks[0]! : undefined;
  // Each volume (the cloud-init one too) goes by vdisk_free, under its storage's lock like a
  // clone's steps: the destroy's time is those removals, and one that waits out the lock's 10 s
  // is only warned about (storage-locks.ts).
  const volumes = [...disks, ...[...vm.config.values()].map((v) => v.split(',')[0]!).filter((v) => v.endsWith(`:vm-${vm.vmid}-cloudinit`))];
  const lockFailed: string[] = [];
  let release = () => {};
  return w.tasks.start({
    ...base,
    // The worker holds the VM's config lock throughout (config-locks.ts); a destroy already holding
    // it makes this one wait, then find the config gone, or time out.
    run: (log, end) => w.configLocks.acquire(vm, (unlock) => {
      release = unlock;
      if (w.cluster.vms.get(vm.vmid) !== vm) {
        unlock();
        return end(`Configuration file 'nodes/${vm.node}/qemu-server/${vm.vmid}.conf' does not exist`);
      }
      freeVolumes(w, vm.node, volumes, base.durationMs / Math.max(1, volumes.length), log, (volid, error) => {
        if (error !== undefined) lockFailed.push(`Could not remove disk '${volid}', check manually: ${error}`);
        else if (disks.includes(volid) && volid !== stuck) log.push(`Removing image: 100% complete...done. (${volid})`);
      }, () => end());
    }, () => end(lockTimeout(vm.vmid).message)),
    finish: () => {
      try {
        if (failure) throw new Error(failure);
        if (vm.status === 'running') throw new Error(`VM ${vm.vmid} is running - destroy failed`);
        // destroy_vm replaces the config with `lock: destroyed` once the disks are gone, then
        // remove_vm_access, then destroy_config: pmxcfs writes in one go, taken here as one step.
        if (w.cluster.vms.get(vm.vmid) === vm) {
          // AccessControl::remove_vm_access: the VM's ACLs and its pool membership go with it.
          w.access.removeVm(vm.vmid);
          w.cluster.vms.delete(vm.vmid);
          w.ctx.recorder.vmDestroyed(vm.vmid);
        }
      } finally {
        release();
      }
      const warnings = [...(stuck === undefined ? [] : [`Could not remove disk '${stuck}', check manually: ${lvremoveError(stuck)}`]), ...lockFailed];
      return warnings.length === 0 ? undefined : { warnings };
    },
  });
}

/** vdisk_free of each volume in turn, `holdMs` each under its storage's lock; `each` hears how it went. */
function freeVolumes(w: PveWorld, node: string, volumes: string[], holdMs: number, log: string[], each: (volid: string, error?: string) => void, done: () => void): void {
  const [volid, ...rest] = volumes;
  if (volid === undefined) return done();
  const storage = volid.slice(0, volid.indexOf(':'));
  const next = () => freeVolumes(w, node, rest, holdMs, log, each, done);
  w.storageLocks.run({ storage, node, shared: w.cluster.storageShared(storage) }, holdMs, log, () => {
    each(volid);
    next();
  }, (error) => {
    each(volid, error);
    next();
  });
}

/** LvmThinPlugin free_image's run_command failure: errmsg, then lvremove's last stderr line. */
function lvremoveError(volid: string): string {
  const [storage, volname = ''] = volid.split(':') as [string, string?];
  const vg = storage === 'local-lvm' ? 'pve' : storage;
  const lv = volname.split('/').at(-1)!;
  return `lvremove '${vg}/${lv}' error:   Logical volume ${vg}/${lv} in use.`;
}

function vmStatus(w: PveWorld, vm: Vm): Record<string, unknown> {
  const running = vm.status === 'running';
  const out: Record<string, unknown> = {
    vmid: vm.vmid,
    name: vm.config.get('name') ?? `VM ${vm.vmid}`,
    status: vm.status,
    cpus: Number(vm.config.get('cores') ?? 1) * Number(vm.config.get('sockets') ?? 1),
    maxmem: w.cluster.maxmemBytes(vm),
    mem: running ? Math.floor(w.cluster.maxmemBytes(vm) / 4) : 0,
    maxdisk: bootdiskBytes(vm.config),
    disk: 0,
    cpu: 0,
    uptime: w.cluster.uptimeS(vm, w.ctx.clock.nowMs()),
    netin: 0, netout: 0, diskread: 0, diskwrite: 0,
  };
  if (running) out.pid = vm.pid;
  const lock = vm.config.get('lock');
  if (lock !== undefined) out.lock = lock;
  const tags = vm.config.get('tags');
  if (tags !== undefined) out.tags = tags;
  if (vm.config.get('template') === '1') out.template = 1;
  return out;
}

/**
 * qemu-server Drive.pm bootdisk_size: the size of the first non-CD-ROM disk in `boot: order=…`
 * (or the legacy `bootdisk`), else 0 — a clone's placeholder config has none.
 */
function bootdiskBytes(config: Map<string, string>): number {
  const legacy = config.get('bootdisk');
  const order = /(?:^|,)order=([^,]+)/.exec(config.get('boot') ?? '')?.[1]?.split(';') ?? (legacy ? [legacy] : []);
  for (const d of order) {
    const drive = config.get(d);
    if (drive === undefined || drive.includes('media=cdrom')) continue;
    const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)/.exec(drive);
    if (!m) continue;
    return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' '));
  }
  return 0;
}

export function currentStatus(w: PveWorld, p: Params): unknown {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  const out = vmStatus(w, vm);
  out.ha = { managed: 0 };
  out.qmpstatus = vm.status;
  if (vm.config.get('agent') !== undefined) out.agent = /^(1|enabled=1)/.test(vm.config.get('agent')!) ? 1 : 0;
  return out;
}

/** GET /nodes/{node}/qemu: this node's VMs, each only with VM.Audit on /vms/<id> (qemu-server API2/Qemu.pm vmlist). */
export function listVms(w: PveWorld, p: Params): unknown {
  return [...w.cluster.vms.values()]
    .filter((vm) => vm.node === p.node && w.privileges.has(`/vms/${vm.vmid}`, 'VM.Audit'))
    .map((vm) => {
      const out = vmStatus(w, vm);
      if (p.full === '1') out.qmpstatus = vm.status;
      return out;
    });
}

export { vmStatus };
