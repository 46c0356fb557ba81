/**
 * `pve-runners status` against the real simulator, called as the CLI calls it: the lines (and the
 * --json object) it prints for the demo scenario before and after the daemon has acted.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onceCommand } from '../src/cli/daemon-commands.js';
import { daemonEnv } from '../src/cli/demo.js';
import { statusCommand, type StatusReport } from '../src/cli/status.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator, type SimEndpoints } from '../src/sim/simulator.js';

const ROOT = resolve(process.cwd());
const SPEED = 50;

let sim: Simulator;
let endpoints: SimEndpoints;
let env: Record<string, string>;
beforeEach(async () => {
  // With the default grants (no VM.Audit on /vms) status cannot see the foreign VM in ubuntu-2404's
  // range; the report of foreign VMs is tested with that audit granted.
  const demo = readFileSync(join(ROOT, 'scenarios/demo.yaml'), 'utf8').replace('  timings: {clone', '  access: {acls: [{path: /vms, roles: [PVEAuditor], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]}\n  timings: {clone');
  sim = new Simulator(parseScenario(demo, 'demo.yaml'), { speed: SPEED });
  endpoints = await sim.start();
  // no daemon runs here: its state directory is empty
  env = { ...daemonEnv(endpoints, join(ROOT, 'pools.yaml'), SPEED), RUNTIME_DIRECTORY: mkdtempSync(join(tmpdir(), 'pvr-status-')) };
});
afterEach(() => sim.stop());

async function status(json: boolean, extraEnv: Record<string, string> = {}): Promise<{ code: number; lines: string[]; errors: string[]; logs: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const logs: string[] = [];
  const code = await statusCommand({ env: { ...env, ...extraEnv }, cwd: ROOT, json, out: (l) => lines.push(l), err: (l) => errors.push(l), write: (l) => logs.push(l) });
  return { code, lines, errors, logs };
}

async function statusJson(): Promise<StatusReport> {
  const r = await status(true);
  expect(r.code).toBe(0);
  expect(r.lines).toHaveLength(1);
  return JSON.parse(r.lines[0]!) as StatusReport;
}

/** Until every workload entry of demo.yaml (the last at 60s) has been queued. */
async function allQueued(): Promise<void> {
  // The last entry is queued at 60 s, and GitHub lists a job 3 s late (the default listing lag).
  while (sim.clock.nowMs() < 64_000) await new Promise((r) => setTimeout(r, 50));
}

function expectNoSecrets(lines: readonly string[]): void {
  for (const l of lines) for (const s of [endpoints.proxmox.tokenSecret, endpoints.github.token]) expect(l).not.toContain(s);
}

describe('status on the demo scenario', () => {
  it('shows the queued jobs per pool, the unmatched job and the foreign VM in a range', async () => {
    await allQueued();
    const r = await status(false);
    expect(r.code).toBe(0);
    // ubuntu-22.04 is a `needs:` chain: only its first job is queued until that one is done.
    expect(r.lines).toEqual([
      'pool          queued  creating  booting  idle  busy  stopped  hot  warm  runners idle/busy  capacity left',
      'ubuntu-2404        6         0        0     0     0        0  0/0   0/0                0/0              4',
      'ubuntu-2204        1         0        0     0     0        0  0/0   0/0                0/0              4',
      'windows-2022       2         0        0     0     0        0  0/0   0/0                0/0              2',
      'total: 0 runner VM(s) of max_total_runners 8',
      'ubuntu-2404: queued jobs wait on max_runners 4',
      'unmatched: 1 queued job(s) no pool fits: [self-hosted, gpu] ×1 (acme/app)',
      'foreign VMs in ranges (never touched, VMIDs skipped): 205 (keep-me on pve1) in ubuntu-2404',
      expect.stringMatching(/^GitHub rate budget: \d+\/5000 left$/),
      `daemon: no state at ${env.RUNTIME_DIRECTORY}/state.json (is \`pve-runners run\` running here? its unit sets RuntimeDirectory=pve-runners): last reload unknown`,
    ]);
    expectNoSecrets([...r.lines, ...r.logs]);
  });

  it('--json gives the same figures to machines', async () => {
    await allQueued();
    const s = await statusJson();
    expect(s.pools.map((p) => [p.pool, p.queued, p.vms.total, p.capacityLeft])).toEqual([
      ['ubuntu-2404', 6, 0, 4],
      ['ubuntu-2204', 1, 0, 4],
      ['windows-2022', 2, 0, 2],
    ]);
    expect(s.pools[0]!.limitedBy).toBe('max_runners 4');
    expect(s.unmatched).toEqual([{ labels: ['self-hosted', 'gpu'], jobs: 1, repos: ['acme/app'] }]);
    expect(s.foreignInRanges).toEqual([{ vmid: 205, node: 'pve1', name: 'keep-me', template: false, pool: 'ubuntu-2404' }]);
    expect(s.total).toEqual({ vms: 0, maxTotalRunners: 8 });
    expect(s.incomplete).toEqual([]);
    expect(s.github?.limit).toBe(5000);
  });

  it('after one tick of the daemon: VMs by state, runners, and capacity limited by the pools and the overall cap', async () => {
    await allQueued();
    expect(await onceCommand({ env, cwd: ROOT, out: () => {}, write: () => {}, dryRun: false, timeScale: SPEED })).toBe(0);
    // 4 + 1 + 2 VMs were created; 8 - 7 leaves one for the whole cluster.
    const first = await statusJson();
    expect(first.total).toEqual({ vms: 7, maxTotalRunners: 8 });
    expect(first.pools.map((p) => [p.pool, p.vms.total, p.capacityLeft])).toEqual([['ubuntu-2404', 4, 0], ['ubuntu-2204', 1, 1], ['windows-2022', 2, 0]]);
    for (const p of first.pools) {
      const v = p.vms;
      expect(v.creating + v.booting + v.idle + v.busy + v.stopped + v.other).toBe(v.total);
    }
    // No daemon runs now: each VM boots, its runner takes one job, finishes it, and the VM powers off.
    let s = first;
    while (s.pools.reduce((n, p) => n + p.vms.stopped, 0) < 7) {
      await new Promise((r) => setTimeout(r, 200));
      s = await statusJson();
    }
    // GitHub lists a deleted registration, and a new job, some scenario seconds late (the default
    // listing lag: runner_deletion 10 s, jobs 3 s): let that much scenario time pass, then read.
    await new Promise((r) => setTimeout(r, (10_000 + 3_000) / SPEED + 100));
    s = await statusJson();
    expect(s.pools.map((p) => [p.pool, p.queued, p.vms, p.runners])).toEqual([
      ['ubuntu-2404', 2, { creating: 0, booting: 0, idle: 0, busy: 0, stopped: 4, warm: 0, other: 0, total: 4 }, { idle: 0, busy: 0, offline: 0 }],
      // the chain's second job is queued once its first is done
      ['ubuntu-2204', 1, { creating: 0, booting: 0, idle: 0, busy: 0, stopped: 1, warm: 0, other: 0, total: 1 }, { idle: 0, busy: 0, offline: 0 }],
      ['windows-2022', 0, { creating: 0, booting: 0, idle: 0, busy: 0, stopped: 2, warm: 0, other: 0, total: 2 }, { idle: 0, busy: 0, offline: 0 }],
    ]);
    const text = await status(false);
    expect(text.lines[1]).toBe('ubuntu-2404        2         0        0     0     0        4  0/0   0/0                0/0              0');
    expectNoSecrets([...text.lines, ...text.logs]);
  }, 60_000);

  it('another live installation in the ranges: status says STANDING DOWN and what to do, --json names it', async () => {
    await allQueued();
    expect(await onceCommand({ env, cwd: ROOT, out: () => {}, write: () => {}, dryRun: false, timeScale: SPEED })).toBe(0);
    // the daemon's own installation sees no other
    expect((await statusJson()).otherInstances).toEqual([]);
    const second = { INSTANCE_ID: 'second' };
    const text = await status(false, second);
    expect(text.lines).toContainEqual(expect.stringMatching(/^STANDING DOWN: another pve-runners instance 'demo' is live in the VMID range of [a-z0-9-, ]+ \(VMs [\d, ]+\): nothing is created there; stop the other daemon, or give the two disjoint VMID ranges$/));
    const json = JSON.parse((await status(true, second)).lines[0]!) as StatusReport;
    expect(json.otherInstances).toEqual([expect.objectContaining({ id: 'demo', live: true })]);
    expect([...json.otherInstances[0]!.pools].sort()).toEqual(['ubuntu-2204', 'ubuntu-2404', 'windows-2022']);
    expect(json.pools.map((p) => p.limitedBy)).toEqual(Array(3).fill("another pve-runners instance 'demo' live in its VMID range"));
  }, 60_000);

  it('exits 1 with the reason when Proxmox refuses the token, without echoing the secret', async () => {
    const wrong = '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f';
    const r = await status(false, { PROXMOX_TOKEN_SECRET: wrong });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([]);
    expect(r.errors).toEqual([expect.stringMatching(/^pve-runners: status: Proxmox at http:\/\/127\.0\.0\.1:\d+\/api2\/json refused the API token \(list (VMs|nodes): 401 .*\) — check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET/)]);
    expectNoSecrets([...r.errors, ...r.logs]);
    for (const l of [...r.errors, ...r.logs]) expect(l).not.toContain(wrong);
  });
});
