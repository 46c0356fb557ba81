/**
 * A restart in the middle of clones, with a token that cannot see them: qemu-server adds a clone to
 * its resource pool only when the task ends, so until then the new daemon sees only that nextid
 * calls the VMIDs taken. With the clone tasks listed (GET /nodes/{node}/tasks?source=active), a pool
 * counts as many of them as its template has running clone tasks of our token that this process is
 * not awaiting; a hidden VMID no such task accounts for is someone else's at once. When the tasks
 * cannot be listed, each counts for the clone timeout, then is someone else's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PoolConfig } from '../src/config/types.js';
import { CloneTasks } from '../src/daemon/clone-tasks.js';
import { Executor } from '../src/daemon/execute.js';
import { HiddenVmids } from '../src/daemon/hidden-vmids.js';
import { Observer } from '../src/daemon/observe.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { memoryLogger } from '../src/log.js';
import { plan } from '../src/planner/plan.js';
import { formatVmDescription } from '../src/proxmox/vm-meta.js';
import { FakeClock, FakeGithub, FakeProxmox, FakeSnippets, type Call } from './helpers/fakes.js';
import { ROOT } from './helpers/e2e.js';
import { GiB, MIN, ULABELS, job, pool } from './helpers/planner-fixtures.js';

const userData = { path: 'cloud-init/ubuntu-2404.yaml', text: readFileSync(join(ROOT, 'cloud-init', 'ubuntu-2404.yaml'), 'utf8') };
const ubuntu: PoolConfig = { ...pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 209 }, maxRunners: 4, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } }), userData };
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu] };
const SCOPE = 'repo:acme/app';
const CLONES = [200, 201, 202, 203];

/** `tasks`: the observer lists clone tasks (as wired in the daemon); without, the window rule alone. */
function world(o: { tasks?: boolean; clones?: readonly number[]; foreign?: readonly number[] } = {}) {
  const clones = o.clones ?? CLONES;
  const calls: Call[] = [];
  const clock = new FakeClock();
  const proxmox = new FakeProxmox(calls);
  proxmox.nodes.push({ node: 'pve1', online: true, maxmem: 256 * GiB, mem: 0 });
  proxmox.vms.set(9000, { kind: 'qemu', vmid: 9000, node: 'pve1', name: 'ubuntu-template', status: 'stopped', template: true, tags: [], maxmem: 2 * GiB, uptime: 0 });
  // the killed daemon's clones, still running: not in the pool yet, so not listed
  for (const vmid of clones) proxmox.hidden.set(vmid, { kind: 'qemu', vmid, node: 'pve1', name: `VM ${vmid}`, status: 'stopped', template: false, tags: [], lock: 'clone', maxmem: 4 * GiB, uptime: 0 });
  // their qmclone tasks (id: the template) run under our token until they end
  for (const _ of clones) proxmox.otherTasks.push(proxmox.taskId('pve1', 'qmclone', 9000));
  // VMs of someone else's the token cannot see either
  for (const vmid of o.foreign ?? []) proxmox.hidden.set(vmid, { kind: 'qemu', vmid, node: 'pve1', name: `theirs-${vmid}`, status: 'running', template: false, tags: [], maxmem: 4 * GiB, uptime: 60 });
  const cloneEnds = () => {
    proxmox.otherTasks.splice(0);
    for (const vmid of clones) {
      const name = `ubuntu-${vmid}-kill`;
      proxmox.hidden.delete(vmid);
      // listed with the stale name pvestatd last saw; the config is complete
      proxmox.vms.set(vmid, { kind: 'qemu', vmid, node: 'pve1', name: `VM ${vmid}`, status: 'stopped', template: false, tags: [], maxmem: 4 * GiB, uptime: 0 });
      proxmox.configs.set(vmid, { name, description: formatVmDescription({ pool: 'ubuntu', scope: SCOPE, runner: name, createdAt: clock.now() - MIN }) });
    }
  };
  const { log, lines } = memoryLogger({ format: 'json' });
  const github = new FakeGithub(calls);
  const snippets = new FakeSnippets(calls);
  const timings = defaultTimings(15_000);
  const hidden = new HiddenVmids({ proxmox, pools: config.pools, log, windowMs: timings.cloneTimeoutMs, staleProbeMs: timings.hiddenReprobeMs });
  let n = 0;
  // asked only while observing, once the executor below exists
  const cloneTasks = o.tasks ? new CloneTasks({ proxmox, pools: config.pools, log, tokenId: proxmox.tokenId, known: () => ex.cloneTasks() }) : undefined;
  const observer = new Observer({ config, github, proxmox, snippets, log, hidden, cloneTasks });
  const ex = new Executor({ config, github, githubApiUrl: 'https://api.github.com', proxmox, snippets, clock, log, timings, suffix: () => (n++).toString(36).padStart(4, '0'), hidden });
  const planConfig = { pools: config.pools, maxTotalRunners: 8, disableCleanup: false, pauseOnStopped: false, vmidCooldownMs: timings.vmidCooldownMs, hiddenVmidWindowMs: timings.cloneTimeoutMs };
  const queued = Array.from({ length: 10 }, () => job(ULABELS));
  const foreign = new Set(o.foreign ?? []);
  const count = () => [...proxmox.vms.values(), ...proxmox.hidden.values()].filter((v) => !v.template && !foreign.has(v.vmid) && v.vmid >= 200 && v.vmid <= 209).length;
  const notes = new Set<string>();
  const tick = async () => {
    const p = plan(planConfig, { ...(await observer.observe(clock.now(), ex.inFlight())), jobs: queued });
    for (const x of p.notes) notes.add(x);
    ex.submit(p.actions);
    await ex.drain();
    clock.t += 15_000;
    return p;
  };
  return { calls, proxmox, tick, count, cloneEnds, notes, lines };
}

describe('a restart mid-clone, with a token that cannot see the clones', () => {
  it('with the clone tasks listed: counts the invisible clones of ours until they show up; never more VMs than max_runners', async () => {
    const w = world({ tasks: true, foreign: [205] });
    let peak = 0;
    const first = await w.tick();
    // 4 running clone tasks of ours account for 4 of the 5 hidden VMIDs: nothing created yet
    expect(first.actions.filter((a) => a.kind === 'create')).toEqual([]);
    for (let i = 1; i < 8; i++) {
      if (i === 4) w.cloneEnds();
      await w.tick();
      peak = Math.max(peak, w.count());
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(w.calls.filter((c) => /^pve config 20[0-3] tags$/.test(c)).length).toBe(4); // adopted
    expect(w.calls.some((c) => /^pve clone \d+->205/.test(c))).toBe(false);
    // one task list per node per tick, while a VMID is hidden (205 stays so)
    expect(w.calls.filter((c) => c === 'pve tasks pve1 qmclone')).toHaveLength(8);
  });

  it('clones that end while a tick observes (after its VM listing, before its task list) are counted all the same', async () => {
    // The first tick of a new daemon probes every unlisted VMID of the ranges, so a clone of the
    // killed one can end in between: not listed, its VMID taken, and its task no longer running.
    const w = world({ tasks: true });
    const list = w.proxmox.listVms.bind(w.proxmox);
    let ended = false;
    w.proxmox.listVms = async () => {
      const vms = await list();
      if (!ended) w.cloneEnds();
      ended = true;
      return vms;
    };
    const first = await w.tick();
    expect(first.actions.filter((a) => a.kind === 'create')).toEqual([]);
    let peak = w.count();
    for (let i = 0; i < 4; i++) {
      await w.tick();
      peak = Math.max(peak, w.count());
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(w.calls.filter((c) => /^pve config 20[0-3] tags$/.test(c)).length).toBe(4); // adopted
  });

  it('a foreign VM it cannot see, and no clone task of ours: costs no slot, from the first tick', async () => {
    const w = world({ tasks: true, clones: [], foreign: [201] });
    const p = await w.tick();
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => a.vmid)).toEqual([200, 202, 203, 204]);
    expect(p.notes.filter((x) => x.startsWith('VMID 201 '))).toEqual([expect.stringMatching(/no clone of ours is unaccounted for: someone else's, VMID skipped, not counted/)]);
  });

  it('someone else\'s clone of our template, and our own clone of another template, explain nothing', async () => {
    const w = world({ tasks: true, clones: [], foreign: [201, 202] });
    w.proxmox.otherTasks.push(w.proxmox.taskId('pve1', 'qmclone', 9000, 'alice@pam'), w.proxmox.taskId('pve1', 'qmclone', 9100));
    const p = await w.tick();
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => a.vmid)).toEqual([200, 203, 204, 205]);
  });

  it('when the clone tasks cannot be listed: each hidden VMID counts for the clone timeout (said once)', async () => {
    const w = world({ tasks: true, clones: [], foreign: [201] });
    w.proxmox.failNext.set('tasks', [new Error('pve tasks: 596 Connection timed out')]);
    const p = await w.tick();
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => a.vmid)).toEqual([200, 202, 203]);
    expect(w.lines.filter((l) => l.includes('cannot list the clone tasks'))).toHaveLength(1);
    // listed again next tick: 201 is someone else's at once
    expect((await w.tick()).notes.some((x) => /VMID 201 .*no clone of ours is unaccounted for/.test(x))).toBe(true);
  });

  it('a cluster with nothing hidden pays no task request once its VMIDs are probed', async () => {
    const w = world({ tasks: true, clones: [] });
    const tasksPerTick: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = w.calls.length;
      await w.tick();
      tasksPerTick.push(w.calls.slice(before).filter((c) => c.startsWith('pve tasks')).length);
    }
    // the first tick probes every VMID, the second those whose creation ended (4 clones); then none
    expect(tasksPerTick).toEqual([1, 1, 0, 0]);
  });


  it('counts them until they show up, then adopts them; never more VMs than max_runners', async () => {
    const w = world();
    let peak = 0;
    for (let i = 0; i < 8; i++) {
      if (i === 4) w.cloneEnds();
      await w.tick();
      peak = Math.max(peak, w.count());
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(w.calls.filter((c) => /^pve config 20[0-3] tags$/.test(c)).length).toBe(4); // adopted
    expect(w.calls.some((c) => c.startsWith('pve clone'))).toBe(true); // and work went on once they were removed
    // the first sweep asked about each VMID once; later ticks only about the hidden ones
    const nextids = w.calls.filter((c) => c.startsWith('pve nextid'));
    expect(nextids.slice(0, 10).sort()).toEqual([200, 201, 202, 203, 204, 205, 206, 207, 208, 209].map((id) => `pve nextid ${id}`));
  });

  it('past the clone timeout a VMID still hidden is someone else\'s: no longer counted, never used, said once', async () => {
    const w = world();
    const ticks = defaultTimings(15_000).cloneTimeoutMs / 15_000;
    for (let i = 0; i < ticks; i++) expect((await w.tick()).actions.filter((a) => a.kind === 'create')).toEqual([]);
    const p = await w.tick();
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => a.vmid)).toEqual([204, 205, 206, 207]);
    expect([...w.notes].filter((x) => x.startsWith('VMID 200 '))).toHaveLength(2); // counted, then someone else's
    expect(w.calls.some((c) => /^pve (clone \d+->20[0-3]|config 20[0-3]|destroy 20[0-3])/.test(c))).toBe(false);
  });
});
