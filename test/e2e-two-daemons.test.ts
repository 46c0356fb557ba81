import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { daemonEnv } from '../src/cli/demo.js';
import { loadScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { CLI, ROOT, scenarioFile, zeroLeaks } from './helpers/e2e.js';

/*
 * Two `pve-runners run` processes (the built CLI) against one simulator, each with its own
 * INSTANCE_ID. What each must see is caused by the test: the workload is released by hand, and the
 * first daemon is paused (SIGSTOP) while the second starts, so the second meets queued jobs, room
 * under the caps and the first's fresh VMs — it would create, were it not for the other instance.
 */
const SPEED = 30;
const LABELS_A = '[self-hosted, linux, ubuntu-24.04]';
const LABELS_B = '[self-hosted, linux, ubuntu-22.04]';

const scenario = (workload: string) => `
seed: 5
time_limit: 3600s
proxmox:
  nodes:
    - {name: pve1, memory_mb: 131072}
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
  timings: {clone: 5s, config: 200ms, start: 2s, boot: 20s, stop: 1s, shutdown: 2s, destroy: 2s}
github:
  repos: [acme/app]
workload:
${workload}`;

function poolsFile(pools: Array<{ name: string; template: string; labels: string; range: [number, number]; max: number }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pvr-two-'));
  const f = join(dir, 'pools.yaml');
  writeFileSync(f, `github:
  repos: [acme/app]
defaults:
  node: pve1
  registration: jit
  clone: linked
pools:
${pools.map((p) => `  - {name: ${p.name}, template: ${p.template}, labels: ${p.labels}, vmid_range: [${p.range[0]}, ${p.range[1]}], max_runners: ${p.max}, user_data: ${join(ROOT, 'cloud-init/ubuntu-2404.yaml')}, memory: 2048}`).join('\n')}
`);
  return f;
}

interface Daemon {
  id: string;
  child: ChildProcess;
  logs: string[];
  exited: Promise<void>;
}

function startDaemon(sim: Simulator, id: string, pools: string): Daemon {
  const env = { PATH: process.env.PATH, ...daemonEnv(sim.endpoints, pools, SPEED), INSTANCE_ID: id, INSTANCE_TAKEOVER_AFTER: '10m' };
  const child = spawn(process.execPath, [CLI, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const d: Daemon = { id, child, logs: [], exited: new Promise((r) => child.once('exit', () => r())) };
  for (const s of [child.stdout!, child.stderr!]) createInterface({ input: s }).on('line', (l) => d.logs.push(l));
  return d;
}

/** Polls what the test caused; the limit only turns a hang into a failure that says what it waited for. */
async function until(what: string, cond: () => boolean, daemons: Daemon[], limitMs = 240_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last lines:\n${daemons.map((d) => `${d.id}:\n${d.logs.slice(-6).join('\n')}`).join('\n')}`);
    for (const d of daemons) if (d.child.exitCode !== null) throw new Error(`daemon ${d.id} exited (${d.child.exitCode}):\n${d.logs.slice(-8).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ticks = (d: Daemon) => d.logs.filter((l) => l.includes('"message":"tick:')).length;
const created = (d: Daemon) => d.logs.filter((l) => l.includes('"message":"creating runner VM'));
const standDown = (d: Daemon) => d.logs.filter((l) => l.includes('"level":"error"') && l.includes('another pve-runners instance'));
const allDone = (sim: Simulator) => sim.workloadSettled(() => false);
const clean = (sim: Simulator) => {
  const left = sim.leftovers();
  return left.vms.length + left.snippets.length + left.registrations.length === 0;
};

async function stopAll(daemons: Daemon[]): Promise<void> {
  for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGCONT'), d.child.kill('SIGTERM');
  await Promise.all(daemons.map((d) => d.exited));
}

async function withSim(yaml: string, caps: { total?: number; pools: Record<string, number> }, f: (sim: Simulator, daemons: Daemon[]) => Promise<void>): Promise<Simulator> {
  const sim = new Simulator(loadScenario(scenarioFile(yaml)), { speed: SPEED, caps, holdWorkload: true, timeLimitMs: 3_600_000 });
  await sim.start();
  const daemons: Daemon[] = [];
  try {
    await f(sim, daemons);
  } catch (e) {
    await stopAll(daemons);
    await sim.stop();
    throw e;
  }
  await stopAll(daemons);
  return sim;
}

describe('e2e: two daemons against one simulator', () => {
  it('same pools: the second stands down with a clear error while the first is live; once the first is SIGKILLed, it takes over after INSTANCE_TAKEOVER_AFTER and leaks nothing', async () => {
    const pools = poolsFile([{ name: 'ubuntu', template: 'ubuntu-2404-runner-template', labels: LABELS_A, range: [200, 205], max: 3 }]);
    const workload = `  - {at: 0s, repo: acme/app, jobs: 2, runs: 1, labels: ${LABELS_A}, duration: 120s}\n  - {at: 0s, repo: acme/app, jobs: 2, runs: 1, labels: ${LABELS_A}, duration: 30s}\n`;
    let before: ReturnType<Simulator['pve']['ourVms']> = [];
    let takenOverAt = -1;
    let bCreatedBeforeTakeover = -1;
    const sim = await withSim(scenario(workload), { pools: { ubuntu: 3 } }, async (sim, daemons) => {
      sim.releaseWorkload(0);
      const a = startDaemon(sim, 'pvr-a', pools);
      daemons.push(a);
      await until('the first daemon running both jobs', () => [...sim.ctx.recorder.jobs.values()].filter((j) => j.takenAt !== undefined).length === 2, daemons);
      // Paused, the first one is live but does nothing: what the second does next is its own doing.
      a.child.kill('SIGSTOP');
      sim.releaseWorkload(1);
      const b = startDaemon(sim, 'pvr-b', pools);
      daemons.push(b);
      await until('the second daemon standing down', () => standDown(b).length > 0, daemons);
      const seen = ticks(b);
      await until('two more ticks of the second daemon', () => ticks(b) >= seen + 2, daemons);
      // two jobs queued, room for one more VM under max_runners 3: only the other instance stops it
      expect(created(b)).toEqual([]);
      expect(sim.pve.ourVms().every((v) => v.instance === 'pvr-a')).toBe(true);
      const line = JSON.parse(standDown(b)[0]!) as { message: string };
      expect(line.message).toMatch(/^another pve-runners instance 'pvr-a' is live in the VMID range of pool\(s\) ubuntu \(VMs 200, 201; newest \d+s old\), so this instance 'pvr-b' creates nothing there and touches none of its VMs: stop the other daemon, or give the two disjoint VMID ranges \(and labels\)/);

      a.child.kill('SIGCONT');
      await until('the first daemon serving the new jobs', () => created(a).length >= 3, daemons);
      a.child.kill('SIGKILL');
      await a.exited;
      before = sim.pve.ourVms();
      // 120 s here is an hour of scenario time: three times the takeover bound plus every job
      await until('every job done and nothing left', () => allDone(sim) && clean(sim), daemons, 120_000);
      takenOverAt = b.logs.findIndex((l) => l.includes("pve-runners instance 'pvr-a' made no VM for 20s (INSTANCE_TAKEOVER_AFTER): taken for gone"));
      bCreatedBeforeTakeover = b.logs.slice(0, Math.max(0, takenOverAt)).filter((l) => l.includes('"message":"creating runner VM')).length;
    });
    // the killed daemon left VMs of its own; the second took them over (none leaked) and made the rest
    expect(before.length).toBeGreaterThan(0);
    expect(takenOverAt).toBeGreaterThan(0);
    expect(bCreatedBeforeTakeover).toBe(0);
    const report = sim.report({ finished: true, isUnmatched: () => false });
    await sim.stop();
    expect(report.jobs.completed).toBe(4);
    expect(report.cap_violation_details).toEqual([]);
    zeroLeaks(report);
  }, 300_000);

  it('disjoint pools (VMID ranges and labels): both daemons serve at once, neither sees a conflict', async () => {
    const a = poolsFile([{ name: 'noble-a', template: 'ubuntu-2404-runner-template', labels: LABELS_A, range: [200, 204], max: 2 }]);
    const b = poolsFile([{ name: 'jammy-b', template: 'ubuntu-2204-runner-template', labels: LABELS_B, range: [300, 304], max: 2 }]);
    const workload = `  - {at: 0s, repo: acme/app, jobs: 3, runs: 1, labels: ${LABELS_A}, duration: 30s}\n  - {at: 0s, repo: acme/app, jobs: 3, runs: 1, labels: ${LABELS_B}, duration: 30s}\n`;
    let da: Daemon | undefined;
    let db: Daemon | undefined;
    const instances = new Map<number, string | undefined>();
    const sim = await withSim(scenario(workload), { pools: { 'noble-a': 2, 'jammy-b': 2 } }, async (sim, daemons) => {
      da = startDaemon(sim, 'pvr-a', a);
      db = startDaemon(sim, 'pvr-b', b);
      daemons.push(da, db);
      sim.releaseWorkload(0);
      sim.releaseWorkload(1);
      await until('every job done and nothing left', () => {
        for (const v of sim.pve.ourVms()) instances.set(v.vmid, v.instance);
        return allDone(sim) && clean(sim);
      }, daemons);
    });
    const report = sim.report({ finished: true, isUnmatched: () => false });
    await sim.stop();
    expect(created(da!).length).toBeGreaterThan(0);
    expect(created(db!).length).toBeGreaterThan(0);
    expect([...da!.logs, ...db!.logs].filter((l) => l.includes('another pve-runners instance'))).toEqual([]);
    // each VM carries the id of the daemon whose range it is in
    expect([...instances].every(([vmid, id]) => id === (vmid < 300 ? 'pvr-a' : 'pvr-b'))).toBe(true);
    expect(report.jobs.completed).toBe(6);
    expect(report.cap_violation_details).toEqual([]);
    zeroLeaks(report);
  }, 300_000);
});
