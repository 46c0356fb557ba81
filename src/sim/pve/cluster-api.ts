/** Cluster-wide, node, task and access endpoints of the simulated Proxmox. */
import { asFlags } from './access.js';
import { PveError, PveParamError } from './errors.js';
import { vmStatus } from './qemu-power.js';
import { storages } from './storage-api.js';
import type { Params, PveWorld } from './world.js';

const MIB = 1024 * 1024;
const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function version(w: PveWorld): unknown {
  const v = w.ctx.scenario.proxmox.version;
  return { version: v, release: v.split('.').slice(0, 2).join('.'), repoid: 'a7f4e5b2', console: 'html5' };
}

/**
 * A node as /cluster/resources and GET /nodes list it: every node is listed, but its figures
 * (memory, CPU, disk, uptime) only with Sys.Audit on /nodes/<node> (pve-manager API2Tools
 * extract_node_stats with $exclude_stats = !can_audit).
 */
function nodeEntry(w: PveWorld, name: string): Record<string, unknown> {
  const n = w.cluster.nodes.get(name)!;
  const online = n.status === 'online';
  const entry: Record<string, unknown> = { id: `node/${name}`, type: 'node', node: name, status: n.status, level: '' };
  if (!w.privileges.has(`/nodes/${name}`, 'Sys.Audit')) return entry;
  return {
    ...entry,
    maxcpu: n.cpus, cpu: 0, maxmem: n.memoryMb * MIB, mem: w.cluster.usedMb(name) * MIB,
    maxdisk: 100 * 1024 ** 3, disk: 10 * 1024 ** 3,
    uptime: online ? Math.floor(w.ctx.clock.nowMs() / 1000) + 86_400 : 0,
  };
}

export function nodes(w: PveWorld): unknown {
  return [...w.cluster.nodes.keys()].map((n) => nodeEntry(w, n));
}

/**
 * What pvestatd last reported of each VM. Real /cluster/resources takes a VM's status, name,
 * template flag, maxmem and uptime from these stats, refreshed about every 10 s, and only `lock`
 * and `tags` live from the config (pve-manager API2Tools extract_vm_stats): a VM started a moment
 * ago may still read `stopped`, and a brand-new one `unknown` with no name.
 */
const statsSnapshots = new WeakMap<PveWorld, { at: number; vms: Map<number, Record<string, unknown>> }>();

function vmStats(w: PveWorld): Map<number, Record<string, unknown>> {
  const now = w.ctx.clock.nowMs();
  const every = w.ctx.scenario.proxmox.timings.statsMs;
  let snap = statsSnapshots.get(w);
  if (!snap || now - snap.at >= every) {
    // pvestatd runs on its own clock: snapshots are taken at multiples of the interval
    const at = every > 0 ? Math.floor(now / every) * every : now;
    snap = { at, vms: new Map([...w.cluster.vms.values()].map((vm) => [vm.vmid, vmStatus(w, vm)])) };
    statsSnapshots.set(w, snap);
  }
  return snap.vms;
}

/**
 * GET /cluster/resources as pve-manager API2/Cluster.pm `resources` filters it: pools only with
 * Pool.Audit on /pool/<pool> (and only without `type`); a VM only with VM.Audit on /vms/<id>, its
 * `pool` only with Pool.Audit on that pool; every node, its figures only with Sys.Audit; a storage
 * only with Datastore.Audit on /storage/<id>.
 */
export function resources(w: PveWorld, p: Params): unknown {
  const out: unknown[] = [];
  const want = (t: string) => p.type === undefined || p.type === t;
  if (p.type === undefined) {
    for (const pool of [...w.access.cfg.pools.keys()].sort()) {
      if (w.privileges.has(`/pool/${pool}`, 'Pool.Audit')) out.push({ id: `/pool/${pool}`, pool, type: 'pool' });
    }
  }
  if (want('vm')) {
    const stats = vmStats(w);
    for (const vm of w.cluster.vms.values()) {
      if (!w.privileges.has(`/vms/${vm.vmid}`, 'VM.Audit')) continue;
      const s: Record<string, unknown> = { ...(stats.get(vm.vmid) ?? { vmid: vm.vmid, status: 'unknown' }) };
      delete s.pid;
      delete s.lock;
      delete s.tags;
      const entry: Record<string, unknown> = { id: `qemu/${vm.vmid}`, type: 'qemu', node: vm.node, ...s };
      if (s.cpus !== undefined) entry.maxcpu = s.cpus;
      delete entry.cpus;
      if (s.template !== undefined || vm.config.get('template') === '1') entry.template = s.template ?? 0;
      const lock = vm.config.get('lock');
      if (lock !== undefined) entry.lock = lock;
      const tags = vm.config.get('tags');
      if (tags !== undefined) entry.tags = tags;
      const pool = w.access.poolOf(vm.vmid);
      if (pool !== undefined && w.privileges.has(`/pool/${pool}`, 'Pool.Audit')) entry.pool = pool;
      out.push(entry);
    }
  }
  if (want('node')) for (const n of w.cluster.nodes.keys()) out.push(nodeEntry(w, n));
  if (want('storage')) {
    for (const n of w.cluster.nodes.keys()) {
      for (const s of storages(w)) {
        if (!w.privileges.has(`/storage/${s.storage}`, 'Datastore.Audit')) continue;
        out.push({ id: `storage/${n}/${s.storage}`, type: 'storage', storage: s.storage, node: n, status: 'available', content: s.content, plugintype: s.type, shared: s.shared, disk: s.used, maxdisk: s.total });
      }
    }
  }
  return out;
}

/**
 * GET /cluster/nextid: any user may call it and it looks at every VMID of the cluster, whatever the
 * caller may see (Cluster.pm nextid reads the vmlist unfiltered); a hint only, and PVE echoes the
 * (string) parameter when it is free.
 */
export function nextId(w: PveWorld, p: Params): unknown {
  if (p.vmid !== undefined) {
    if (w.cluster.vms.has(Number(p.vmid))) throw new PveParamError({ vmid: `VM ${p.vmid} already exists` });
    return p.vmid;
  }
  for (let id = 100; id < 1_000_000; id++) if (!w.cluster.vms.has(id)) return String(id);
  throw new PveError('unable to get any free VMID in range [100, 1000000]');
}

/**
 * GET /access/permissions (pve-access-control API2/AccessControl.pm `permissions`): one's own (or,
 * for a user, an owned token's) privileges, else Sys.Audit on /access is needed. With `path`, that
 * path's privileges (an empty map when none); without, RPCEnvironment::get_effective_permissions.
 * Each privilege maps to its propagate flag.
 */
export function permissions(w: PveWorld, p: Params): unknown {
  const userid = p.userid ?? w.user;
  const owner = userid.includes('!') ? userid.split('!')[0] : undefined;
  if (userid !== w.user && owner !== w.user) w.privileges.require('/access', ['Sys.Audit']);
  if (p.path) return { [p.path]: asFlags(w.access.permissions(userid, p.path)) };
  return w.access.effective(userid);
}

function findTask(w: PveWorld, p: Params) {
  const upid = p.upid!;
  if (!UPID_RE.test(upid)) throw new PveParamError({ upid: 'unable to parse worker upid' });
  const task = w.tasks.get(upid);
  // A task's status file lives on the node that ran it; asking another node finds nothing.
  if (!task || task.node !== p.node) throw new PveParamError({ upid: 'no such task' });
  if (task.user !== w.user) w.privileges.require(`/nodes/${p.node}`, ['Sys.Audit']);
  return task;
}

export function taskStatus(w: PveWorld, p: Params): unknown {
  const t = findTask(w, p);
  const out: Record<string, unknown> = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user, status: t.status };
  if (t.status === 'stopped') out.exitstatus = t.exitstatus;
  return out;
}

export function taskLog(w: PveWorld, p: Params): unknown {
  const t = findTask(w, p);
  const start = Number(p.start ?? 0);
  const limit = Number(p.limit ?? 50);
  const lines = t.log.length ? t.log : ['no content'];
  return lines.slice(start, start + limit).map((text, i) => ({ n: start + i + 1, t: text }));
}
