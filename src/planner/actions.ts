import type { OtherInstance } from './instance.js';

/** What the planner decides; the executor carries these out. Every action says why. */

/**
 * Why a VM is made or started: for a queued job, to keep a pool's hot runners (booted, registered,
 * waiting), or as a warm VM (a stopped clone, no registration, no snippet, started when wanted).
 */
export type Purpose = 'job' | 'hot' | 'warm';

export interface CreateAction {
  kind: 'create';
  purpose: Purpose;
  pool: string;
  /** scope key the runner registers in; '' for a warm VM, which serves whichever scope starts it */
  scope: string;
  vmid: number;
  node: string;
  /** VMID of the template copy on `node` */
  templateVmid: number;
  /** its build (see ObservedVm.stamp), recorded on a warm VM to notice a rebuilt template */
  templateStamp?: string;
  memoryBytes: number;
  /** the queued job this VM is for (the oldest unserved one), for the logs */
  forJob?: number;
  reason: string;
}

/** A warm VM of ours, started for a job or a hot runner: registration, snippet, start — no clone. */
export interface StartWarmAction {
  kind: 'start-warm';
  purpose: Exclude<Purpose, 'warm'>;
  pool: string;
  scope: string;
  vmid: number;
  node: string;
  name: string;
  memoryBytes: number;
  forJob?: number;
  reason: string;
}

export interface RemoveVmAction {
  kind: 'remove-vm';
  pool: string;
  vmid: number;
  node: string;
  name: string;
  /** running VMs are stopped first */
  running: boolean;
  /** registration to delete first; a busy answer (422) cancels the removal */
  runner?: { id: number; scope: string };
  /** scope the VM's runner registers in: with no registration in the listing, it is looked up by name first */
  scope?: string;
  /** a VM no configured pool holds (see drain.ts): the executor checks its marks, not a pool's range */
  drain?: true;
  reason: string;
}

export interface StopVmAction {
  kind: 'stop-vm';
  pool: string;
  vmid: number;
  node: string;
  name: string;
  reason: string;
}

export interface DeleteRunnerAction {
  kind: 'delete-runner';
  pool: string;
  scope: string;
  runnerId: number;
  name: string;
  reason: string;
}

export interface DeleteSnippetAction {
  kind: 'delete-snippet';
  node: string;
  file: string;
  reason: string;
}

export interface AdoptVmAction {
  kind: 'adopt-vm';
  pool: string;
  vmid: number;
  node: string;
  name: string;
  reason: string;
}

export type Action = CreateAction | StartWarmAction | RemoveVmAction | StopVmAction | DeleteRunnerAction | DeleteSnippetAction | AdoptVmAction;

/** Per pool, what the tick saw and decided: the INFO summary line and `status` are made of this. */
export interface PoolSummary {
  pool: string;
  queued: number;
  idle: number;
  busy: number;
  booting: number;
  /** hot runners (idle, kept within the hot count) and warm VMs (stopped, ready), and the sizes in force */
  hot: number;
  warm: number;
  sizes: { hot: number; warm: number };
  vms: number;
  create: number;
  /** warm VMs started */
  start: number;
  remove: number;
  /** why fewer VMs are created than jobs wait, if so */
  limitedBy?: string;
}

export interface Plan {
  actions: Action[];
  pools: PoolSummary[];
  /** queued jobs no pool can serve */
  unmatched: Array<{ id: number; repo: string; labels: readonly string[] }>;
  /** things noticed but deliberately not acted on (foreign VMs in ranges, paused VMs …) */
  notes: string[];
  /** other pve-runners installations with VMs in our pools' ranges; a live one makes its pools stand down */
  otherInstances: readonly OtherInstance[];
  /** VMs of ours that no configured pool holds (removed pool, shrunk range): drained */
  draining: Array<{ vmid: number; node: string; name: string; pool: string; state: string; why: string }>;
}
