import type { TierSizes } from '../config/types.js';

/**
 * What one tick saw: the input of the planner. Built by the observer from GitHub and Proxmox (and
 * from what this process has in flight); the planner reads nothing else.
 */

/** Metadata pve-runners writes into a VM's description when it clones it. */
export interface VmMeta {
  pool: string;
  /** scope key (repo:owner/name | org:name) the runner registers in */
  scope: string;
  runner: string;
  /** epoch ms: when it was cloned, or, for a VM that was warm, when it was started */
  createdAt: number;
  /** set while the VM is warm (a stopped clone kept ready): the template it was cloned from */
  warm?: { template: number; stamp?: string };
  /** the installation (INSTANCE_ID) that made it; absent on VMs made before ids existed (taken as ours) */
  instance?: string;
}

export interface ObservedVm {
  /** containers share the VMID space; they are never ours */
  kind?: 'qemu' | 'lxc';
  vmid: number;
  node: string;
  name: string;
  status: string;
  template: boolean;
  tags: readonly string[];
  lock?: string;
  maxmemBytes: number;
  uptimeS: number;
  /** Parsed description; undefined when it could not be read or is not ours. */
  meta?: VmMeta;
  /** its config could not be read this tick: whose it is is unknown (never taken for someone else's) */
  configUnread?: boolean;
  /** templates only: what tells one build from the next (Proxmox's `meta` ctime), when it was read */
  stamp?: string;
}

export interface ObservedRunner {
  id: number;
  name: string;
  scope: string;
  status: string;
  busy: boolean;
}

export interface ObservedJob {
  id: number;
  runId: number;
  repo: string;
  scope: string;
  name: string;
  labels: readonly string[];
  createdAt: string;
}

export interface ObservedNode {
  name: string;
  online: boolean;
  maxmemBytes: number;
  memBytes: number;
  /** why snippets cannot be uploaded to it over SFTP now: pools with delivery: sftp skip it */
  sftpDown?: string;
}

export interface ObservedSnippet {
  /** node name, or '' for a shared snippets directory */
  node: string;
  file: string;
}

/** Work this process started and has not finished: the planner must neither repeat nor undo it. */
export interface InFlight {
  /** clones, and warm VMs being started (their VMID is the warm VM's); `warm`: a warm VM being cloned */
  creating: ReadonlyArray<{ pool: string; scope: string; vmid: number; node: string; runnerName: string; memoryBytes: number; warm?: boolean }>;
  /** VMIDs with a removal, stop or adoption under way */
  busyVmids: ReadonlySet<number>;
  deletingRunners: ReadonlySet<number>;
  /** VMIDs destroyed recently (epoch ms): not reused until the cooldown passes */
  recentlyFreed: ReadonlyMap<number, number>;
  /** runner names this process has seen online: a VM whose runner is gone after that finished its job */
  seenOnline: ReadonlySet<string>;
  /** VMIDs of VMs a person took over (our marks were gone when the executor re-read them): never touched again */
  disowned: ReadonlySet<number>;
}

export interface Observation {
  now: number;
  jobs: readonly ObservedJob[];
  /** Scopes whose job listing failed this tick: their demand is unknown, so nothing is removed for lack of it. */
  jobScopesFailed: readonly string[];
  runners: readonly ObservedRunner[];
  /** runner name → when the job it runs started (epoch ms, GitHub's started_at of in-progress jobs) */
  jobStarted?: ReadonlyMap<string, number>;
  /** Scopes whose runner listing loaded this tick; registrations elsewhere are unknown, not absent. */
  runnerScopes: readonly string[];
  vms: readonly ObservedVm[];
  /**
   * VMIDs of the pools' ranges that Proxmox calls taken but `vms` does not show (the token may not
   * see them), with the time (epoch ms) each was first found so: maybe a clone of ours in progress.
   */
  hiddenVmids: ReadonlyMap<number, number>;
  /**
   * Per pool name, running clone tasks of our token that this process is not awaiting (from before
   * a restart, or whose answer was lost): how many of the pool's hidden VMIDs may be clones of ours.
   * Empty when nothing is hidden; undefined when the task lists could not be read.
   */
  unexplainedClones?: ReadonlyMap<string, number>;
  nodes: readonly ObservedNode[];
  /** per pool name, the hot and warm sizes in force now (from the pool's schedule and the clock); absent: the pools' own */
  tierSizes?: ReadonlyMap<string, TierSizes>;
  /** undefined when the snippet directories could not be listed */
  snippets: readonly ObservedSnippet[] | undefined;
  inFlight: InFlight;
}
