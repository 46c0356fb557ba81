import { parseUpid, type ProxmoxApi } from '../proxmox/api.js';

/**
 * Which VMs this process may have changed since a moment: a counter per VMID, bumped whenever a
 * call through `watch`'s API could have changed (or found changed) that VM's config — a write, a
 * start/stop/destroy/clone, the end of one of its tasks, or a fresh read by the executor before a
 * change (which is how a person's edit gets noticed). The observer keeps a VM description read at
 * generation g for as long as the VM's generation is still g: a warm VM's description, which the
 * executor rewrites when it starts it, is then read once, not at every tick.
 *
 * The count is bumped when a call *ends*: a read that ran alongside the call carries the older
 * generation and is not trusted afterwards.
 */
export class ConfigWrites {
  private readonly gens = new Map<number, number>();
  private counter = 0;

  generation(vmid: number): number {
    return this.gens.get(vmid) ?? 0;
  }

  private bump(vmid: number | undefined): void {
    if (vmid === undefined || !Number.isInteger(vmid)) return;
    this.gens.set(vmid, ++this.counter);
  }

  /**
   * Forgets VMIDs no longer listed (the map stays as large as the cluster's VMs). Safe: a forgotten
   * VMID reads generation 0, which no cached description carries once it was bumped.
   */
  keepOnly(vmids: ReadonlySet<number>): void {
    for (const id of this.gens.keys()) if (!vmids.has(id)) this.gens.delete(id);
  }

  /** The same API, telling this tracker of everything that may change a VM's config. */
  watch(api: ProxmoxApi): ProxmoxApi {
    const after = <T>(vmid: number | undefined, p: Promise<T>): Promise<T> => {
      // settled either way: a failed call may still have changed the VM (a lost answer)
      p.then(() => this.bump(vmid), () => this.bump(vmid));
      return p;
    };
    const upidVmid = (upid: string) => {
      const id = parseUpid(upid)?.id;
      return id !== undefined && /^\d+$/.test(id) ? Number(id) : undefined;
    };
    return {
      listVms: () => api.listVms(),
      listNodes: () => api.listNodes(),
      isVmidFree: (vmid) => api.isVmidFree(vmid),
      getConfig: (node, vmid) => after(vmid, api.getConfig(node, vmid)),
      vmStatus: (node, vmid) => api.vmStatus(node, vmid),
      clone: (node, source, req) => after(req.newid, api.clone(node, source, req)),
      updateConfig: (node, vmid, params) => after(vmid, api.updateConfig(node, vmid, params)),
      start: (node, vmid) => after(vmid, api.start(node, vmid)),
      stop: (node, vmid) => after(vmid, api.stop(node, vmid)),
      destroy: (node, vmid) => after(vmid, api.destroy(node, vmid)),
      taskStatus: async (node, upid) => {
        const s = await api.taskStatus(node, upid);
        if (s.status === 'stopped') this.bump(upidVmid(upid));
        return s;
      },
      activeTasks: (node, type) => api.activeTasks(node, type),
      version: () => api.version(),
      permissions: () => api.permissions(),
      nodeStorages: (node) => api.nodeStorages(node),
      storageContent: (node, storage, content) => api.storageContent(node, storage, content),
      // the guest's files, not the VM's config
      agentPing: (node, vmid) => api.agentPing(node, vmid),
      agentFileWrite: (node, vmid, file, content) => api.agentFileWrite(node, vmid, file, content),
      agentOsId: (node, vmid) => api.agentOsId(node, vmid),
    };
  }
}
