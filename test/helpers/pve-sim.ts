/**
 * Builds a PveSim from a small inline scenario, with a fake GuestHooks that records its calls,
 * a real proxmox-api client, and a raw fetch for checking PVE's exact HTTP shapes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import proxmoxApi, { type Proxmox } from 'proxmox-api';
import { RealTimeClock, type SimClock } from '../../src/sim/clock.js';
import { type BootedVm, type GuestExecStatus, type GuestHooks, QgaError, type SimContext } from '../../src/sim/contracts.js';
import { Recorder } from '../../src/sim/recorder.js';
import { Rng } from '../../src/sim/rng.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { PveSim, type PveEndpointInfo } from '../../src/sim/pve/index.js';

export class FakeGuests implements GuestHooks {
  readonly booted: BootedVm[] = [];
  readonly stoppedIds: number[] = [];
  started(vm: BootedVm): void {
    this.booted.push(vm);
  }
  stopped(vmid: number): void {
    this.stoppedIds.push(vmid);
  }
  /** a qemu-ga that is up in every running VM and keeps what is written */
  readonly written: Array<{ vmid: number; path: string; content: string }> = [];
  readonly agent = {
    running: () => true,
    osInfo: () => ({ id: 'ubuntu', name: 'Ubuntu' }),
    fileWrite: (vmid: number, path: string, content: Buffer) => void this.written.push({ vmid, path, content: content.toString('utf8') }),
    // every program exits 0 printing its argv at the first status query (the whole Simulator's guests
    // run real ones: test/sim-pve-agent.test.ts); then the pid is forgotten, as qemu-ga does
    exec: (_vmid: number, argv: string[]): number => {
      this.execs.set(++this.lastPid, argv);
      return this.lastPid;
    },
    execStatus: (_vmid: number, pid: number): GuestExecStatus => {
      const argv = this.execs.get(pid);
      if (!argv) throw new QgaError("Invalid parameter 'pid'");
      this.execs.delete(pid);
      return { exited: true, exitcode: 0, out: Buffer.from(`${argv.join(' ')}\n`) };
    },
  };
  private readonly execs = new Map<number, string[]>();
  private lastPid = 999;
}

/** Everything after `proxmox:` is the caller's; the rest is a minimal valid scenario. */
export function pveScenario(proxmoxYaml: string, seed = 7): string {
  return `seed: ${seed}
proxmox:
${proxmoxYaml.replace(/^/gm, '  ')}
github:
  repos: [acme/app]
workload: []
`;
}

/** A small cluster, with the default grants (those of scripts/create-proxmox-token.sh). */
export const BASIC_CLUSTER = `nodes: [{name: pve1, memory_mb: 8192}, {name: pve2, memory_mb: 4096}]
templates:
  - {name: ubuntu-tpl, vmid: 9000, node: pve1, memory: 2048}
  - {name: shared-tpl, vmid: 9001, node: pve1, memory: 1024, storage: ceph, shared_storage: true}
foreign_vms: [{vmid: 205, node: pve1, name: keep-me, status: stopped}]
timings: {clone: 1s, config: 200ms, start: 500ms, stop: 500ms, shutdown: 1s, destroy: 500ms, full_clone: 2s}`;

/**
 * For tests of VM behaviour rather than access control: the token and its user hold VM, datastore,
 * SDN and audit roles on `/`, so every VM (foreign ones too) can be cloned, changed and destroyed,
 * and every volume listed.
 */
export const WIDE_ACCESS = `access:
  defaults: false
  users: [{id: pve-runners@pve}]
  tokens: [{id: pve-runners@pve!daemon}]
  pools: [{name: pve-runners}]
  acls: [{path: /, roles: [PVEVMAdmin, PVEDatastoreAdmin, PVESDNUser, PVEAuditor], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]`;

export const BASIC = `${BASIC_CLUSTER}\n${WIDE_ACCESS}`;

export interface PveHarness {
  sim: PveSim;
  info: PveEndpointInfo;
  ctx: SimContext;
  guests: FakeGuests;
  recorder: Recorder;
  px: Proxmox.Api;
  /** Raw request below /api2/json with the token (unless `auth` overrides it). */
  raw(method: string, path: string, opts?: { body?: string; auth?: string | null }): Promise<{ status: number; reason: string; contentType: string | null; text: string; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Polls a task until it has stopped; returns its exitstatus. */
  waitTask(node: string, upid: string): Promise<string>;
  root: string;
  close(): Promise<void>;
}

export async function startPve(proxmoxYaml = BASIC, opts: { speed?: number; seed?: number; fetch?: typeof fetch; clock?: SimClock } = {}): Promise<PveHarness> {
  const scenario = parseScenario(pveScenario(proxmoxYaml, opts.seed ?? 7));
  const clock = opts.clock ?? new RealTimeClock(opts.speed ?? 50);
  const recorder = new Recorder(() => clock.nowMs(), undefined, true);
  const ctx: SimContext = { scenario, clock, rng: new Rng(scenario.seed), recorder };
  const guests = new FakeGuests();
  const root = mkdtempSync(join(tmpdir(), 'pve-sim-'));
  const sim = new PveSim(ctx, guests, root);
  const info = await sim.start();
  const url = new URL(info.url);
  const px = proxmoxApi({
    host: url.hostname, port: Number(url.port), schema: 'http', tokenID: info.tokenId, tokenSecret: info.tokenSecret,
    ...(opts.fetch ? { fetch: opts.fetch as never } : {}),
  });
  const harness: PveHarness = {
    sim, info, ctx, guests, recorder, px, root,
    async raw(method, path, o = {}) {
      const headers: Record<string, string> = {};
      const auth = o.auth === undefined ? `PVEAPIToken=${info.tokenId}=${info.tokenSecret}` : o.auth;
      if (auth !== null) headers.Authorization = auth;
      if (o.body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(`${info.url}${path}`, { method, headers, body: o.body });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, reason: res.statusText, contentType: res.headers.get('content-type'), text, json };
    },
    async waitTask(node, upid) {
      for (;;) {
        const st = await px.nodes.$(node).tasks.$(upid).status.$get();
        if (st.status === 'stopped') return st.exitstatus ?? '';
        await clock.sleep(100);
      }
    },
    async close() {
      await sim.stop();
      clock.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return harness;
}
