import type { PoolConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ProxmoxApi, PveNode, PveTask, PveVm } from '../proxmox/api.js';

export interface CloneTasksDeps {
  proxmox: ProxmoxApi;
  pools: readonly PoolConfig[];
  log: Logger;
  /** our token id, `user@realm!name`: the user of every task this daemon starts */
  tokenId: string;
  /** UPIDs of the clones this process is awaiting (the executor's) */
  known: () => ReadonlySet<string>;
}

/**
 * Clones of ours that nothing in this process accounts for: running qmclone tasks of our token
 * whose UPID the executor is not awaiting — begun before a restart, or whose answer was lost. Such
 * a clone's VM is invisible to a token without VM.Audit on /vms until the task ends (qemu-server
 * adds it to the resource pool last), so it is one of the pool's unseen VMIDs. A qmclone task's id
 * is the VMID cloned *from*, so each is counted for the pools whose template that is.
 */
export class CloneTasks {
  private failing = false;

  constructor(private readonly d: CloneTasksDeps) {}

  /** A reload: clones are counted for these pools from the next tick on. */
  setPools(pools: readonly PoolConfig[]): void {
    this.d.pools = pools;
  }

  /**
   * The running clone tasks on the online nodes, read now; undefined when a node's list could not
   * be read (then nobody can tell whose an unseen VMID is). One request per online node.
   */
  async running(nodes: readonly PveNode[]): Promise<PveTask[] | undefined> {
    let tasks;
    try {
      const lists = await Promise.all(nodes.filter((n) => n.online).map((n) => this.d.proxmox.activeTasks(n.node, 'qmclone')));
      tasks = lists.flat();
    } catch (e) {
      if (!this.failing) this.d.log.warn(`cannot list the clone tasks: ${(e as Error).message}; VMIDs this token cannot see count against their pool for the clone timeout`);
      this.failing = true;
      return undefined;
    }
    if (this.failing) this.d.log.info('the clone tasks can be listed again');
    this.failing = false;
    return tasks;
  }

  /** Per pool name, how many of `tasks` (see running) are clones of ours this process does not account for. */
  unexplained(tasks: readonly PveTask[], vms: readonly PveVm[]): Map<string, number> {
    const known = this.d.known();
    const counts = new Map(this.d.pools.map((p) => [p.name, 0]));
    for (const t of tasks) {
      if (!t.running || t.user !== this.d.tokenId || known.has(t.upid)) continue;
      const source = Number(t.id);
      for (const p of this.d.pools) {
        if (templateCopies(p, vms).has(source)) counts.set(p.name, counts.get(p.name)! + 1);
      }
    }
    return counts;
  }
}

/** VMIDs of the listed copies of a pool's template (one per node, or the one named by VMID). */
function templateCopies(p: PoolConfig, vms: readonly PveVm[]): Set<number> {
  if (p.template.kind === 'vmid') return new Set([p.template.vmid]);
  const name = p.template.name;
  return new Set(vms.filter((v) => v.template && v.name === name).map((v) => v.vmid));
}
