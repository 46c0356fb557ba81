/**
 * VMIDs the token cannot see: the executor asks Proxmox (nextid) before each clone, takes every
 * "already exists" / "File exists" from any node for a collision, and remembers what it found so
 * that no plan picks it again; the observer learns such VMIDs cheaply.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PoolConfig } from '../src/config/types.js';
import { Executor } from '../src/daemon/execute.js';
import { HiddenVmids } from '../src/daemon/hidden-vmids.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { memoryLogger } from '../src/log.js';
import type { CreateAction } from '../src/planner/actions.js';
import type { PveVm } from '../src/proxmox/api.js';
import { FakeClock, FakeGithub, FakeProxmox, FakeSnippets, pveError, type Call } from './helpers/fakes.js';
import { ROOT } from './helpers/e2e.js';
import { MIN, pool } from './helpers/planner-fixtures.js';

const userData = { path: 'cloud-init/ubuntu-2404.yaml', text: readFileSync(join(ROOT, 'cloud-init', 'ubuntu-2404.yaml'), 'utf8') };
const ubuntu: PoolConfig = { ...pool({ name: 'ubuntu', vmidRange: { lo: 200, hi: 203 } }), userData };
const gpu: PoolConfig = pool({ name: 'gpu', vmidRange: { lo: 300, hi: 301 } });
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu, gpu] };
const foreign = (vmid: number, node: string): PveVm => ({ kind: 'qemu', vmid, node, name: `someone-${vmid}`, status: 'running', template: false, tags: [], maxmem: 0, uptime: 60 });

function setup() {
  const calls: Call[] = [];
  const clock = new FakeClock();
  const proxmox = new FakeProxmox(calls);
  const { log, lines } = memoryLogger({ format: 'json' });
  const hidden = new HiddenVmids({ proxmox, pools: config.pools, log, windowMs: 15 * MIN, staleProbeMs: 5 * MIN });
  const ex = new Executor({ config, github: new FakeGithub(calls), githubApiUrl: 'https://api.github.com', proxmox, snippets: new FakeSnippets(calls), clock, log, timings: defaultTimings(15_000), suffix: () => 'ab12', hidden });
  const create = async (over: Partial<CreateAction> = {}) => {
    ex.submit([{ kind: 'create', purpose: 'job', pool: 'ubuntu', scope: 'repo:acme/app', vmid: 200, node: 'pve1', templateVmid: 9000, memoryBytes: 4 << 30, forJob: 77, reason: 'job 77 waits', ...over }]);
    await ex.drain();
    return ex.drainOutcomes()[0]!;
  };
  const pve = () => calls.filter((c) => c.startsWith('pve ') && !c.startsWith('pve getConfig'));
  return { calls, clock, proxmox, hidden, ex, create, pve, lines };
}

describe('executor: VMIDs taken by VMs the token cannot see', () => {
  it('asks nextid before cloning; a taken, unlisted VMID is skipped and remembered, never cloned into', async () => {
    const { proxmox, hidden, create, pve } = setup();
    proxmox.hidden.set(200, foreign(200, 'pve2'));
    expect(await create()).toMatchObject({ ok: true });
    expect(pve().slice(0, 4)).toEqual(['pve nextid 200', 'pve listVms', 'pve nextid 201', 'pve clone 9000->201 name=ubuntu-201-ab12']);
    expect(pve()).toContain('pve start 201');
    expect(hidden.has(200)).toBe(true);
    // the next creation planned for 200 (by a plan that has not seen the snapshot yet) skips it without a clone
    expect(await create({ vmid: 202 })).toMatchObject({ ok: true });
    expect(pve().filter((c) => c.startsWith('pve clone'))).toEqual(['pve clone 9000->201 name=ubuntu-201-ab12', 'pve clone 9000->202 name=ubuntu-202-ab12']);
  });

  it("takes another node's \"File exists\" from the clone task for a collision (nextid unanswered)", async () => {
    const { proxmox, hidden, create, pve } = setup();
    proxmox.hidden.set(200, foreign(200, 'pve2'));
    proxmox.failNext.set('nextid', [pveError(596, 'Connection timed out')]);
    expect(await create()).toMatchObject({ ok: true });
    expect(pve().filter((c) => c.startsWith('pve clone'))).toEqual(['pve clone 9000->200 name=ubuntu-200-ab12', 'pve clone 9000->201 name=ubuntu-201-ab12']);
    expect(hidden.has(200)).toBe(true);
  });

  it('takes the same node\'s "config file already exists" for a collision, and does not call a listed VM hidden', async () => {
    const { proxmox, hidden, create, pve } = setup();
    proxmox.failNext.set('nextid', [pveError(596, 'Connection timed out')]);
    proxmox.failNext.set('clone', [pveError(500, 'unable to create VM 200: config file already exists')]);
    proxmox.vms.set(200, foreign(200, 'pve1'));
    expect(await create()).toMatchObject({ ok: true });
    expect(pve().filter((c) => c.startsWith('pve clone'))).toEqual(['pve clone 9000->200 name=ubuntu-200-ab12', 'pve clone 9000->201 name=ubuntu-201-ab12']);
    expect(hidden.has(200)).toBe(false);
  });

  it('gives up after a few taken VMIDs with a clear reason, leaving the rest to the next tick', async () => {
    const { proxmox, hidden, create, pve } = setup();
    for (const id of [200, 201, 202, 203]) proxmox.hidden.set(id, foreign(id, 'pve2'));
    expect(await create()).toMatchObject({ ok: false, detail: 'clone into VMID 203: taken, as were the 3 VMIDs tried before it; the next tick tries again' });
    expect(pve().filter((c) => c.startsWith('pve clone'))).toEqual([]);
    // each is remembered: no plan picks them again
    expect([...hidden.snapshot().keys()].sort()).toEqual([200, 201, 202, 203]);
  });
});

describe('executor: the clone tasks it accounts for', () => {
  it('knows a clone\'s UPID while it awaits the task, and forgets it when the creation ends', async () => {
    const { proxmox, ex, create } = setup();
    const seen: string[][] = [];
    const status = proxmox.taskStatus.bind(proxmox);
    proxmox.taskStatus = async (node, upid) => {
      if (upid.includes(':qmclone:')) seen.push([upid, ...ex.cloneTasks()]);
      return status(node, upid);
    };
    expect(await create()).toMatchObject({ ok: true });
    expect(seen).toHaveLength(1);
    // the UPID polled is the one it knows; a qmclone task's id is the template
    expect(seen[0]![1]).toBe(seen[0]![0]);
    expect(seen[0]![0]).toMatch(/:qmclone:9000:/);
    expect([...ex.cloneTasks()]).toEqual([]);
  });
});

describe('HiddenVmids: what the observer learns, and what it costs', () => {
  const probes = (calls: Call[]) => calls.filter((c) => c.startsWith('pve nextid')).map((c) => Number(c.split(' ')[2]));

  it('probes every unlisted VMID of every range once, then only the hidden ones', async () => {
    const { calls, proxmox, hidden, clock } = setup();
    proxmox.hidden.set(202, foreign(202, 'pve2'));
    proxmox.hidden.set(301, foreign(301, 'pve1'));
    const listed = new Set([200, 9000]);
    await hidden.refresh(listed, new Set([203]), clock.now());
    // 200 is listed, 203 is being created by this process: neither costs a request
    expect(probes(calls).sort()).toEqual([201, 202, 300, 301]);
    expect([...hidden.snapshot().keys()].sort()).toEqual([202, 301]);
    calls.length = 0;
    clock.t += 15_000;
    await hidden.refresh(listed, new Set(), clock.now());
    // 203's creation has ended: it is asked about once (free: its VM is gone), as are the hidden ones
    expect(probes(calls).sort()).toEqual([202, 203, 301]);
    calls.length = 0;
    await hidden.refresh(listed, new Set(), clock.now());
    expect(probes(calls).sort()).toEqual([202, 301]);
    // a hidden VMID that shows up in the listing (our clone ended and joined the pool) is dropped for free
    calls.length = 0;
    await hidden.refresh(new Set([...listed, 202]), new Set(), clock.now());
    expect(probes(calls)).toEqual([301]);
    expect([...hidden.snapshot().keys()]).toEqual([301]);
  });

  it('keeps the time it first found each, re-probes stale ones rarely, and forgets those that became free', async () => {
    const { calls, proxmox, hidden, clock } = setup();
    proxmox.hidden.set(201, foreign(201, 'pve2'));
    const t0 = clock.now();
    await hidden.refresh(new Set(), new Set(), t0);
    clock.t += 16 * MIN;
    calls.length = 0;
    await hidden.refresh(new Set(), new Set(), clock.now());
    expect(probes(calls)).toEqual([201]);
    expect(hidden.snapshot().get(201)).toBe(t0);
    calls.length = 0;
    clock.t += MIN;
    await hidden.refresh(new Set(), new Set(), clock.now());
    expect(probes(calls)).toEqual([]);
    clock.t += 5 * MIN;
    proxmox.hidden.delete(201);
    await hidden.refresh(new Set(), new Set(), clock.now());
    expect(probes(calls)).toEqual([201]);
    expect(hidden.snapshot().size).toBe(0);
  });

  it('a probe that fails keeps what was known; a creation that ended is checked once it no longer counts as in flight', async () => {
    const { calls, proxmox, hidden, clock } = setup();
    proxmox.hidden.set(201, foreign(201, 'pve2'));
    await hidden.refresh(new Set(), new Set(), clock.now());
    proxmox.failNext.set('nextid', [pveError(596, 'Connection timed out')]);
    await hidden.refresh(new Set(), new Set(), clock.now());
    expect(hidden.has(201)).toBe(true);
    calls.length = 0;
    hidden.suspect(203);
    proxmox.hidden.set(203, foreign(203, 'pve1'));
    // while it still counts as this process's creation (the status lag) it is not asked about, nor forgotten
    await hidden.refresh(new Set(), new Set([203]), clock.now());
    expect(probes(calls)).toEqual([201]);
    calls.length = 0;
    await hidden.refresh(new Set(), new Set(), clock.now());
    expect(probes(calls).sort()).toEqual([201, 203]);
    expect(hidden.has(203)).toBe(true);
  });
});
