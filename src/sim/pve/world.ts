/** Everything a request handler of the simulated Proxmox may use. */
import type { GuestHooks, SimContext } from '../contracts.js';
import type { Faults } from '../faults.js';
import type { Rng } from '../rng.js';
import type { Access } from './access.js';
import type { Cluster } from './cluster.js';
import type { ConfigLocks } from './config-locks.js';
import type { Privileges } from './permissions.js';
import type { DiskBandwidth } from './disk-bandwidth.js';
import type { Snippets } from './snippets.js';
import type { StorageLocks } from './storage-locks.js';
import type { StorageWatch } from './storage-watch.js';
import type { Tasks } from './tasks.js';

export interface PveWorld {
  ctx: SimContext;
  hooks: GuestHooks;
  cluster: Cluster;
  tasks: Tasks;
  /** pve-storage's per-storage locks, and the storages' shared bandwidth for full-clone copies */
  storageLocks: StorageLocks;
  bandwidth: DiskBandwidth;
  /** the VM config locks a destroy's worker holds (config-locks.ts) */
  configLocks: ConfigLocks;
  /** user.cfg: users, tokens, roles, ACLs, pools */
  access: Access;
  /** the authenticated token's privileges, path by path */
  privileges: Privileges;
  faults: Faults;
  snippets: Snippets;
  /** records any runner credential found on simulated storage (storage-watch.ts) */
  storageWatch: StorageWatch;
  /** The simulated Proxmox's own random stream (MACs, UUIDs, pids). */
  rng: Rng;
  /** The authenticated token id (`user@realm!name`), which PVE puts in UPIDs. */
  user: string;
}

/** Request parameters after routing: query/form values plus path parameters, all strings. */
export type Params = Record<string, string>;

export type Handler = (w: PveWorld, p: Params, endpoint: string) => unknown;
