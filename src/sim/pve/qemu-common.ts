/** Bookkeeping shared by the VM handlers: foreign touches, pool tags, lock-file timeouts. */
import type { Vm } from './cluster.js';
import { vmTags } from './cluster.js';
import { PveError } from './errors.js';
import type { Params, PveWorld } from './world.js';

/** A mutating request against a VM pve-runners must never change: answer it, but report it. */
export function noteTouch(w: PveWorld, vm: Vm, endpoint: string, p: Params): void {
  if (vm.kind === 'ours') return;
  const path = endpoint.replace('{node}', p.node ?? '').replace('{vmid}', String(vm.vmid));
  w.ctx.recorder.foreignTouched(`${path} on ${vm.kind === 'template' ? 'template' : 'foreign VM'} ${vm.vmid}`);
}

/** Tells the recorder when one of our VMs first carries `pvr-pool.<pool>`. */
export function noteTags(w: PveWorld, vm: Vm): void {
  if (vm.kind !== 'ours') return;
  for (const tag of vmTags(vm.config)) {
    const m = /^pvr-pool\.(.+)$/i.exec(tag);
    if (m) w.ctx.recorder.vmPooled(vm.vmid, m[1]!);
  }
}

/** PVE::Tools::lock_file's timeout text for a VM's config lock (1 s for clone, 10 s for config). */
export function lockTimeout(vmid: number): PveError {
  return new PveError(`can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`);
}
