/**
 * Ownership is decided on the VM's current config: the executor reads it again right before any
 * change, and a VM whose marks a person removed is left alone from then on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PoolConfig } from '../src/config/types.js';
import { Daemon } from '../src/daemon/daemon.js';
import { Executor } from '../src/daemon/execute.js';
import { Observer } from '../src/daemon/observe.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { memoryLogger } from '../src/log.js';
import type { Action } from '../src/planner/actions.js';
import { formatVmDescription } from '../src/proxmox/vm-meta.js';
import { FakeClock, FakeGithub, FakeProxmox, FakeSnippets, type Call } from './helpers/fakes.js';
import { ROOT } from './helpers/e2e.js';
import { GiB, MIN, ULABELS, pool } from './helpers/planner-fixtures.js';

const userData = { path: 'cloud-init/ubuntu-2404.yaml', text: readFileSync(join(ROOT, 'cloud-init', 'ubuntu-2404.yaml'), 'utf8') };
const ubuntu: PoolConfig = { ...pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 209 }, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } }), userData };
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu] };
const SCOPE = 'repo:acme/app';
const NAME = 'ubuntu-201-ab12';

function setup() {
  const calls: Call[] = [];
  const clock = new FakeClock();
  const proxmox = new FakeProxmox(calls);
  proxmox.nodes.push({ node: 'pve1', online: true, maxmem: 64 * GiB, mem: 0 });
  proxmox.vms.set(201, { kind: 'qemu', vmid: 201, node: 'pve1', name: NAME, status: 'running', template: false, tags: ['pve-runners', 'pvr-pool.ubuntu'], maxmem: 4 * GiB, uptime: 60 });
  proxmox.configs.set(201, { name: NAME, description: formatVmDescription({ pool: 'ubuntu', scope: SCOPE, runner: NAME, createdAt: clock.now() - 2 * MIN }) });
  const { log, lines } = memoryLogger({ format: 'json' });
  const github = new FakeGithub(calls);
  const snippets = new FakeSnippets(calls);
  const timings = defaultTimings(15_000);
  const ex = new Executor({ config, github, githubApiUrl: 'https://api.github.com', proxmox, snippets, clock, log, timings, suffix: () => 'zz99' });
  const observer = new Observer({ config, github, proxmox, snippets, log });
  const planConfig = { pools: config.pools, maxTotalRunners: 8, disableCleanup: false, pauseOnStopped: false, vmidCooldownMs: timings.vmidCooldownMs, hiddenVmidWindowMs: timings.cloneTimeoutMs };
  const daemon = new Daemon({ planConfig, observer, executor: ex, github, proxmox, clock, log, timings, random: () => 0 });
  /** a person removes our tags and description */
  const takeOver = () => {
    proxmox.vms.get(201)!.tags = ['keep'];
    proxmox.configs.set(201, { name: NAME, description: 'mine now' });
  };
  const run = async (...actions: Action[]) => {
    ex.submit(actions);
    await ex.drain();
  };
  const changes = () => calls.filter((c) => /^(pve (config|stop|destroy|start) 201|gh delete)/.test(c));
  const disownLines = () => lines.filter((l) => l.includes('no longer carries'));
  return { calls, clock, proxmox, ex, daemon, takeOver, run, changes, disownLines };
}

describe("executor: a VM whose marks were removed between observe and act", () => {
  const removal = { kind: 'remove-vm', pool: 'ubuntu', vmid: 201, node: 'pve1', name: NAME, running: true, runner: { id: 9, scope: SCOPE }, reason: 'idle' } as const;

  it.each([
    ['remove-vm', removal],
    ['stop-vm', { kind: 'stop-vm', pool: 'ubuntu', vmid: 201, node: 'pve1', name: NAME, reason: 'too long' } as const],
    ['adopt-vm', { kind: 'adopt-vm', pool: 'ubuntu', vmid: 201, node: 'pve1', name: NAME, reason: 'half-made' } as const],
  ])('%s: is not changed, and is left alone from then on', async (_kind, action) => {
    const s = setup();
    if (action.kind === 'adopt-vm') s.proxmox.vms.get(201)!.tags = [];
    s.takeOver();
    await s.run(action);
    expect(s.changes()).toEqual([]);
    expect(s.calls).toContain('pve getConfig 201');
    expect(s.ex.inFlight().disowned).toEqual(new Set([201]));
    expect(s.disownLines()).toHaveLength(1);
  });

  it('a VM still carrying our marks is changed as planned', async () => {
    const s = setup();
    await s.run(removal);
    expect(s.changes()).toEqual(['gh delete 9 → deleted', 'pve stop 201', 'pve destroy 201']);
    expect(s.ex.inFlight().disowned.size).toBe(0);
  });
});

describe('daemon: a person takes a running runner VM over while the daemon runs', () => {
  it('that VM is never changed or destroyed afterwards, whatever it does, and this is said once', async () => {
    const s = setup();
    // the daemon has seen (and cached) the VM as ours
    await s.daemon.tick();
    s.takeOver();
    // it powers off, boots again, sits there: each would be a reason to act on a VM of ours
    for (let i = 0; i < 12; i++) {
      if (i === 3) s.proxmox.vms.get(201)!.status = 'stopped';
      if (i === 7) s.proxmox.vms.get(201)!.status = 'running';
      await s.daemon.tick();
      await s.ex.drain();
      s.clock.t += 15 * MIN;
    }
    expect(s.changes()).toEqual([]);
    expect(s.proxmox.vms.get(201)!.tags).toEqual(['keep']);
    expect(s.disownLines()).toHaveLength(1);
  });
});
