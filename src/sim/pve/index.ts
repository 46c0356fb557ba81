/**
 * The simulated Proxmox VE: a real HTTP server on 127.0.0.1 under /api2/json that the daemon
 * reaches through `proxmox-api`, with PVE's tasks, locks, error shapes, token auth and real
 * snippet directories. See DESIGN.md "The simulator" and reference/apis.md §1–§3.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GuestHooks, GuestPower, SimContext } from '../contracts.js';
import { Faults } from '../faults.js';
import { Cluster } from './cluster.js';
import { scenarioAccess } from './access-scenario.js';
import { Privileges } from './permissions.js';
import { markStopped } from './qemu-power.js';
import { API_BASE, PveHttp } from './server.js';
import { DiskBandwidth } from './disk-bandwidth.js';
import { Snippets } from './snippets.js';
import { StorageWatch } from './storage-watch.js';
import { StorageLocks } from './storage-locks.js';
import { ConfigLocks } from './config-locks.js';
import { Tasks } from './tasks.js';
import type { PveWorld } from './world.js';
import { parseVmDescription } from '../../proxmox/vm-meta.js';

export { pveToJsonSchema, pveApi, type PveSchema, type PveEndpoint } from './schema.js';
export { matchRoute } from './routes.js';
export { DEFAULT_TOKEN } from './access-scenario.js';

export interface PveEndpointInfo {
  /** `http://127.0.0.1:PORT/api2/json` */
  url: string;
  tokenId: string;
  tokenSecret: string;
  /** node → real directory the daemon writes snippets to */
  snippetsDirs: Record<string, string>;
}

export class PveSim implements GuestPower {
  private readonly world: PveWorld;
  private readonly tokenSecret: string;
  private server: Server | undefined;
  /** the API's port while unreachable() has closed it */
  private port: number | undefined;

  constructor(ctx: SimContext, hooks: GuestHooks, snippetsRoot: string) {
    const rng = ctx.rng.fork('pve');
    this.tokenSecret = ctx.rng.fork('pve-token').uuid();
    const { access, authid } = scenarioAccess(ctx.scenario);
    const snippets = new Snippets(snippetsRoot, ctx.scenario);
    this.world = {
      ctx, hooks, rng,
      cluster: new Cluster(ctx.scenario, rng.fork('cluster')),
      tasks: new Tasks(ctx),
      storageLocks: new StorageLocks(ctx.clock, ctx.rng.fork('pve-storage-locks')),
      configLocks: new ConfigLocks(ctx.clock, ctx.rng.fork('pve-config-locks')),
      bandwidth: new DiskBandwidth(ctx.clock),
      access,
      privileges: new Privileges(access, authid),
      faults: new Faults(ctx.scenario.proxmox.faults, ctx.rng.fork('pve-faults')),
      snippets,
      storageWatch: new StorageWatch(snippets),
      user: authid,
    };
  }

  async start(): Promise<PveEndpointInfo> {
    const http = new PveHttp(this.world, this.tokenSecret);
    const server = createServer((req, res) => {
      http.handle(req, res).catch((e: unknown) => {
        res.writeHead(500, 'internal simulator error');
        res.end(String(e));
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}${API_BASE}`, tokenId: this.world.user, tokenSecret: this.tokenSecret, snippetsDirs: this.world.snippets.directories() };
  }

  /**
   * Proxmox unreachable (tests): the API's port refuses connections, as when pveproxy is stopped or
   * the host is down; open connections are cut. `reachable()` listens on the same port again.
   */
  async unreachable(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    this.port = (server.address() as AddressInfo).port;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async reachable(): Promise<void> {
    const server = this.server;
    if (!server || server.listening || this.port === undefined) return;
    const port = this.port;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The guest powered itself off (`poweroff` in the VM). */
  powerOff(vmid: number): void {
    const vm = this.world.cluster.vms.get(vmid);
    if (vm) markStopped(this.world, vm);
  }

  /** The template built again in place (a new `meta` ctime): warm VMs cloned from it are now out of date. */
  rebuildTemplate(vmid: number): void {
    this.world.cluster.rebuildTemplate(vmid, Math.floor(this.world.ctx.clock.epochMs() / 1000));
  }

  /** Tasks of this type (e.g. `qmclone`) do not end until `releaseTasks`: see Tasks.hold. */
  holdTasks(type: string): void {
    this.world.tasks.hold(type);
  }

  releaseTasks(type: string): void {
    this.world.tasks.release(type);
  }

  /** pve-runners' VMs as they are now (for scenario-driven checks such as killing the daemon mid-clone). */
  ourVms(): Array<{ vmid: number; node: string; name: string; status: 'running' | 'stopped'; lock: string | undefined; tags: string[]; warm: boolean; instance: string | undefined }> {
    return [...this.world.cluster.vms.values()]
      .filter((v) => v.kind === 'ours')
      .map((v) => ({
        vmid: v.vmid, node: v.node, name: v.config.get('name') ?? '', status: v.status, lock: v.config.get('lock'), tags: (v.config.get('tags') ?? '').split(/[;,\s]+/).filter(Boolean),
        // described warm by pve-runners (a stopped clone kept ready), as its description says
        warm: parseVmDescription(v.config.get('description'))?.warm !== undefined,
        // the pve-runners installation that made it, as its description says
        instance: parseVmDescription(v.config.get('description'))?.instance,
      }));
  }

  /**
   * A person takes one of pve-runners' running VMs over by hand, as in the web UI: its tags and
   * description are removed. From then on the VM is somebody else's — any change pve-runners makes
   * to it is a foreign touch, and it is no leak. Picks the lowest VMID `want` accepts; returns it.
   */
  stripMarks(want: (vm: { vmid: number; name: string }) => boolean): { vmid: number; name: string } | undefined {
    const vm = [...this.world.cluster.vms.values()]
      .filter((v) => v.kind === 'ours' && v.status === 'running' && v.config.get('lock') === undefined && v.config.has('tags'))
      .sort((a, b) => a.vmid - b.vmid)
      .find((v) => want({ vmid: v.vmid, name: v.config.get('name') ?? '' }));
    if (!vm) return undefined;
    vm.config.delete('tags');
    vm.config.delete('description');
    vm.kind = 'foreign';
    this.world.ctx.recorder.vmDisowned(vm.vmid);
    return { vmid: vm.vmid, name: vm.config.get('name') ?? '' };
  }

  /**
   * Someone else (`user`, e.g. `alice@pam`) clones `source` into `newid` as in the web UI: a
   * placeholder config holding `lock: clone` at once, a `qmclone` task of theirs (its id is the
   * source VMID) for `durationMs`, then the VM unlocked and named. Theirs, never pve-runners'.
   * Returns the task's UPID.
   */
  personClones(o: { user: string; source: number; newid: number; name: string; durationMs: number }): string {
    const src = this.world.cluster.vms.get(o.source);
    if (!src) throw new Error(`personClones: no VM ${o.source}`);
    if (this.world.cluster.vms.has(o.newid)) throw new Error(`personClones: VMID ${o.newid} is taken`);
    const vm = { vmid: o.newid, node: src.node, kind: 'foreign' as const, config: new Map([['description', ' qmclone temporary file\n'], ['lock', 'clone']]), status: 'stopped' as const, heldMb: 0 };
    this.world.cluster.vms.set(o.newid, vm);
    return this.world.tasks.start({
      node: src.node, type: 'qmclone', id: o.source, user: o.user, durationMs: o.durationMs,
      finish: () => void (vm.config = new Map([...src.config].filter(([k]) => k !== 'template').concat([['name', o.name]]))),
    });
  }

  /** What pve-runners left behind: its VMs (not templates or foreign ones) and snippet files. */
  /** Runner credentials to look for on storage (the simulated GitHub's issued secrets). */
  watchForSecrets(secrets: () => readonly string[]): void {
    this.world.storageWatch.watchFor(secrets);
  }

  /** Places on simulated Proxmox storage where a runner credential was seen (storage-watch.ts). */
  secretsOnStorage(): string[] {
    this.world.storageWatch.scanSnippets();
    return [...this.world.storageWatch.places];
  }

  leaks(): { vms: number[]; snippets: string[] } {
    const vms = [...this.world.cluster.vms.values()].filter((v) => v.kind === 'ours').map((v) => v.vmid).sort((a, b) => a - b);
    return { vms, snippets: this.world.snippets.leftovers() };
  }
}
