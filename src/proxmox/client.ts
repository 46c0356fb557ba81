import proxmoxApi from 'proxmox-api';
import { Agent, fetch as undiciFetch, Response, type RequestInit } from 'undici';
import { parseUpid, type CloneRequest, type ProxmoxApi, type PveNode, type PveTask, type PveVm, type VmConfigValue } from './api.js';
import { ProxmoxError, toProxmoxError } from './errors.js';

export interface ProxmoxClientOptions {
  /** e.g. https://pve1:8006/api2/json */
  url: string;
  tokenId: string;
  tokenSecret: string;
  verifySsl: boolean;
  /** PEM of the CA to trust (the cluster's pve-root-ca.pem) */
  ca?: string;
  /** Per-request timeout; clones answer with a UPID quickly, so this bounds a hung connection. */
  queryTimeoutMs?: number;
  /** told of every HTTP request: its method, path and status ('error': no answer) */
  onResponse?: (method: string, path: string, status: number | 'error') => void;
}

/** Asked for at once; a node running this many clones at a time is not expected. */
const TASK_LIST_LIMIT = 500;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;
const bool = (v: unknown): boolean => v === 1 || v === true || v === '1';
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/**
 * A VM without a name is listed as `VM <vmid>` (qemu-server vmstatus: `$conf->{name} || "VM $vmid"`,
 * which pvestatd passes on to /cluster/resources) — an in-progress clone's placeholder config among
 * them. A real name is a DNS name and has no space, so that text always means "no name".
 */
function realName(r: Record<string, unknown>): string {
  const name = str(r.name);
  return name === `VM ${str(r.vmid)}` ? '' : name;
}

/**
 * proxmox-api retries once on any network error, for every method: a clone or destroy whose answer
 * was lost would be sent twice. Mutating calls therefore get a fetch that turns network errors into
 * an answer (599) instead of throwing, which proxmox-api reports without retrying; the daemon's next
 * tick sees what really happened.
 */
function noBlindRetries(f: typeof undiciFetch) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    try {
      return await f(url, init);
    } catch (e) {
      if ((init?.method ?? 'GET').toUpperCase() === 'GET') throw e;
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      return new Response(JSON.stringify({ data: null }), {
        status: 599,
        statusText: `network error: ${cause}`.replace(/[\r\n]/g, ' '),
        headers: { 'content-type': 'application/json;charset=UTF-8' },
      });
    }
  };
}

export function createProxmoxClient(o: ProxmoxClientOptions): ProxmoxApi {
  const u = new URL(o.url);
  const connect = o.ca ? { ca: o.ca } : { rejectUnauthorized: o.verifySsl };
  const dispatcher = new Agent({ connect });
  const fetchWithTls = (async (url: string | URL, init?: RequestInit) => {
    const told = o.onResponse;
    if (!told) return undiciFetch(url, { ...init, dispatcher });
    const method = init?.method ?? 'GET';
    const path = new URL(url).pathname;
    try {
      const r = await undiciFetch(url, { ...init, dispatcher });
      told(method, path, r.status);
      return r;
    } catch (e) {
      told(method, path, 'error');
      throw e;
    }
  }) as typeof undiciFetch;
  const px = proxmoxApi({
    host: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 8006,
    schema: u.protocol === 'http:' ? 'http' : 'https',
    tokenID: o.tokenId,
    tokenSecret: o.tokenSecret,
    queryTimeout: o.queryTimeoutMs ?? 30_000,
    fetch: noBlindRetries(fetchWithTls),
  });

  async function call<T>(operation: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw toProxmoxError(e, operation);
    }
  }

  return {
    async listVms(): Promise<PveVm[]> {
      const items = await call('list VMs', () => px.cluster.resources.$get({ type: 'vm' }));
      return (items as Array<Record<string, unknown>>)
        .filter((r) => r.type === 'qemu' || r.type === 'lxc')
        .map((r) => ({
          kind: r.type === 'lxc' ? ('lxc' as const) : ('qemu' as const),
          vmid: num(r.vmid),
          node: str(r.node),
          name: realName(r),
          status: str(r.status),
          template: bool(r.template),
          tags: str(r.tags).split(/[;,\s]+/).filter(Boolean),
          lock: r.lock ? str(r.lock) : undefined,
          maxmem: num(r.maxmem),
          uptime: num(r.uptime),
        }));
    },
    async listNodes(): Promise<PveNode[]> {
      const items = await call('list nodes', () => px.cluster.resources.$get({ type: 'node' }));
      return (items as Array<Record<string, unknown>>)
        .filter((r) => r.type === 'node')
        .map((r) => ({ node: str(r.node), online: r.status === 'online', maxmem: num(r.maxmem), mem: num(r.mem) }));
    },
    async isVmidFree(vmid) {
      const operation = `check that VMID ${vmid} is free`;
      let data: unknown;
      try {
        data = await call(operation, () => px.cluster.nextid.$get({ vmid }));
      } catch (e) {
        // "VM N already exists" (400, in errors.vmid) is the answer, not a failure.
        if (e instanceof ProxmoxError && e.status === 400 && /already exists/.test(e.paramErrors.vmid ?? e.pveMessage)) return false;
        throw e;
      }
      // PVE echoes the parameter (a string) when it is free; a number is accepted just as well.
      const answered = typeof data === 'number' ? data : typeof data === 'string' && /^\d+$/.test(data) ? Number(data) : undefined;
      if (answered === vmid) return true;
      throw new ProxmoxError(0, `unexpected answer ${JSON.stringify(data)}`, operation);
    },
    async getConfig(node, vmid) {
      return (await call(`read config of VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).config.$get())) as unknown as Record<string, VmConfigValue>;
    },
    async vmStatus(node, vmid) {
      const st = (await call(`read status of VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).status.current.$get())) as unknown as { status?: unknown };
      if (st.status === 'running' || st.status === 'stopped') return st.status;
      throw new ProxmoxError(0, `unexpected status ${JSON.stringify(st.status)}`, `read status of VM ${vmid}`);
    },
    async clone(node, sourceVmid, req: CloneRequest) {
      return call(`clone ${sourceVmid} to ${req.newid}`, () => px.nodes.$(node).qemu.$(sourceVmid).clone.$post({ ...req }));
    },
    async updateConfig(node, vmid, params) {
      return (await call(`configure VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).config.$post(params as never))) as string | null;
    },
    async start(node, vmid) {
      return call(`start VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).status.start.$post());
    },
    async stop(node, vmid) {
      return call(`stop VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).status.stop.$post());
    },
    async agentPing(node, vmid) {
      await call(`ping the guest agent of VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).agent.ping.$post());
    },
    async agentOsId(node, vmid) {
      const r = (await call(`read the guest OS of VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).agent['get-osinfo'].$get())) as { result?: { id?: unknown } };
      return str(r.result?.id);
    },
    async agentFileWrite(node, vmid, file, content) {
      // The operation names the file, never the content: it holds the runner's credentials.
      await call(`write ${file} into VM ${vmid} through the guest agent`, () => px.nodes.$(node).qemu.$(vmid).agent['file-write'].$post({ file, content }));
    },
    async destroy(node, vmid) {
      return call(`destroy VM ${vmid}`, () => px.nodes.$(node).qemu.$(vmid).$delete({ purge: true, 'destroy-unreferenced-disks': true }));
    },
    async taskStatus(node, upid) {
      const s = await call(`read task ${upid}`, () => px.nodes.$(node).tasks.$(upid).status.$get());
      return { status: str(s.status), exitstatus: s.exitstatus === undefined ? undefined : str(s.exitstatus) };
    },
    async activeTasks(node, type) {
      const operation = `list active ${type} tasks on ${node}`;
      const items = (await call(operation, () => px.nodes.$(node).tasks.$get({ source: 'active', typefilter: type, limit: TASK_LIST_LIMIT }))) as Array<Record<string, unknown>>;
      // A full page may leave some out: better no answer than a short one.
      if (items.length >= TASK_LIST_LIMIT) throw new ProxmoxError(0, `more than ${TASK_LIST_LIMIT - 1} active ${type} tasks`, operation);
      const out: PveTask[] = [];
      for (const r of items) {
        // Read from the UPID: it always carries the whole token id (the entry's `user` is split
        // into `user` and `tokenid` once a task is archived, pve-manager API2/Tasks.pm).
        const u = parseUpid(str(r.upid));
        if (!u) throw new ProxmoxError(0, `unexpected task id ${JSON.stringify(r.upid)}`, operation);
        out.push({ upid: str(r.upid), ...u, running: r.endtime === undefined && (r.status === undefined || r.status === 'RUNNING') });
      }
      return out;
    },
    async version() {
      const v = await call('read version', () => px.version.$get());
      return { version: str(v.version), release: str(v.release) };
    },
    async permissions() {
      return (await call('read permissions', () => px.access.permissions.$get())) as unknown as Record<string, Record<string, number>>;
    },
    async nodeStorages(node) {
      const items = await call(`list storages of ${node}`, () => px.nodes.$(node).storage.$get());
      return (items as Array<Record<string, unknown>>).map((s) => ({
        storage: str(s.storage),
        content: str(s.content).split(',').filter(Boolean),
        shared: bool(s.shared),
        active: s.active === undefined ? true : bool(s.active),
      }));
    },
    async storageContent(node, storage, content) {
      const items = await call(`list ${content} on ${storage}@${node}`, () => px.nodes.$(node).storage.$(storage).content.$get({ content }));
      return (items as Array<Record<string, unknown>>).map((i) => ({ volid: str(i.volid) }));
    },
  };
}
