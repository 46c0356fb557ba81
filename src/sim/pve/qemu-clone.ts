/**
 * `POST /nodes/{node}/qemu/{vmid}/clone` (qemu-server API2/Qemu.pm clone_vm). Checks made before
 * the fork answer synchronously; the new VM exists at once with `lock: clone`, which the
 * `qmclone` worker removes when it ends — or, on failure, removes the new VM's config entirely.
 */
import { randomMac, type Vm } from './cluster.js';
import { PveError, PvePermError } from './errors.js';
import { clonePlan, runClone } from './clone-steps.js';
import { lockTimeout, noteTags } from './qemu-common.js';
import type { Params, PveWorld } from './world.js';

export function cloneVm(w: PveWorld, p: Params, endpoint: string): unknown {
  const { cluster } = w;
  const vmid = Number(p.vmid);
  const newid = Number(p.newid);
  const src = cluster.vmOn(p.node!, vmid);
  const template = src.kind === 'template' || src.config.get('template') === '1';
  const { storage: srcStorage, shared } = cluster.templateStorage(src);
  const target = p.target ?? src.node;
  const full = p.full !== undefined ? p.full === '1' || !template : !template;

  // RPCEnvironment::check_pool_exist, the first of clone_vm's early checks (a 403, not a 500).
  if (p.pool !== undefined && !w.access.cfg.pools.has(p.pool)) throw new PvePermError(`pool '${p.pool}' does not exist`);
  if (w.faults.hit('lock_timeout_rate', endpoint)) throw lockTimeout(vmid);
  const lock = src.config.get('lock');
  if (lock !== undefined) throw new PveError(`VM is locked (${lock})`);
  if (p.snapname !== undefined) throw new PveError(`snapshot '${p.snapname}' does not exist`);
  if (!full && p.storage !== undefined) throw new PveError("parameter 'storage' not allowed for linked clones");
  if (!full && p.format !== undefined) throw new PveError("parameter 'format' not allowed for linked clones");
  if (target !== src.node) {
    if (!cluster.nodes.has(target)) throw new PveError(`no such cluster node '${target}'`);
    if (!shared) throw new PveError(`can't clone VM to node '${target}' (VM uses local storage)`);
  }
  const diskStorage = p.storage ?? srcStorage;
  w.privileges.require(`/storage/${diskStorage}`, ['Datastore.AllocateSpace']);
  w.privileges.require('/sdn/zones/localnetwork/vmbr0', ['SDN.Use']);
  const existing = cluster.vms.get(newid);
  if (existing?.node === target) throw new PveError(`unable to create VM ${newid}: config file already exists`);

  // The worker's storage steps, each under the storage's lock, and a full clone's copies (see
  // clone-steps.ts); their times come from the scenario.
  const plan = clonePlan(w, src, full, diskStorage);
  const durationMs = plan.uncontendedMs;
  const log = [`creating a clone of VM ${vmid} with ID ${newid}`];
  if (existing) {
    // Another node holds this VMID: pmxcfs refuses the new config file inside the worker.
    const reason = `close (rename) atomic file '/etc/pve/nodes/${target}/qemu-server/${newid}.conf' failed: File exists`;
    return w.tasks.start({ node: src.node, type: 'qmclone', id: vmid, user: w.user, durationMs, log, finish: () => undefined, failNow: reason });
  }

  // While the copy runs, qemu-server leaves only a placeholder config ("# qmclone temporary file\n
  // lock: clone\n", its comment line read back as the description): no name, no description of
  // ours, no tags. The real config is written when the task ends.
  const finalConfig = cloneConfig(w, src, newid, p, full, diskStorage);
  const placeholder = new Map([['description', ' qmclone temporary file\n'], ['lock', 'clone']]);
  const vm: Vm = { vmid: newid, node: target, kind: 'ours', config: placeholder, status: 'stopped', heldMb: 0, image: src.image ?? src.vmid };
  cluster.vms.set(newid, vm);
  w.ctx.recorder.vmCreated(newid);
  w.ctx.recorder.event(`vm ${newid} cloning (${full ? 'full' : 'linked'} clone of ${vmid})`);
  noteTags(w, vm);
  const failure = w.faults.hit('task_failure_rate', endpoint)
    ? `clone failed: can't lock file '/var/lock/pve-manager/pve-storage-${diskStorage}' - got timeout`
    : undefined;
  // With a target node, clone_vm deactivates the source's volumes at the end and only warns when
  // that fails ("e.g., parallel clones keeping them active"): the clone is fine, the task ends WARNINGS.
  const warn = target !== src.node && w.faults.hit('task_warning_rate', endpoint) ? deactivationWarning(src, srcStorage) : undefined;
  const ref = { storage: diskStorage, node: src.node, shared: cluster.storageShared(diskStorage) };
  const removeTarget = () => {
    // qemu-server always deallocates the VMID when a clone fails: the target config goes.
    if (cluster.vms.get(newid) === vm) {
      cluster.vms.delete(newid);
      w.ctx.recorder.vmDestroyed(newid);
    }
  };
  return w.tasks.start({
    node: src.node, type: 'qmclone', id: vmid, user: w.user, durationMs, log,
    run: (taskLog, end) => runClone(w, plan, ref, newid, taskLog, (error) => {
      if (error !== undefined) removeTarget();
      end(error === undefined ? undefined : `clone failed: ${error}`);
    }),
    finish: () => {
      if (failure) {
        removeTarget();
        throw new Error(failure);
      }
      finalConfig.delete('lock');
      vm.config = finalConfig;
      // qemu-server adds the VM to its pool as the worker's last step: until then pool ACLs do not
      // reach it, so a pool-scoped token can neither see nor read its own clone in progress.
      if (p.pool !== undefined) w.access.addToPool(newid, p.pool);
      noteTags(w, vm);
      return warn;
    },
  });
}

/** pve-storage deactivate_volumes: LVMPlugin's `can't deactivate LV …` warned per volume, then one die. */
function deactivationWarning(src: Vm, storage: string): { warnings: string[]; log: string[] } {
  const volname = (src.config.get('scsi0') ?? '').split(',')[0]!.split(':')[1] ?? `base-${src.vmid}-disk-0`;
  return {
    log: [`can't deactivate LV '/dev/${storage}/${volname}':   Logical volume ${storage}/${volname} in use.`],
    warnings: [`volume deactivation failed: ${storage}:${volname}`],
  };
}

function cloneConfig(w: PveWorld, src: Vm, newid: number, p: Params, full: boolean, storage: string): Map<string, string> {
  const rng = w.rng;
  const conf = new Map<string, string>();
  conf.set('lock', 'clone');
  for (const [k, v] of src.config) {
    if (k === 'template' || k === 'lock' || k === 'description') continue;
    if (/^net\d+$/.test(k)) conf.set(k, v.replace(/([A-Za-z0-9_-]+)=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})/, (_, model: string) => `${model}=${randomMac(rng)}`));
    else if (k === 'smbios1') conf.set(k, v.replace(/uuid=[0-9a-f-]+/i, `uuid=${rng.uuid()}`));
    else if (/^(scsi|virtio|sata|ide)\d+$/.test(k) && v.includes(':cloudinit')) conf.set(k, `${storage}:vm-${newid}-cloudinit,media=cdrom`);
    else if (/^(scsi|virtio|sata|ide)\d+$/.test(k) && /:(base|vm)-\d+-disk-\d+/.test(v)) {
      const [vol, ...opts] = v.split(',');
      const disk = /(\d+)$/.exec(vol!)?.[1] ?? '0';
      const name = full ? `${storage}:vm-${newid}-disk-${disk}` : `${vol}/vm-${newid}-disk-${disk}`;
      conf.set(k, [name, ...opts].join(','));
    } else conf.set(k, v);
  }
  if (!conf.has('smbios1')) conf.set('smbios1', `uuid=${rng.uuid()}`);
  conf.set('name', p.name ?? `Copy-of-VM-${src.config.get('name') ?? src.vmid}`);
  if (p.description !== undefined) conf.set('description', p.description);
  return conf;
}
