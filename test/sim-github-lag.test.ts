/**
 * GitHub's listing lag in the simulator, on a clock only the test moves: job and run status, runner
 * status and busy flag, and runner deletion show late in every read (listings and single GETs),
 * ETags follow what is shown, and mutations (DELETE, JIT names) decide on the live state.
 */
import { GithubSim } from '../src/sim/github/index.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';
import { ManualClock } from './helpers/manual-clock.js';

interface Reply { status: number; body: any; etag: string | null } // eslint-disable-line @typescript-eslint/no-explicit-any

let clock: ManualClock;
let sim: GithubSim;
let url: string;
let token: string;
let recorder: Recorder;

async function start(lag = '{jobs: 3s, runners: 5s, runner_deletion: 10s}'): Promise<void> {
  const scenario = parseScenario(`
seed: 3
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
github:
  repos: [acme/app]
  lag: ${lag}
  timings: {runner_connect: 2s, dispatch: 0s}  # listing lag alone: jobs reach idle runners at once
workload: []
`, 'lag.yaml');
  clock = new ManualClock();
  recorder = new Recorder(() => clock.nowMs(), undefined, true);
  sim = new GithubSim({ scenario, clock, rng: new Rng(scenario.seed), recorder });
  ({ url, token } = await sim.start());
}

afterEach(async () => {
  await sim.stop();
});

async function call(method: string, path: string, opts: { body?: unknown; etag?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `token ${token}`, accept: 'application/vnd.github+json' };
  if (opts.etag) headers['if-none-match'] = opts.etag;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, etag: r.headers.get('etag') };
}

const runnersPath = '/repos/acme/app/actions/runners';
const listed = async () => ((await call('GET', runnersPath)).body.runners as Array<{ name: string; status: string; busy: boolean }>).map((r) => `${r.name}:${r.status}${r.busy ? ':busy' : ''}`);

async function jitRunner(name: string): Promise<number> {
  const r = await call('POST', `${runnersPath}/generate-jitconfig`, { body: { name, runner_group_id: 1, labels: ['self-hosted', 'linux'] } });
  expect(r.status).toBe(201);
  sim.connect({ kind: 'jit', encodedJitConfig: r.body.encoded_jit_config }, () => {});
  return r.body.runner.id;
}

describe('GitHub listing lag', () => {
  it('a job taken by a runner is still listed queued for lag.jobs, and its run with it; a 304 only while the shown state is unchanged', async () => {
    await start();
    const runId = sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 60_000 }], false);
    const jobsPath = `/repos/acme/app/actions/runs/${runId}/jobs`;
    // A new run is not listed before lag.jobs has passed either.
    expect((await call('GET', '/repos/acme/app/actions/runs?status=queued')).body.total_count).toBe(0);
    clock.advance(3_000);
    const first = await call('GET', jobsPath);
    expect(first.body.jobs.map((j: { status: string }) => j.status)).toEqual(['queued']);

    await jitRunner('pvr-200-aaaa');
    clock.advance(2_000); // runner_connect: online, and it takes the job at once
    expect(sim.leaks().registrations).toEqual(['pvr-200-aaaa']);
    expect([...recorder.jobs.values()].map((j) => j.runnerName)).toEqual(['pvr-200-aaaa']); // taken, live

    clock.advance(2_999);
    // Still as before: the conditional request is answered 304 (nothing shown has changed).
    expect((await call('GET', jobsPath, { etag: first.etag! })).status).toBe(304);
    expect((await call('GET', `/repos/acme/app/actions/runs/${runId}`)).body.status).toBe('queued');
    const one = (await call('GET', `/repos/acme/app/actions/jobs/${first.body.jobs[0].id}`)).body;
    expect({ status: one.status, runner: one.runner_name }).toEqual({ status: 'queued', runner: null });

    clock.advance(1);
    const after = await call('GET', jobsPath, { etag: first.etag! });
    expect(after.status).toBe(200);
    expect(after.body.jobs.map((j: { status: string; runner_name: string }) => `${j.status}@${j.runner_name}`)).toEqual(['in_progress@pvr-200-aaaa']);
    expect((await call('GET', `/repos/acme/app/actions/runs/${runId}`)).body.status).toBe('in_progress');
    expect((await call('GET', '/repos/acme/app/actions/runs?status=in_progress')).body.total_count).toBe(1);
  });

  it('a runner is listed offline, then idle, for lag.runners after it came online and took a job; DELETE still answers 422 from the live state', async () => {
    await start();
    const id = await jitRunner('pvr-201-bbbb');
    clock.advance(4_999); // registered at 0: not listed until 5 s
    expect(await listed()).toEqual([]);
    clock.advance(1);
    expect(await listed()).toEqual(['pvr-201-bbbb:offline']);
    // online at 2 s (idle, nothing queued), shown from 7 s
    clock.advance(2_000);
    expect(await listed()).toEqual(['pvr-201-bbbb:online']);

    sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 60_000 }], false); // taken at once
    const single = await call('GET', `${runnersPath}/${id}`);
    expect({ status: single.body.status, busy: single.body.busy }).toEqual({ status: 'online', busy: false });
    const del = await call('DELETE', `${runnersPath}/${id}`);
    expect(del.status).toBe(422);
    expect(del.body.message).toBe('Bad request - Runner pvr-201-bbbb is currently running a job and cannot be deleted.');
    clock.advance(4_999);
    expect(await listed()).toEqual(['pvr-201-bbbb:online']);
    clock.advance(1);
    expect(await listed()).toEqual(['pvr-201-bbbb:online:busy']);
  });

  it('a deleted runner stays listed (as last shown) for lag.runner_deletion; a second DELETE is 404; its name is free at once', async () => {
    await start('{jobs: 0s, runners: 0s, runner_deletion: 10s}');
    const id = await jitRunner('pvr-202-cccc');
    clock.advance(2_000);
    expect(await listed()).toEqual(['pvr-202-cccc:online']);
    expect((await call('DELETE', `${runnersPath}/${id}`)).status).toBe(204);
    expect(sim.leaks().registrations).toEqual([]);
    clock.advance(9_999);
    expect(await listed()).toEqual(['pvr-202-cccc:offline']);
    expect((await call('GET', `${runnersPath}/${id}`)).status).toBe(200);
    expect((await call('DELETE', `${runnersPath}/${id}`)).status).toBe(404);
    // The JIT name check is a mutation's: it sees the live registrations.
    expect((await call('POST', `${runnersPath}/generate-jitconfig`, { body: { name: 'pvr-202-cccc', runner_group_id: 1, labels: ['self-hosted'] } })).status).toBe(201);
    clock.advance(1);
    expect((await call('GET', `${runnersPath}/${id}`)).status).toBe(404);
    expect(await listed()).toEqual(['pvr-202-cccc:offline']); // the new registration
  });

  it('with no lag, every read shows the live state', async () => {
    await start('{jobs: 0s, runners: 0s, runner_deletion: 0s}');
    const runId = sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 60_000 }], false);
    await jitRunner('pvr-203-dddd');
    clock.advance(2_000);
    expect(await listed()).toEqual(['pvr-203-dddd:online:busy']);
    expect((await call('GET', `/repos/acme/app/actions/runs/${runId}`)).body.status).toBe('in_progress');
  });
});
