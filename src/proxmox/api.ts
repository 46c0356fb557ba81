/** A guest as /cluster/resources lists it: a QEMU VM, or a container (whose VMID is taken all the same). */
export interface PveVm {
  kind: 'qemu' | 'lxc';
  vmid: number;
  node: string;
  name: string;
  status: string;
  template: boolean;
  tags: string[];
  lock?: string;
  /** bytes */
  maxmem: number;
  /** seconds since start; 0 when stopped */
  uptime: number;
}

export interface PveNode {
  node: string;
  online: boolean;
  /** bytes */
  maxmem: number;
  mem: number;
}

export interface CloneRequest {
  newid: number;
  name: string;
  description: string;
  full: boolean;
  target?: string;
  storage?: string;
  pool?: string;
}

export type VmConfigValue = string | number;

/** A task as a node's task list shows it, read from its UPID. */
export interface PveTask {
  upid: string;
  node: string;
  /** e.g. `qmclone` */
  type: string;
  /** the task's object: for a qmclone, the VMID cloned *from* */
  id: string;
  /** who started it, as the UPID carries it: `user@realm`, or a token's `user@realm!name` */
  user: string;
  /** not ended yet (an active-list entry that has ended carries an end time) */
  running: boolean;
}

/**
 * The Proxmox VE calls pve-runners makes, and no others. Calls that start a task return its UPID;
 * awaiting it is tasks.ts's job.
 */
export interface ProxmoxApi {
  listVms(): Promise<PveVm[]>;
  listNodes(): Promise<PveNode[]>;
  /**
   * Whether no guest anywhere in the cluster holds `vmid` (GET /cluster/nextid?vmid=N: any user may
   * ask, and it sees every VMID, also those the token may not list). A hint only: the clone call
   * stays the arbiter.
   */
  isVmidFree(vmid: number): Promise<boolean>;
  getConfig(node: string, vmid: number): Promise<Record<string, VmConfigValue>>;
  /** The VM's power state now (GET …/status/current reads QEMU itself; /cluster/resources lags by pvestatd's round). */
  vmStatus(node: string, vmid: number): Promise<'running' | 'stopped'>;
  clone(node: string, sourceVmid: number, req: CloneRequest): Promise<string>;
  /** POST config (asynchronous: a qmconfig task). */
  updateConfig(node: string, vmid: number, params: Record<string, VmConfigValue>): Promise<string | null>;
  start(node: string, vmid: number): Promise<string>;
  stop(node: string, vmid: number): Promise<string>;
  /** POST …/agent/ping: resolves once the VM's QEMU guest agent answers; PVE's 500 while it does not. */
  agentPing(node: string, vmid: number): Promise<void>;
  /**
   * POST …/agent/file-write of `content` as text (PVE base64-encodes it for QEMU itself: `encode`
   * stays at its default, so the content is never encoded twice). At most AGENT_FILE_WRITE_MAX chars.
   */
  agentFileWrite(node: string, vmid: number, file: string, content: string): Promise<void>;
  /** GET …/agent/get-osinfo: the guest's OS `id` as qemu-ga reports it (`mswindows` on Windows, os-release ID elsewhere). */
  agentOsId(node: string, vmid: number): Promise<string>;
  destroy(node: string, vmid: number): Promise<string>;
  taskStatus(node: string, upid: string): Promise<{ status: string; exitstatus?: string }>;
  /**
   * A node's active tasks of one type (GET /nodes/{node}/tasks?source=active): any token sees its
   * own; others' only with Sys.Audit on /nodes/<node>. Throws when the list may be cut short.
   */
  activeTasks(node: string, type: string): Promise<PveTask[]>;
  version(): Promise<{ version: string; release: string }>;
  /** The token's effective privileges: path → privilege → 1. */
  permissions(): Promise<Record<string, Record<string, number>>>;
  /** Storages of a node with their content types. */
  nodeStorages(node: string): Promise<Array<{ storage: string; content: string[]; shared: boolean; active: boolean }>>;
  storageContent(node: string, storage: string, content: string): Promise<Array<{ volid: string }>>;
}

/** `upid` names its node (UPID:<node>:…); tasks must be read on that node. */
export function upidNode(upid: string): string | undefined {
  return /^UPID:([^:]+):/.exec(upid)?.[1];
}

/**
 * The parts of a UPID (pve-common PVE/UPID.pm):
 * `UPID:<node>:<pid 8hex>:<pstart 8-9hex>:<starttime 8hex>:<type>:<id>:<user>:`, where a token's
 * user is `user@realm!name` (unlike the task list's archived entries, which split it).
 */
export function parseUpid(upid: string): { node: string; type: string; id: string; user: string } | undefined {
  const m = /^UPID:([a-zA-Z0-9][a-zA-Z0-9.-]*):[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:([^:\s]+):([^:\s]*):([^:\s]+):$/.exec(upid);
  return m ? { node: m[1]!, type: m[2]!, id: m[3]!, user: m[4]! } : undefined;
}

/** file-write's `content` maxLength in the PVE 8.4 and 9.1 schemas (60 KiB, under PVE's 64 KiB POST limit). */
export const AGENT_FILE_WRITE_MAX = 61440;
