/**
 * e2e (the built daemon as a child process, reloaded with `kill -HUP` as `systemctl reload` sends it):
 * a reload that removes a pool whose VMs are busy and adds one whose jobs were waiting — the busy VMs
 * finish their jobs and are then removed, the new pool's jobs get VMs, nothing leaks; and an invalid
 * reload — every problem logged at err with file and path, the old configuration kept, the daemon
 * serving on; `status --json` and `status --watch` (piped: plain frames) show the failed reload.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { daemonEnv } from '../src/cli/demo.js';
import type { StatusReport } from '../src/cli/status.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { CLI, leakedSecrets } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';

const SPEED = 20;
const SCENARIO = `
seed: 11
time_limit: 1500s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}, {name: pve2, memory_mb: 131072}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9101, node: pve2}
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 20s, stop: 1s, shutdown: 3s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-22.04], duration: 300s, workflow: long}
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, big], duration: 10s, workflow: big}
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, big], duration: 10s, workflow: big-after}
`;

const pool = (name: string, labels: string, range: string, template: string, userData: string) => `
  - name: ${name}
    template: ${template}
    labels: [${labels}]
    vmid_range: ${range}
    nodes: [pve1, pve2]
    user_data: ${userData}`;
const A = pool('ubuntu-2404', 'self-hosted, linux, x64, ubuntu-24.04', '[200, 209]', 'ubuntu-2404-runner-template', 'cloud-init/ubuntu-2404.yaml');
const B = pool('ubuntu-2204', 'self-hosted, linux, x64, ubuntu-22.04', '[230, 239]', 'ubuntu-2204-runner-template', 'cloud-init/ubuntu-2204.yaml');
const BIG = pool('big', 'self-hosted, linux, x64, big', '[300, 309]', 'ubuntu-2404-runner-template', 'cloud-init/ubuntu-2404.yaml');
const file = (...pools: string[]) => `github: {repos: [acme/app]}\nmax_total_runners: 8\ndefaults: {max_runners: 3, cores: 2, memory: 2048}\npools:${pools.join('')}\n`;
// Two problems: a label listed twice, and a user_data template that does not exist.
const INVALID = file(A.replace('ubuntu-24.04]', 'ubuntu-24.04, Linux]'), BIG.replace('cloud-init/ubuntu-2404.yaml', 'cloud-init/missing.yaml'));

/** Every line the daemon logs (JSON), and a way to wait for one. */
class Daemon {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];
  constructor(readonly child: ChildProcess, private readonly sim: Simulator) {
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.lines.push(l);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }
  /** Resolves once `count` lines logged from `from` on match `re`. */
  async until(re: RegExp, from = 0, count = 1): Promise<string[]> {
    for (;;) {
      const hits = this.lines.slice(from).filter((l) => re.test(l));
      if (hits.length >= count) return hits;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`daemon exited (${this.child.exitCode ?? this.child.signalCode}); last lines:\n${this.lines.slice(-5).join('\n')}`);
      if (this.sim.timeUp()) throw new Error(`scenario time ran out waiting for a log line matching ${re}`);
      // a line, or a look at the time limit every 100 ms
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}

/** Polls the simulator (every 50 ms of real time) until `ok` holds. */
async function until(sim: Simulator, what: string, ok: () => boolean): Promise<void> {
  while (!ok()) {
    if (sim.timeUp()) throw new Error(`scenario time ran out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `kill -HUP <pid>`, as ExecReload runs it: its exit status is what `systemctl reload` reports. */
const hup = (pid: number) => spawnSync('/bin/kill', ['-HUP', String(pid)]).status;

describe('e2e: systemctl reload (SIGHUP)', () => {
  it('removes a pool with busy VMs (they finish, then go), adds one (its jobs get VMs), keeps the old config on an invalid reload; 0 leaks', async () => {
    const sim = new Simulator(parseScenario(SCENARIO), { speed: SPEED, holdWorkload: true, caps: { total: 8, pools: {} } });
    const endpoints = await sim.start();
    const runtimeDir = mkdtempSync(join(tmpdir(), 'pvr-reload-run-'));
    const pools = poolsFile(file(A, B));
    const env: NodeJS.ProcessEnv = { ...process.env, ...daemonEnv(endpoints, pools, SPEED), RUNTIME_DIRECTORY: runtimeDir };
    delete env.JOURNAL_STREAM;
    const d = new Daemon(spawn(process.execPath, [CLI, 'run'], { env, stdio: ['ignore', 'ignore', 'pipe'] }), sim);
    const jobs = () => [...sim.ctx.recorder.jobs.values()];
    const long = () => jobs().filter((j) => j.labels.includes('ubuntu-22.04'));
    const big = () => jobs().filter((j) => j.labels.includes('big'));
    try {
      sim.releaseWorkload(0);
      sim.releaseWorkload(1);
      await until(sim, 'both long jobs running', () => long().length === 2 && long().every((j) => j.takenAt !== undefined));
      await d.until(/matches no pool: no pool has all of \[self-hosted, linux, big\]/);

      // 1. Remove ubuntu-2204 (both its VMs busy), add big.
      expect(long().every((j) => j.completedAt === undefined)).toBe(true);
      writeFileSync(pools, file(A, BIG));
      const at1 = d.lines.length;
      expect(hup(d.child.pid!)).toBe(0);
      const [changed] = await d.until(/"message":"reload of /, at1);
      expect(changed).toContain('pools added: big; pools removed: ubuntu-2204 (their VMs are drained');
      expect(changed).toContain('environment variables are not re-read');
      await until(sim, 'the big job taken', () => big()[0]?.takenAt !== undefined);
      expect(big()[0]!.runnerName).toMatch(/^big-30\d-[a-z0-9]{4}$/);
      // The busy VMs are known as drained, not removed while their jobs run.
      await d.until(/is ours but pool ubuntu-2204 is no longer configured: drained/, at1, 2);
      expect(long().every((j) => j.completedAt === undefined)).toBe(true);
      expect(sim.pve.ourVms().filter((v) => v.name.startsWith('ubuntu-2204-') && v.status === 'running')).toHaveLength(2);

      // 2. An invalid reload: nothing changes, every problem is logged at err, the daemon serves on.
      writeFileSync(pools, INVALID);
      const at2 = d.lines.length;
      expect(hup(d.child.pid!)).toBe(0);
      const [failed] = await d.until(/"message":"reload of .* failed with 2 problem/, at2);
      expect(failed).toContain('"level":"error"');
      const problems = d.lines.slice(at2).filter((l) => l.includes('"message":"reload: '));
      expect(problems).toHaveLength(2);
      for (const p of problems) expect(p).toMatch(/"level":"error".*"message":"reload: [^"]*pools\.yaml: pools\[\d\]\.(labels|user_data) \(line \d+\): .* — fix: /);
      expect(problems.join('\n')).toContain('missing.yaml');
      sim.releaseWorkload(2);
      await until(sim, 'the second big job taken under the kept config', () => big()[1]?.takenAt !== undefined);
      await d.until(/"message":"tick:/, d.lines.indexOf(failed!), 2);

      // `status` reads pools.yaml too: exit 78 for its problems, with the daemon's last table and failed reload.
      const st = spawnSync(process.execPath, [CLI, 'status', '--json'], { env, encoding: 'utf8' });
      expect(st.status).toBe(78);
      expect(st.stderr).toContain('missing.yaml');
      const report = JSON.parse(st.stdout) as StatusReport;
      expect(report.reload).toMatchObject({ ok: false });
      expect(report.reload!.errors).toHaveLength(2);
      expect(report.pools.map((p) => p.pool)).toEqual(['ubuntu-2404', 'big']);
      // `status --watch` piped: plain frames of the daemon's view, every poll interval.
      const frames = await watchFrames(env, 2);
      for (const f of frames) {
        expect(f[0]).toMatch(/^pve-runners status --watch {2}\d{4}-\d\d-\d\dT/);
        expect(f).toContainEqual(expect.stringMatching(/^pool +queued +creating/));
        expect(f).toContainEqual(expect.stringMatching(/^big +\d/));
        expect(f).toContainEqual(expect.stringMatching(/^reload: FAILED at .*2 problem\(s\):$/));
        expect(f).toContain('last actions:');
        expect(f.join('\n')).not.toContain('\x1b[');
      }

      // 3. The drained VMs finish their jobs and are removed; nothing is left.
      await until(sim, 'every job done and nothing left', () => jobs().every((j) => j.completedAt !== undefined) && emptyLeftovers(sim));
      expect(long().map((j) => j.conclusion)).toEqual(['success', 'success']);
      expect(big().map((j) => j.conclusion)).toEqual(['success', 'success']);
      const drained = d.lines.filter((l) => /removing runner VM: drained \(pool ubuntu-2204 is no longer configured\)/.test(l));
      expect(drained.length).toBeGreaterThanOrEqual(2);
      expect(sim.ctx.recorder.capViolations).toEqual([]);
      expect(sim.ctx.recorder.foreignTouches).toEqual([]);
      expect(leakedSecrets(d.lines, sim.secrets())).toEqual([]);
      // still the first process: no reload ever ended it
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    } finally {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
      await d.exited;
      await sim.stop();
    }
  }, 180_000);
});

function emptyLeftovers(sim: Simulator): boolean {
  const left = sim.leftovers();
  return left.vms.length === 0 && left.snippets.length === 0 && left.registrations.length === 0;
}

/** The first `n` frames `status --watch` prints when piped (frames end with a blank line); then SIGTERM, exit 0. */
async function watchFrames(env: NodeJS.ProcessEnv, n: number): Promise<string[][]> {
  const child = spawn(process.execPath, [CLI, 'status', '--watch'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const frames: string[][] = [];
  let frame: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`status --watch exited (${code}) after ${frames.length} frame(s)`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l !== '') return void frame.push(l);
      frames.push(frame);
      frame = [];
      if (frames.length === n) resolve();
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return frames;
}
