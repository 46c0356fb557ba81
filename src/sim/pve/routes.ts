/**
 * The endpoints the simulated Proxmox serves, keyed `METHOD /path/{template}` exactly as in the
 * trimmed schema, and matching of a request path to one of them.
 */
import { agentExec, agentExecStatus, agentFileWrite, agentOsInfo, agentPing } from './qemu-agent.js';
import { getConfig, postConfig, putConfig } from './qemu-config.js';
import { cloneVm } from './qemu-clone.js';
import { currentStatus, destroyVm, listVms, shutdownVm, startVm, stopVm } from './qemu-power.js';
import { nextId, nodes, permissions, resources, taskLog, taskStatus, version } from './cluster-api.js';
import { nodeTasks } from './task-list.js';
import { nodeStorages, storageConfig, storageContent, storageStatus } from './storage-api.js';
import { pveApi } from './schema.js';
import type { Handler } from './world.js';

export const handlers: Record<string, Handler> = {
  'GET /version': version,
  'GET /cluster/resources': resources,
  'GET /cluster/nextid': nextId,
  'GET /nodes': nodes,
  'GET /nodes/{node}/qemu': listVms,
  'DELETE /nodes/{node}/qemu/{vmid}': destroyVm,
  'GET /nodes/{node}/qemu/{vmid}/config': getConfig,
  'POST /nodes/{node}/qemu/{vmid}/config': postConfig,
  'PUT /nodes/{node}/qemu/{vmid}/config': putConfig,
  'POST /nodes/{node}/qemu/{vmid}/clone': cloneVm,
  'GET /nodes/{node}/qemu/{vmid}/status/current': currentStatus,
  'POST /nodes/{node}/qemu/{vmid}/status/start': startVm,
  'POST /nodes/{node}/qemu/{vmid}/status/stop': stopVm,
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown': shutdownVm,
  'POST /nodes/{node}/qemu/{vmid}/agent/ping': agentPing,
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo': agentOsInfo,
  'POST /nodes/{node}/qemu/{vmid}/agent/file-write': agentFileWrite,
  'POST /nodes/{node}/qemu/{vmid}/agent/exec': agentExec,
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status': agentExecStatus,
  'GET /nodes/{node}/tasks': nodeTasks,
  'GET /nodes/{node}/tasks/{upid}/status': taskStatus,
  'GET /nodes/{node}/tasks/{upid}/log': taskLog,
  'GET /nodes/{node}/storage': nodeStorages,
  'GET /nodes/{node}/storage/{storage}/status': storageStatus,
  'GET /nodes/{node}/storage/{storage}/content': storageContent,
  'GET /storage/{storage}': storageConfig,
  'GET /access/permissions': permissions,
};

interface Route {
  endpoint: string;
  method: string;
  re: RegExp;
  names: string[];
}

const routes: Route[] = Object.keys(pveApi.endpoints).map((endpoint) => {
  const [method, path] = endpoint.split(' ') as [string, string];
  const names: string[] = [];
  const re = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), '([^/]+)'))}/?$`);
  return { endpoint, method, re, names };
});

/** Finds the endpoint for `METHOD /rel/path` (path below /api2/json); path params URL-decoded. */
export function matchRoute(method: string, relPath: string): { endpoint: string; pathParams: Record<string, string> } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.re.exec(relPath);
    if (!m) continue;
    const pathParams: Record<string, string> = {};
    r.names.forEach((n, i) => (pathParams[n] = decodeURIComponent(m[i + 1]!)));
    return { endpoint: r.endpoint, pathParams };
  }
  return undefined;
}
