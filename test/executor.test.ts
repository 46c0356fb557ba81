import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PoolConfig } from '../src/config/types.js';
import { Executor } from '../src/daemon/execute.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { memoryLogger } from '../src/log.js';
import type { Action, CreateAction, StartWarmAction } from '../src/planner/actions.js';
import { formatVmDescription, parseVmDescription } from '../src/proxmox/vm-meta.js';
import { FakeClock, FakeGithub, FakeProxmox, FakeSnippets, pveError, type Call } from './helpers/fakes.js';
import { pool } from './helpers/planner-fixtures.js';
import { ROOT } from './helpers/e2e.js';

const template = readFileSync(join(ROOT, 'cloud-init', 'ubuntu-2404.yaml'), 'utf8');
const ubuntu: PoolConfig = { ...pool({ name: 'ubuntu', vmidRange: { lo: 200, hi: 203 } }), userData: { path: 'cloud-init/ubuntu-2404.yaml', text: template } };
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [{ name: 'acme', runnerGroup: 'ci' }] }, maxTotalRunners: 8, pools: [ubuntu] };

function setup(over: { pool?: Partial<PoolConfig>; proxmoxPool?: string } = {}) {
  const calls: Call[] = [];
  const clock = new FakeClock();
  const proxmox = new FakeProxmox(calls);
  const github = new FakeGithub(calls);
  const snippets = new FakeSnippets(calls);
  const { log, lines } = memoryLogger({ format: 'json' });
  const cfg = over.pool ? { ...config, pools: [{ ...ubuntu, ...over.pool }] } : config;
  const ex = new Executor({ config: cfg, github, githubApiUrl: 'https://api.github.com', proxmox, proxmoxPool: over.proxmoxPool, snippets, clock, log, timings: defaultTimings(15_000), suffix: () => 'ab12' });
  const run = async (...actions: Action[]) => {
    ex.submit(actions);
    await ex.drain();
    return ex.drainOutcomes();
  };
  return { calls, clock, proxmox, github, snippets, ex, run, lines };
}

const create = (over: Partial<CreateAction> = {}): CreateAction => ({
  kind: 'create', purpose: 'job', pool: 'ubuntu', scope: 'repo:acme/app', vmid: 200, node: 'pve1', templateVmid: 9000, memoryBytes: 4 << 30, forJob: 77, reason: 'job 77 waits', ...over,
});

describe('executor: create with delivery: guest-agent', () => {
  const agentPool = { delivery: 'guest-agent' as const, userData: undefined };
  const notUp = () => pveError(500, 'QEMU guest agent is not running');

  it('no snippet, no cicustom: starts, pings until the agent answers, then one file-write of runner.env', async () => {
    const { calls, run, proxmox, snippets, clock, lines } = setup({ pool: agentPool });
    proxmox.failNext.set('agentPing', [notUp(), notUp()]);
    const t0 = clock.now();
    expect((await run(create()))[0]).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('pve config') || c.startsWith('pve start') || c.startsWith('pve agent') || c.startsWith('snippet'))).toEqual([
      'pve config 200 cores,memory,tags',
      'pve start 200',
      'pve agentPing 200',
      'pve agentPing 200',
      'pve agentPing 200',
      'pve agentOsId 200',
      'pve agentFileWrite 200 /etc/pve-runners/runner.env',
    ]);
    expect(snippets.files.size).toBe(0);
    // two polls waited (defaultTimings' agentPollMs), plus the task polls of clone and start
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2 * defaultTimings(15_000).agentPollMs);
    expect(lines.join('\n')).not.toContain('SECRET-JIT');
  });

  it('an agent that never answers within boot_timeout: the VM is stopped and its registration deleted', async () => {
    const { calls, run, proxmox, lines } = setup({ pool: { ...agentPool, bootTimeoutMs: 60_000 } });
    proxmox.failNext.set('agentPing', Array.from({ length: 100 }, notUp));
    const [outcome] = await run(create());
    expect(outcome).toMatchObject({ ok: false });
    // one at the start, then one per agentPollMs up to the deadline
    expect(calls.filter((c) => c === 'pve agentPing 200').length).toBe(60_000 / defaultTimings(15_000).agentPollMs + 1);
    expect(calls).not.toContain('pve agentFileWrite 200 /etc/pve-runners/runner.env');
    expect(calls).toContain('pve stop 200');
    expect(calls.some((c) => c.startsWith('gh delete'))).toBe(true);
    expect(lines.some((l) => l.includes('did not answer within boot_timeout'))).toBe(true);
  });

  it('a template without the agent, or a failed write: stopped at once, registration deleted', async () => {
    for (const [op, err] of [['agentPing', pveError(500, 'No QEMU guest agent configured')], ['agentFileWrite', pveError(500, "VM 200 qmp command 'guest-file-write' failed - got timeout")]] as const) {
      const { calls, run, proxmox, lines } = setup({ pool: agentPool });
      proxmox.failNext.set(op, [err]);
      expect((await run(create()))[0]).toMatchObject({ ok: false });
      expect(calls.filter((c) => c === 'pve agentPing 200')).toHaveLength(1);
      expect(calls).toContain('pve stop 200');
      expect(calls.some((c) => c.startsWith('gh delete'))).toBe(true);
      if (op === 'agentPing') expect(lines.some((l) => l.includes('set agent: 1'))).toBe(true);
    }
  });
});

describe('executor: create', () => {
  it('mints the JIT config while it clones, tags, writes the snippet, starts, then deletes the snippet', async () => {
    const { calls, run, snippets, lines } = setup({ proxmoxPool: 'pve-runners' });
    const [outcome] = await run(create());
    expect(outcome).toMatchObject({ ok: true });
    expect(calls).toEqual([
      'pve nextid 200',
      'pve getConfig 9000', // once per template: the storage whose lock its clones take (clone-slots.ts)
      // asked for once the clone has its storage-lock slot, just before the clone request: neither waits on the other
      'gh jit ubuntu-200-ab12 group=1 labels=self-hosted,linux,x64,ubuntu scope=repo',
      'pve clone 9000->200 name=ubuntu-200-ab12 pool=pve-runners',
      'pve config 200 cicustom,cores,memory,tags',
      'snippet write pve1/pvr-ubuntu-200-ab12.yaml',
      'pve start 200',
      'snippet remove pve1/pvr-ubuntu-200-ab12.yaml',
    ]);
    expect(snippets.files.size).toBe(0);
    expect(lines.join('\n')).not.toContain('SECRET-JIT');
    expect(lines.some((l) => l.includes('"job":77') && l.includes('"vmid":200') && l.includes('"runner":"ubuntu-200-ab12"'))).toBe(true);
  });

  it('looks up the runner group of an org and uses a registration token for token pools', async () => {
    const org = setup();
    await org.run(create({ scope: 'org:acme' }));
    expect(org.calls).toContain('gh group acme/ci');
    expect(org.calls).toContain('gh jit ubuntu-200-ab12 group=7 labels=self-hosted,linux,x64,ubuntu scope=org');
    const tok = setup({ pool: { registration: 'token' } });
    await tok.run(create());
    expect(tok.calls).toContain('gh token');
    expect(tok.snippets.files.size).toBe(0);
  });

  it('replaces a registration left by a JIT request whose answer was lost (409 on the retry)', async () => {
    const { calls, run, github } = setup();
    github.jitFailures.push(Object.assign(new Error('Already exists - A runner with the name ubuntu-200-ab12 already exists.'), { status: 409 }));
    github.found = { id: 41, name: 'ubuntu-200-ab12', status: 'offline', busy: false, labels: [] };
    expect((await run(create()))[0]).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('gh '))).toEqual([
      'gh jit ubuntu-200-ab12 group=1 labels=self-hosted,linux,x64,ubuntu scope=repo',
      'gh find ubuntu-200-ab12',
      'gh delete 41 → deleted',
      'gh jit ubuntu-200-ab12 group=1 labels=self-hosted,linux,x64,ubuntu scope=repo',
    ]);
  });

  it('asks again for a leftover registration GitHub does not list yet (its listings lag), then replaces it', async () => {
    const { calls, run, github, clock } = setup();
    github.jitFailures.push(Object.assign(new Error('Already exists - A runner with the name ubuntu-200-ab12 already exists.'), { status: 409 }));
    github.found = { id: 41, name: 'ubuntu-200-ab12', status: 'offline', busy: false, labels: [] };
    github.notListedFor = 2;
    const t0 = clock.now();
    expect((await run(create()))[0]).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('gh find'))).toHaveLength(3);
    expect(calls.filter((c) => c.startsWith('gh delete'))).toEqual(['gh delete 41 → deleted']);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2 * 2_000);
  });

  it('retries a clone into another VMID when the chosen one was taken meanwhile', async () => {
    const { calls, run, proxmox } = setup();
    proxmox.vms.set(201, { kind: 'qemu', vmid: 201, node: 'pve2', name: 'someone', status: 'running', template: false, tags: [], maxmem: 0, uptime: 0 });
    proxmox.failNext.set('clone', [pveError(500, 'unable to create VM 200: config file already exists')]);
    const [outcome] = await run(create());
    expect(outcome).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('pve clone'))).toEqual(['pve clone 9000->200 name=ubuntu-200-ab12', 'pve clone 9000->202 name=ubuntu-202-ab12']);
    expect(calls).toContain('pve start 202');
  });

  it('retries lock timeouts with backoff, then gives up leaving nothing only it knows about', async () => {
    const lock = () => pveError(500, "can't lock file '/var/lock/qemu-server/lock-200.conf' - got timeout");
    const ok = setup();
    ok.proxmox.failNext.set('clone', [lock(), lock()]);
    const t0 = ok.clock.now();
    expect((await ok.run(create()))[0]).toMatchObject({ ok: true });
    expect(ok.clock.now() - t0).toBeGreaterThanOrEqual(1000 + 2000);

    const bad = setup();
    bad.proxmox.failNext.set('clone', [lock(), lock(), lock(), lock(), lock()]);
    const [outcome] = await bad.run(create());
    expect(outcome).toMatchObject({ ok: false, detail: expect.stringContaining('got timeout') });
    expect(bad.calls.filter((c) => c.startsWith('pve clone'))).toHaveLength(5);
    // the registration minted while it tried is deleted at once: no VM will use it
    expect(bad.calls.filter((c) => c.startsWith('gh '))).toEqual(['gh jit ubuntu-200-ab12 group=1 labels=self-hosted,linux,x64,ubuntu scope=repo', 'gh delete 101 → deleted']);
  });

  it('retries a clone whose task failed on the storage lock', async () => {
    const { calls, run, proxmox } = setup();
    proxmox.taskExitOnce.set('qmclone', ["clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"]);
    expect((await run(create()))[0]).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('pve clone'))).toHaveLength(2);
  });

  it('deletes the registration it minted while cloning when the clone task fails', async () => {
    const { calls, run, proxmox } = setup();
    proxmox.taskExit.set('qmclone', 'clone failed: storage local-lvm is full');
    const [outcome] = await run(create());
    expect(outcome).toMatchObject({ ok: false, detail: expect.stringContaining('task failed: clone failed') });
    expect(calls.filter((c) => c.startsWith('gh '))).toEqual(['gh jit ubuntu-200-ab12 group=1 labels=self-hosted,linux,x64,ubuntu scope=repo', 'gh delete 101 → deleted']);
  });

  it('keeps the snippet when the start fails, for the next tick to remove with the VM', async () => {
    const { run, proxmox, snippets } = setup();
    proxmox.taskExit.set('qmstart', 'start failed: QEMU exited with code 1');
    const [outcome] = await run(create());
    expect(outcome).toMatchObject({ ok: false, detail: expect.stringContaining('QEMU exited') });
    expect([...snippets.files.keys()]).toEqual(['pve1/pvr-ubuntu-200-ab12.yaml']);
  });

  it('reports the creation, with its runner name, as in flight until done and for the status lag after, and to a tick that began before', async () => {
    const { ex, clock } = setup();
    const tickStart = clock.now();
    ex.submit([create()]);
    expect(ex.inFlight().creating.map((c) => [c.vmid, c.runnerName])).toEqual([[200, 'ubuntu-200-ab12']]);
    await ex.drain();
    // still "being created" while Proxmox's resource list may lag behind the start
    expect(ex.inFlight().creating.map((c) => c.vmid)).toEqual([200]);
    clock.t += defaultTimings(15_000).statusLagMs;
    expect(ex.inFlight().creating).toEqual([]);
    expect(ex.inFlight(tickStart).creating.map((c) => c.vmid)).toEqual([200]);
    expect(ex.inFlight(clock.now() + 1).creating).toEqual([]);
  });
});

describe('executor: warm VMs', () => {
  const warmVm = (t: ReturnType<typeof setup>, vmid = 201) => {
    const name = `ubuntu-${vmid}-wq11`;
    t.proxmox.vms.set(vmid, { kind: 'qemu', vmid, node: 'pve1', name, status: 'stopped', template: false, tags: ['pve-runners', 'pvr-pool.ubuntu'], maxmem: 4 << 30, uptime: 0 });
    t.proxmox.configs.set(vmid, { name, description: formatVmDescription({ pool: 'ubuntu', scope: '', runner: name, createdAt: 1, warm: { template: 9000, stamp: '1793491200' } }) });
    return name;
  };
  const startWarm = (name: string, over: Partial<StartWarmAction> = {}): StartWarmAction => ({
    kind: 'start-warm', purpose: 'job', pool: 'ubuntu', scope: 'repo:acme/app', vmid: 201, node: 'pve1', name, memoryBytes: 4 << 30, forJob: 78, reason: 'job 78 waits', ...over,
  });

  it('makes a warm clone with our marks and nothing else: no registration, no snippet, no start', async () => {
    const t = setup();
    const [outcome] = await t.run(create({ purpose: 'warm', scope: '', forJob: undefined, templateStamp: '1793491200' }));
    expect(outcome).toMatchObject({ ok: true });
    expect(t.calls.filter((c) => !c.startsWith('pve getConfig'))).toEqual(['pve nextid 200', 'pve clone 9000->200 name=ubuntu-200-ab12', 'pve config 200 cores,memory,tags']);
    const meta = parseVmDescription(String(t.proxmox.configs.get(200)!.description));
    expect(meta).toMatchObject({ pool: 'ubuntu', scope: '', warm: { template: 9000, stamp: '1793491200' } });
  });

  it('starts a warm VM: reads it is still ours and warm, mints, writes the snippet, describes it as its scope\'s runner, starts, removes the snippet', async () => {
    const t = setup();
    const name = warmVm(t);
    const [outcome] = await t.run(startWarm(name));
    expect(outcome).toMatchObject({ ok: true });
    expect(t.calls).toEqual([
      'pve getConfig 201',
      `gh jit ${name} group=1 labels=self-hosted,linux,x64,ubuntu scope=repo`,
      `snippet write pve1/pvr-${name}.yaml`,
      'pve config 201 cicustom,description',
      'pve start 201',
      `snippet remove pve1/pvr-${name}.yaml`,
    ]);
    const meta = parseVmDescription(String(t.proxmox.configs.get(201)!.description));
    expect(meta).toMatchObject({ scope: 'repo:acme/app', runner: name });
    expect(meta?.warm).toBeUndefined();
    expect(t.lines.join('\n')).not.toContain('SECRET-JIT');
  });

  it('a warm start that fails takes its credentials with it: snippet removed, registration deleted', async () => {
    const t = setup();
    const name = warmVm(t);
    t.proxmox.taskExit.set('qmstart', 'start failed: QEMU exited with code 1');
    const [outcome] = await t.run(startWarm(name));
    expect(outcome).toMatchObject({ ok: false });
    expect(t.snippets.files.size).toBe(0);
    expect(t.calls.filter((c) => c.startsWith('gh '))).toEqual([`gh jit ${name} group=1 labels=self-hosted,linux,x64,ubuntu scope=repo`, 'gh delete 101 → deleted']);
    // and it does not linger as a runner on its way to its job
    expect(t.ex.inFlight().creating).toEqual([]);
  });

  it('starts nothing on a VM that is no longer warm or no longer ours', async () => {
    const t = setup();
    const name = warmVm(t);
    t.proxmox.configs.set(201, { name, description: formatVmDescription({ pool: 'ubuntu', scope: 'repo:acme/app', runner: name, createdAt: 1 }) });
    expect((await t.run(startWarm(name)))[0]).toMatchObject({ ok: false, detail: expect.stringContaining('no longer a warm VM') });
    t.proxmox.vms.get(201)!.tags = [];
    expect((await t.run(startWarm(name)))[0]).toMatchObject({ ok: false });
    expect(t.calls.filter((c) => !c.startsWith('pve getConfig'))).toEqual([]);
  });
});

describe('executor: removals', () => {
  // VMs 201 and 202 carry our marks (their config is re-read before any change)
  const setupOurs = () => {
    const s = setup();
    for (const vmid of [201, 202]) s.proxmox.vms.set(vmid, { kind: 'qemu', vmid, node: 'pve1', name: `ubuntu-${vmid}-ab12`, status: 'running', template: false, tags: ['pve-runners', 'pvr-pool.ubuntu'], maxmem: 0, uptime: 60 });
    return s;
  };
  const remove = { kind: 'remove-vm', pool: 'ubuntu', vmid: 201, node: 'pve1', name: 'ubuntu-201-ab12', running: true, runner: { id: 9, scope: 'repo:acme/app' }, reason: 'idle' } as const;

  it('deregisters the runner before it stops and destroys the VM, and cools the VMID down', async () => {
    const { calls, run, ex } = setupOurs();
    expect((await run(remove))[0]).toMatchObject({ ok: true });
    expect(calls).toEqual(['pve getConfig 201', 'gh delete 9 → deleted', 'pve stop 201', 'pve getConfig 201', 'pve destroy 201']);
    expect([...ex.inFlight().recentlyFreed.keys()]).toEqual([201]);
  });

  it('a destroy that waits out another destroy\'s config lock retries, and a config gone by then is the VM destroyed', async () => {
    // A destroy begun before a restart holds the config lock while it frees the disks: this one's
    // worker times out on it, and the retry is refused because that destroy has removed the config.
    const { calls, run, ex, proxmox, lines } = setupOurs();
    proxmox.vms.set(201, { ...proxmox.vms.get(201)!, status: 'stopped' });
    proxmox.taskExitOnce.set('qmdestroy', ["can't lock file '/var/lock/qemu-server/lock-201.conf' - got timeout"]);
    proxmox.failNext.set('destroy', [undefined as unknown as Error, pveError(500, "Configuration file 'nodes/pve1/qemu-server/201.conf' does not exist")]);
    expect((await run({ ...remove, running: false, runner: undefined }))[0]).toMatchObject({ ok: true });
    expect(calls.filter((c) => c.startsWith('pve destroy'))).toEqual(['pve destroy 201', 'pve destroy 201']);
    expect([...ex.inFlight().recentlyFreed.keys()]).toEqual([201]);
    expect(lines.some((l) => l.includes('destroyed by an earlier destroy still under way'))).toBe(true);
  });

  it('never destroys a VM whose runner turned out busy (422)', async () => {
    const { calls, run, github } = setupOurs();
    github.deleteAnswer = 'busy';
    expect((await run(remove))[0]).toMatchObject({ ok: true });
    expect(calls).toEqual(['pve getConfig 201', 'gh delete 9 → busy']);
  });

  it('removes a VM listed stopped only once Proxmox says it is stopped now: a lagging listing never costs a fresh runner its registration', async () => {
    const stopped = { ...remove, running: false, reason: 'VM is stopped (its job is done or it powered off)' };
    const lagging = setupOurs();
    lagging.proxmox.liveStatus.set(201, 'running');
    expect((await lagging.run(stopped))[0]).toMatchObject({ ok: true });
    expect(lagging.calls).toEqual(['pve getConfig 201', 'pve vmStatus 201']);
    const really = setupOurs();
    really.proxmox.liveStatus.set(201, 'stopped');
    await really.run(stopped);
    expect(really.calls).toEqual(['pve getConfig 201', 'pve vmStatus 201', 'gh delete 9 → deleted', 'pve getConfig 201', 'pve destroy 201']);
  });

  it('looks a runner missing from the listing up by name before stopping its VM, and keeps the VM if it is busy', async () => {
    const absent = { ...remove, runner: undefined, scope: 'repo:acme/app' };
    const none = setupOurs();
    await none.run(absent);
    expect(none.calls).toEqual(['pve getConfig 201', 'gh find ubuntu-201-ab12', 'pve stop 201', 'pve getConfig 201', 'pve destroy 201']);
    const busy = setupOurs();
    busy.github.found = { id: 5, name: 'ubuntu-201-ab12', status: 'online', busy: true, labels: [] };
    await busy.run(absent);
    expect(busy.calls).toEqual(['pve getConfig 201', 'gh find ubuntu-201-ab12']);
    const idle = setupOurs();
    idle.github.found = { id: 5, name: 'ubuntu-201-ab12', status: 'offline', busy: false, labels: [] };
    await idle.run(absent);
    expect(idle.calls).toEqual(['pve getConfig 201', 'gh find ubuntu-201-ab12', 'gh delete 5 → deleted', 'pve stop 201', 'pve getConfig 201', 'pve destroy 201']);
  });

  it('stops a VM past max_job_duration without deregistering it first', async () => {
    const { calls, run } = setupOurs();
    await run({ kind: 'stop-vm', pool: 'ubuntu', vmid: 202, node: 'pve1', name: 'ubuntu-202-ab12', reason: 'too long' });
    expect(calls).toEqual(['pve getConfig 202', 'pve stop 202']);
  });

  it('accepts nothing after stop()', async () => {
    const { calls, ex } = setupOurs();
    ex.stop();
    ex.submit([create()]);
    await ex.drain();
    expect(calls).toEqual([]);
  });
});
