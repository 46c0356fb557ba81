/**
 * The pickup breakdown's tiers, decided by the simulator from what happened: a runner that was
 * online before its job was queued is hot (all of its pickup is assignment), a VM cloned before
 * the job and started after is warm (no clone on its path). Driven through the simulator's own
 * HTTP APIs as a client would (GitHub JIT config, Proxmox clone/config/start), the user-data
 * rendered from the shipped template; the workload is held until the test queues it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUserData } from '../src/cloudinit/render.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { until } from './helpers/github-sim.js';

const SCENARIO = `seed: 3
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 5s, shutdown: 1s, destroy: 1s}
github:
  repos: [acme/app]
  timings: {runner_connect: 1s}
  lag: {jobs: 0s, runners: 0s, runner_deletion: 0s}
workload:
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-24.04], duration: 5s}
`;

class Client {
  constructor(private readonly sim: Simulator) {}

  async github(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const { url, token } = this.sim.endpoints.github;
    const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect(r.status).toBeLessThan(300);
    return (await r.json()) as Record<string, unknown>;
  }

  async pve(method: string, path: string, params: Record<string, string> = {}): Promise<unknown> {
    const px = this.sim.endpoints.proxmox;
    const body = method === 'GET' ? undefined : new URLSearchParams(params).toString();
    const r = await fetch(`${px.url}${path}`, {
      method, body, headers: { authorization: `PVEAPIToken=${px.tokenId}=${px.tokenSecret}`, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    });
    expect([r.status, r.statusText]).toEqual([200, 'OK']);
    return ((await r.json()) as { data: unknown }).data;
  }

  /** Starts a task and waits until Proxmox says it stopped OK. */
  async task(path: string, params: Record<string, string>): Promise<void> {
    const upid = String(await this.pve('POST', path, params));
    for (;;) {
      const status = (await this.pve('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`)) as { status: string; exitstatus?: string };
      if (status.status === 'stopped') return expect(status.exitstatus).toBe('OK');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** A linked clone of the template as VMID 200, tagged and pointed at a snippet holding a fresh JIT config. */
  async prepareVm(name: string): Promise<void> {
    const jit = await this.github('POST', '/repos/acme/app/actions/runners/generate-jitconfig', { name, runner_group_id: 1, labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'] });
    await this.task('/nodes/pve1/qemu/9000/clone', { newid: '200', name, full: '0', pool: 'pve-runners' });
    const file = `pvr-${name}.yaml`;
    const template = join(process.cwd(), 'cloud-init', 'ubuntu-2404.yaml');
    const userData = renderUserData(readFileSync(template, 'utf8'), { runnerName: name, vmid: 200, pool: 'ubuntu-2404', node: 'pve1', registration: { kind: 'jit', encodedJitConfig: String(jit.encoded_jit_config) } }, template);
    writeFileSync(join(this.sim.endpoints.proxmox.snippetsDirs.pve1!, file), userData, { mode: 0o600 });
    await this.task('/nodes/pve1/qemu/200/config', { tags: 'pve-runners;pvr-pool.ubuntu-2404', cicustom: `user=local:snippets/${file}` });
  }

  start(): Promise<void> {
    return this.task('/nodes/pve1/qemu/200/status/start', {});
  }
}

async function withSim(body: (sim: Simulator, c: Client) => Promise<void>): Promise<void> {
  const sim = new Simulator(parseScenario(SCENARIO), { speed: 20, holdWorkload: true });
  await sim.start();
  try {
    await body(sim, new Client(sim));
  } finally {
    await sim.stop();
  }
}

const NAME = 'ubuntu-2404-200-h0t1';
const jobOf = (sim: Simulator) => {
  const report = sim.report({ finished: true });
  expect(report.pickup.jobs).toHaveLength(1);
  return { report, job: report.pickup.jobs[0]! };
};
const sum = (stages: Record<string, number>) => Object.values(stages).reduce((a, b) => a + b, 0);

describe('pickup tiers in the simulator', () => {
  it('a runner online before its job was queued is hot: the whole pickup is assignment', async () => {
    await withSim(async (sim, c) => {
      await c.prepareVm(NAME);
      await c.start();
      await until(sim.ctx, () => sim.ctx.recorder.timeline.vmNamed(NAME)?.onlineMs !== undefined);
      sim.releaseWorkload(0);
      await until(sim.ctx, () => [...sim.ctx.recorder.jobs.values()].every((j) => j.takenAt !== undefined));
      const { report, job } = jobOf(sim);
      expect(job).toMatchObject({ tier: 'hot', runner: NAME, pool: 'ubuntu-2404', vmid: 200 });
      expect(job.stages_s).toEqual({ detection: 0, capacity: 0, clone: 0, configure: 0, start: 0, boot: 0, registration: 0, assignment: job.pickup_s });
      // GitHub takes its dispatch delay (default 2 s) even for an idle runner
      expect(job.pickup_s).toBeGreaterThanOrEqual(2);
      expect(job.pickup_s).toBeLessThanOrEqual(3);
      expect(report.pickup.by_pool['ubuntu-2404']?.hot).toMatchObject({ jobs: 1, floor_s: 2 });
      // the pool had one hot runner until the job took it
      const series = report.pickup.tiers_over_time['ubuntu-2404']!;
      expect(series.some(([, hot]) => hot === 1)).toBe(true);
      expect(series.at(-1)![1]).toBe(0);
    });
  }, 60_000);

  it('a VM cloned before its job was queued and started after is warm: no clone on its path', async () => {
    await withSim(async (sim, c) => {
      await c.prepareVm(NAME);
      const warm = sim.report({ finished: false }).pickup.tiers_over_time['ubuntu-2404']!;
      expect(warm.at(-1)).toEqual([expect.any(Number), 0, 1]);
      sim.releaseWorkload(0);
      const run = (await c.github('GET', '/repos/acme/app/actions/runs')) as { workflow_runs: Array<{ id: number }> };
      await c.github('GET', `/repos/acme/app/actions/runs/${run.workflow_runs[0]!.id}/jobs`); // the job is seen: detection ends
      await c.start();
      await until(sim.ctx, () => [...sim.ctx.recorder.jobs.values()].every((j) => j.takenAt !== undefined));
      const { report, job } = jobOf(sim);
      expect(job).toMatchObject({ tier: 'warm', runner: NAME });
      expect(job.stages_s).toMatchObject({ capacity: 0, clone: 0, assignment: expect.any(Number) });
      expect(job.stages_s.start).toBeGreaterThanOrEqual(1.99);
      expect(job.stages_s.boot).toBeGreaterThanOrEqual(4.99);
      expect(job.stages_s.registration).toBeGreaterThanOrEqual(0.99);
      expect(sum(job.stages_s)).toBeCloseTo(job.pickup_s, 6);
      // warm floor: config + start + boot + connect, no clone
      expect(report.pickup.by_pool['ubuntu-2404']?.warm?.floor_s).toBe(8.2);
    });
  }, 60_000);
});
