/**
 * Issue 10, the tick itself: the observer reads a VM's description once, a warm VM's too, and again
 * only when this process may have changed it (ConfigWrites, which the executor's API goes through);
 * a warm pool's template at most every templateRecheckMs. Through the observer and a fake Proxmox
 * that counts every request.
 */
import type { Config, PoolConfig } from '../src/config/types.js';
import { ConfigWrites } from '../src/daemon/config-writes.js';
import { Observer } from '../src/daemon/observe.js';
import { memoryLogger } from '../src/log.js';
import type { VmConfigValue } from '../src/proxmox/api.js';
import { formatVmDescription } from '../src/proxmox/vm-meta.js';
import { FakeClock, FakeGithub, FakeProxmox, FakeSnippets, type Call } from './helpers/fakes.js';
import { GiB, MIN, ULABELS, inFlight, pool } from './helpers/planner-fixtures.js';

const ubuntu: PoolConfig = pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 209 }, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 }, sizes: { hot: 0, warm: 2 } });
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu] };
const SCOPE = 'repo:acme/app';
const NAME = 'ubuntu-201-ab12';

/** A Proxmox whose config reads can be held open: a read that overlaps a write. */
class HeldProxmox extends FakeProxmox {
  hold: Promise<void> | undefined;
  entered: (() => void) | undefined;
  override async getConfig(node: string, vmid: number): Promise<Record<string, VmConfigValue>> {
    const cfg = await super.getConfig(node, vmid);
    if (this.hold && vmid === 201) {
      this.entered?.();
      await this.hold;
    }
    return cfg;
  }
}

function setup(o: { writes?: boolean; templateRecheckMs?: number } = {}) {
  const calls: Call[] = [];
  const clock = new FakeClock();
  const proxmox = new HeldProxmox(calls);
  proxmox.nodes.push({ node: 'pve1', online: true, maxmem: 64 * GiB, mem: 0 });
  proxmox.vms.set(9000, { kind: 'qemu', vmid: 9000, node: 'pve1', name: 'ubuntu-template', status: 'stopped', template: true, tags: [], maxmem: 2 * GiB, uptime: 0 });
  proxmox.configs.set(9000, { meta: 'creation-qemu=9.2.0,ctime=1700000000' });
  proxmox.vms.set(201, { kind: 'qemu', vmid: 201, node: 'pve1', name: NAME, status: 'stopped', template: false, tags: ['pve-runners', 'pvr-pool.ubuntu'], maxmem: 4 * GiB, uptime: 0 });
  proxmox.configs.set(201, { description: formatVmDescription({ pool: 'ubuntu', scope: SCOPE, runner: NAME, createdAt: clock.now() - MIN, warm: { template: 9000, stamp: '1700000000' } }) });
  const { log } = memoryLogger({ format: 'json' });
  const writes = o.writes === false ? undefined : new ConfigWrites();
  const observer = new Observer({ config, github: new FakeGithub(calls), proxmox, snippets: new FakeSnippets(calls), log, writes, templateRecheckMs: o.templateRecheckMs });
  // what the executor uses: the same Proxmox, seen by the tracker
  const executorApi = writes ? writes.watch(proxmox) : proxmox;
  const observe = async () => (await observer.observe(clock.now(), inFlight())).vms;
  const vm201 = async () => (await observe()).find((v) => v.vmid === 201)!;
  const reads = (vmid: number) => calls.filter((c) => c === `pve getConfig ${vmid}`).length;
  // the executor starting the warm VM: its description now names it a runner of its scope
  const startedDescription = formatVmDescription({ pool: 'ubuntu', scope: SCOPE, runner: NAME, createdAt: clock.now() });
  return { clock, proxmox, observe, vm201, reads, executorApi, startedDescription };
}

describe('observer: VM descriptions read on change, not at every tick', () => {
  it("reads a warm VM's description once while nothing of ours touches the VM", async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) {
      expect((await s.vm201()).meta?.warm).toEqual({ template: 9000, stamp: '1700000000' });
      s.clock.t += 15_000;
    }
    expect(s.reads(201)).toBe(1);
  });

  it("reads it again once the executor rewrote it, and sees it started", async () => {
    const s = setup();
    expect((await s.vm201()).meta?.warm).toBeDefined();
    await s.executorApi.updateConfig('pve1', 201, { description: s.startedDescription });
    const after = await s.vm201();
    expect(after.meta?.warm).toBeUndefined();
    expect(after.meta?.runner).toBe(NAME);
    expect(s.reads(201)).toBe(2);
  });

  it('does not trust a read that overlapped a write of the executor: the next tick reads again', async () => {
    const s = setup();
    let release!: () => void;
    s.proxmox.hold = new Promise<void>((r) => (release = r));
    const entered = new Promise<void>((r) => (s.proxmox.entered = r));
    const first = s.vm201();
    await entered; // the observer's read has the old description in hand
    await s.executorApi.updateConfig('pve1', 201, { description: s.startedDescription });
    release();
    s.proxmox.hold = undefined;
    expect((await first).meta?.warm).toBeDefined();
    expect((await s.vm201()).meta?.warm).toBeUndefined();
  });

  it('a fresh read by the executor (before a change of its own) makes the next tick read too: how an edit by a person is seen', async () => {
    const s = setup();
    await s.vm201();
    s.proxmox.configs.set(201, { description: 'mine now' });
    await s.executorApi.getConfig('pve1', 201);
    expect((await s.vm201()).meta).toBeUndefined();
  });

  it('without the tracker, a warm VM is read at every tick (nothing would say it was started)', async () => {
    const s = setup({ writes: false });
    for (let i = 0; i < 3; i++) await s.vm201();
    expect(s.reads(201)).toBe(3);
  });

  it("reads a warm pool's template at most every templateRecheckMs, and sees it rebuilt after", async () => {
    const s = setup({ templateRecheckMs: 60_000 });
    const stamp = async () => (await s.observe()).find((v) => v.vmid === 9000)!.stamp;
    expect(await stamp()).toBe('1700000000');
    s.proxmox.configs.set(9000, { meta: 'creation-qemu=9.2.0,ctime=1800000000' });
    s.clock.t += 30_000;
    expect(await stamp()).toBe('1700000000');
    expect(s.reads(9000)).toBe(1);
    s.clock.t += 30_000;
    expect(await stamp()).toBe('1800000000');
    expect(s.reads(9000)).toBe(2);
  });
});
