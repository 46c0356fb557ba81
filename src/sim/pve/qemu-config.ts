/**
 * `GET|POST|PUT /nodes/{node}/qemu/{vmid}/config` (qemu-server API2/Qemu.pm vm_config,
 * update_vm_async, update_vm): early checks (digest, lock) answer synchronously for both; POST
 * applies the change in a `qmconfig` task, PUT at once.
 */
import type { Vm } from './cluster.js';
import { PveError, PveParamError } from './errors.js';
import { splitList } from './formats.js';
import { noteTouch, noteTags, lockTimeout } from './qemu-common.js';
import type { Params, PveWorld } from './world.js';

/** Parameters that steer the update rather than name config options. */
const CONTROL = new Set(['node', 'vmid', 'digest', 'delete', 'revert', 'skiplock', 'background_delay', 'force']);

const CPU = new Set(['affinity', 'cores', 'cpu', 'cpulimit', 'cpuunits', 'numa', 'sockets', 'vcpus']);
const MEMORY = new Set(['memory', 'balloon', 'shares', 'hugepages', 'keephugepages']);
const HWTYPE = new Set(['smbios1', 'vga', 'bios', 'machine', 'scsihw', 'keyboard', 'tablet', 'watchdog', 'audio0', 'rng0', 'vmgenid', 'tdx', 'amd-sev']);
const GENERAL = new Set(['name', 'description', 'tags', 'onboot', 'protection', 'boot', 'bootdisk', 'startup', 'agent', 'ostype', 'localtime', 'tdf', 'freeze', 'acpi', 'autostart', 'kvm', 'hotplug', 'reboot', 'startdate', 'migrate_speed', 'migrate_downtime', 'template', 'spice_enhancements', 'meta', 'lock']);
const POWER = new Set(['vmstatestorage']);
const CLOUDINIT = new Set(['cicustom', 'cipassword', 'citype', 'ciupgrade', 'ciuser', 'nameserver', 'searchdomain', 'sshkeys']);
const DISK = /^(ide|sata|scsi|virtio|unused)\d+$|^(efidisk0|tpmstate0)$/;

/** Qemu.pm $check_vm_modify_config_perm: which privilege each option needs. */
function checkOptionPerm(w: PveWorld, vmid: number, opt: string): void {
  const path = `/vms/${vmid}`;
  if (opt === 'lock' || opt === 'template') throw new PveError(`only root can set '${opt}' config`);
  if (CPU.has(opt) || /^numa\d+$/.test(opt)) w.privileges.require(path, ['VM.Config.CPU']);
  else if (MEMORY.has(opt)) w.privileges.require(path, ['VM.Config.Memory']);
  else if (HWTYPE.has(opt)) w.privileges.require(path, ['VM.Config.HWType']);
  else if (GENERAL.has(opt)) w.privileges.require(path, ['VM.Config.Options']);
  else if (POWER.has(opt)) w.privileges.require(path, ['VM.PowerMgmt']);
  else if (DISK.test(opt)) w.privileges.require(path, ['VM.Config.Disk']);
  else if (/^net\d+$/.test(opt)) w.privileges.require(path, ['VM.Config.Network']);
  else if (CLOUDINIT.has(opt) || /^ipconfig\d+$/.test(opt)) w.privileges.requireAny(path, ['VM.Config.Cloudinit', 'VM.Config.Network']);
  else throw new PveError(`only root can set '${opt}' config`);
}

/** GuestHelpers::get_unique_tags: split on ; , or space, drop duplicates, join with ';'. */
export function normaliseTags(tags: string): string {
  return [...new Set(splitList(tags))].join(';');
}

export function getConfig(w: PveWorld, p: Params): unknown {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  if (p.snapshot !== undefined) throw new PveError(`snapshot '${p.snapshot}' does not exist`);
  return w.cluster.typedConfig(vm);
}

interface Change {
  set: Map<string, string>;
  del: string[];
}

function prepare(w: PveWorld, p: Params, endpoint: string): { vm: Vm; change: Change } {
  const vmid = Number(p.vmid);
  const vm = w.cluster.vmOn(p.node!, vmid);
  noteTouch(w, vm, endpoint, p);
  if (p.skiplock !== undefined) throw new PveParamError({ skiplock: 'Only root may use this option.' });
  const set = new Map<string, string>();
  for (const [k, v] of Object.entries(p)) if (!CONTROL.has(k)) set.set(k, k === 'tags' ? normaliseTags(v) : v);
  const del = splitList(p.delete ?? '');
  for (const opt of del) {
    if (set.has(opt)) throw new PveParamError({ delete: `you can't use '-${opt}' and -delete ${opt}' at the same time` });
  }
  if (set.size === 0 && del.length === 0 && p.revert === undefined) throw new PveError('no options specified');
  for (const opt of [...set.keys(), ...del]) checkOptionPerm(w, vmid, opt);
  if (w.faults.hit('lock_timeout_rate', endpoint)) throw lockTimeout(vmid);
  if (p.digest !== undefined && p.digest !== w.cluster.digest(vm)) throw new PveError('checksum mismatch (file change by other user?)');
  const lock = vm.config.get('lock');
  if (lock !== undefined) throw new PveError(`VM is locked (${lock})`);
  return { vm, change: { set, del } };
}

function apply(w: PveWorld, vm: Vm, change: Change): void {
  for (const opt of change.del) vm.config.delete(opt);
  for (const [k, v] of change.set) vm.config.set(k, v);
  noteTags(w, vm);
}

/** PUT: synchronous update, answers null. */
export function putConfig(w: PveWorld, p: Params, endpoint: string): unknown {
  const { vm, change } = prepare(w, p, endpoint);
  apply(w, vm, change);
  return null;
}

/** POST: the update runs in a `qmconfig` worker; answers its UPID (or null with background_delay). */
export async function postConfig(w: PveWorld, p: Params, endpoint: string): Promise<unknown> {
  const { vm, change } = prepare(w, p, endpoint);
  const failure = w.faults.hit('task_failure_rate', endpoint) ? lockTimeout(vm.vmid).message : undefined;
  const durationMs = w.ctx.scenario.proxmox.timings.configMs;
  const upid = w.tasks.start({
    node: vm.node, type: 'qmconfig', id: vm.vmid, user: w.user, durationMs,
    log: [`update VM ${vm.vmid}: ${[...change.set.keys()].map((k) => `-${k}`).concat(change.del.length ? [`-delete ${change.del.join(',')}`] : []).join(' ')}`],
    finish: () => {
      if (failure) throw new Error(failure);
      if (!w.cluster.vms.has(vm.vmid)) throw new Error(`Configuration file 'nodes/${vm.node}/qemu-server/${vm.vmid}.conf' does not exist`);
      apply(w, vm, change);
    },
  });
  if (p.background_delay === undefined) return upid;
  // With background_delay PVE waits that long for the worker and answers null if it finished.
  const waitMs = Number(p.background_delay) * 1000;
  if (durationMs > waitMs) return upid;
  await w.ctx.clock.sleep(durationMs);
  const task = w.tasks.get(upid);
  if (task?.status === 'stopped' && task.exitstatus !== 'OK') throw new PveError(`failed to update VM ${vm.vmid}: ${task.exitstatus}`);
  return null;
}

