/**
 * Storages as the nodes report them: the snippet storage (`local`-style dir per node, or one
 * shared file storage) and the templates' image storages.
 */
import { PveError } from './errors.js';
import type { Params, PveWorld } from './world.js';

const GIB = 1024 ** 3;

export interface StorageInfo {
  storage: string;
  type: string;
  content: string;
  shared: 0 | 1;
  path?: string;
  total: number;
  used: number;
}

export function storages(w: PveWorld): StorageInfo[] {
  const { snippets } = w;
  const list = new Map<string, StorageInfo>();
  list.set(snippets.storage, snippets.shared
    ? { storage: snippets.storage, type: 'nfs', content: 'snippets,iso', shared: 1, path: `/mnt/pve/${snippets.storage}`, total: 2048 * GIB, used: 100 * GIB }
    : { storage: snippets.storage, type: 'dir', content: 'backup,iso,snippets,vztmpl', shared: 0, path: snippets.storage === 'local' ? '/var/lib/vz' : `/mnt/pve/${snippets.storage}`, total: 100 * GIB, used: 12 * GIB });
  for (const t of w.ctx.scenario.proxmox.templates) {
    const existing = list.get(t.storage);
    if (existing) {
      if (!existing.content.includes('images')) existing.content = `images,rootdir,${existing.content}`;
      continue;
    }
    list.set(t.storage, t.sharedStorage
      ? { storage: t.storage, type: 'rbd', content: 'images,rootdir', shared: 1, total: 4096 * GIB, used: 900 * GIB }
      : { storage: t.storage, type: 'lvmthin', content: 'images,rootdir', shared: 0, total: 800 * GIB, used: 120 * GIB });
  }
  return [...list.values()];
}

function storageOn(w: PveWorld, id: string): StorageInfo {
  const s = storages(w).find((x) => x.storage === id);
  if (!s) throw new PveError(`storage '${id}' does not exist`);
  return s;
}

/** pve-storage API2/Storage/Status.pm index: a storage is listed only with either privilege on it. */
const canSee = (w: PveWorld, storage: string) => w.privileges.hasAny(`/storage/${storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace']);

export function nodeStorages(w: PveWorld, p: Params): unknown {
  const contentFilter = p.content?.split(',');
  return storages(w)
    .filter((s) => canSee(w, s.storage))
    .filter((s) => p.storage === undefined || s.storage === p.storage)
    .filter((s) => !contentFilter || contentFilter.some((c) => s.content.split(',').includes(c)))
    .map((s) => ({ storage: s.storage, type: s.type, content: s.content, shared: s.shared, active: 1, enabled: 1, total: s.total, used: s.used, avail: s.total - s.used, used_fraction: s.used / s.total }));
}

export function storageStatus(w: PveWorld, p: Params): unknown {
  const s = storageOn(w, p.storage!);
  return { type: s.type, content: s.content, shared: s.shared, active: 1, enabled: 1, total: s.total, used: s.used, avail: s.total - s.used };
}

/**
 * pve-storage Storage.pm check_volume_access (with no VM of the caller's own), which GET …/content
 * applies to each volume: Datastore.Allocate on the storage shows everything; otherwise a VM disk
 * needs Datastore.Audit there and VM.Config.Disk on its owner, and a snippet is never shown.
 */
function mayList(w: PveWorld, storage: string, content: string, owner: number | undefined): boolean {
  if (w.privileges.has(`/storage/${storage}`, 'Datastore.Allocate')) return true;
  if (content === 'images' && owner !== undefined) return w.privileges.has(`/storage/${storage}`, 'Datastore.Audit') && w.privileges.has(`/vms/${owner}`, 'VM.Config.Disk');
  return false;
}

/** GET …/content: snippet files in the node's real directory; VM disks on image storages; each as check_volume_access lets the caller see it. */
export function storageContent(w: PveWorld, p: Params): unknown {
  const s = storageOn(w, p.storage!);
  const want = (c: string) => (p.content === undefined || p.content === c) && s.content.split(',').includes(c);
  const out: unknown[] = [];
  if (want('snippets') && s.storage === w.snippets.storage && p.vmid === undefined) {
    for (const f of w.snippets.list(p.node!)) if (mayList(w, s.storage, 'snippets', undefined)) out.push({ volid: `${s.storage}:snippets/${f.file}`, content: 'snippets', format: 'snippet', size: f.size, ctime: f.ctime });
  }
  if (want('images')) {
    for (const vm of w.cluster.vms.values()) {
      if ((vm.node !== p.node && !s.shared) || (p.vmid !== undefined && vm.vmid !== Number(p.vmid))) continue;
      for (const [k, v] of vm.config) {
        if (!/^(scsi|virtio|sata|ide)\d+$/.test(k) || v.includes('media=cdrom')) continue;
        const vol = v.split(',')[0]!;
        if (!vol.startsWith(`${s.storage}:`)) continue;
        const own = /(?:^|\/)(?:base|vm)-(\d+)-disk-\d+$/.exec(vol);
        if (!mayList(w, s.storage, 'images', own ? Number(own[1]) : vm.vmid)) continue;
        out.push({ volid: vol, content: 'images', format: 'raw', size: 20 * GIB, vmid: own ? Number(own[1]) : vm.vmid, ...(vol.includes('/') ? { parent: vol.split(':')[1]!.split('/')[0] } : {}) });
      }
    }
  }
  return out;
}

/** GET /storage/{storage}: the storage.cfg entry (needs Datastore.Allocate, as in PVE). */
export function storageConfig(w: PveWorld, p: Params): unknown {
  const s = storageOn(w, p.storage!);
  const out: Record<string, unknown> = { storage: s.storage, type: s.type, content: s.content, digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4' };
  if (s.path) out.path = s.path;
  if (s.shared) out.shared = 1;
  return out;
}
