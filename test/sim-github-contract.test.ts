/**
 * Every endpoint of the simulated GitHub answers, on success and on error, with bodies that validate
 * against GitHub's published OpenAPI response schemas; bad request bodies are refused as GitHub does.
 */
import { OpenApiResponses } from './helpers/github-openapi.js';
import { NO_LAG, startGithub, until, type RunningGithub } from './helpers/github-sim.js';

const spec = new OpenApiResponses();

const GITHUB = `
github:
  repos: [acme/app]
  orgs: [{name: bigco, repos: [web, api], runner_groups: [Default, gpu]}]
  foreign_runners:
    - {repo: acme/app, name: laptop, labels: [self-hosted, linux], status: online}
    - {org: bigco, name: spare, labels: [self-hosted, linux, arm64], status: offline}
${NO_LAG}
`;

let gh: RunningGithub;

interface Reply { status: number; body: any; headers: Headers } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: string, path: string, body?: unknown, token = gh.token, raw?: string): Promise<Reply> {
  const res = await fetch(`${gh.url}${path}`, {
    method,
    headers: { authorization: `token ${token}`, accept: 'application/vnd.github+json', ...(body !== undefined || raw ? { 'content-type': 'application/json' } : {}) },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** Calls the endpoint, expects `status`, and checks the body against the spec's schema for it. */
async function valid(method: string, template: string, path: string, status: number, body?: unknown): Promise<Reply> {
  const r = await call(method, path, body);
  expect({ path, status: r.status }).toEqual({ path, status });
  expect(spec.errors(method, template, status, r.body)).toEqual([]);
  if (r.body !== undefined) expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return r;
}

beforeAll(async () => {
  gh = await startGithub(GITHUB);
  // A run the laptop takes (in progress for an hour), one nobody fits (queued), one cancelled.
  gh.sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'Linux'], durationMs: 3_600_000 }], false);
  gh.sim.queueRun('acme/app', 'GPU', [{ labels: ['self-hosted', 'gpu'], durationMs: 60_000 }, { labels: ['self-hosted', 'gpu'], durationMs: 60_000 }], true);
  gh.sim.queueRun('acme/app', 'Nightly', [{ labels: ['self-hosted', 'gpu'], durationMs: 60_000, cancelAfterMs: 1_000 }], false);
  gh.sim.queueRun('bigco/web', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 60_000 }], false);
  // the cancel comes at 1 s, the laptop gets CI after GitHub's dispatch delay (2 s)
  await until(gh.ctx, () => [...gh.ctx.recorder.jobs.values()].some((j) => j.conclusion === 'cancelled') && [...gh.ctx.recorder.jobs.values()].some((j) => j.takenAt !== undefined));
});

afterAll(async () => {
  await gh.stop();
});

describe('simulated GitHub: responses match the OpenAPI description', () => {
  it('uses a checker that does reject a wrong shape', () => {
    expect(spec.errors('GET', '/repos/{owner}/{repo}/actions/runners/{runner_id}', 200, { id: 1, name: 'x', status: 'online', busy: false, labels: [] })).toEqual(['(root) must have required property \'os\'']);
    expect(spec.errors('GET', '/repos/{owner}/{repo}/actions/jobs/{job_id}', 200, {})).not.toEqual([]);
  });

  it('lists workflow runs in every state, with status filters', async () => {
    const t = '/repos/{owner}/{repo}/actions/runs';
    const all = await valid('GET', t, '/repos/acme/app/actions/runs', 200);
    expect(all.body.total_count).toBe(3);
    const states = all.body.workflow_runs.map((r: { name: string; status: string; conclusion: string | null }) => `${r.name}:${r.status}:${r.conclusion}`);
    expect(states.sort()).toEqual(['CI:in_progress:null', 'GPU:queued:null', 'Nightly:completed:cancelled']);
    expect((await valid('GET', t, '/repos/acme/app/actions/runs?status=queued', 200)).body.workflow_runs.map((r: { name: string }) => r.name)).toEqual(['GPU']);
    expect((await valid('GET', t, '/repos/acme/app/actions/runs?status=in_progress', 200)).body.total_count).toBe(1);
    expect((await valid('GET', t, '/repos/acme/app/actions/runs?status=cancelled', 200)).body.total_count).toBe(1);
    // Case-insensitive names, as on GitHub.
    expect((await valid('GET', t, '/repos/ACME/App/actions/runs', 200)).body.total_count).toBe(3);
    const missing = await call('GET', '/repos/acme/nope/actions/runs');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ message: 'Not Found', status: '404' });
  });

  it('lists jobs of a run and gets one job; unknown ids are 404', async () => {
    const runs = (await call('GET', '/repos/acme/app/actions/runs')).body.workflow_runs as Array<{ id: number; name: string }>;
    const ci = runs.find((r) => r.name === 'CI')!;
    const jobs = await valid('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', `/repos/acme/app/actions/runs/${ci.id}/jobs?filter=latest`, 200);
    expect(jobs.body.jobs[0]).toMatchObject({ status: 'in_progress', runner_name: 'laptop', runner_group_name: 'Default', labels: ['self-hosted', 'Linux'] });
    await valid('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', `/repos/acme/app/actions/runs/${ci.id}/jobs?filter=all`, 200);
    const jobId = jobs.body.jobs[0].id as number;
    const one = await valid('GET', '/repos/{owner}/{repo}/actions/jobs/{job_id}', `/repos/acme/app/actions/jobs/${jobId}`, 200);
    expect(one.body.run_id).toBe(ci.id);
    await valid('GET', '/repos/{owner}/{repo}/actions/runs/{run_id}', `/repos/acme/app/actions/runs/${ci.id}`, 200);
    expect((await call('GET', `/repos/acme/app/actions/jobs/${jobId + 1_000_000}`)).status).toBe(404);
    expect((await call('GET', `/repos/bigco/web/actions/jobs/${jobId}`)).status).toBe(404); // another repository's job
    expect((await call('GET', '/repos/acme/app/actions/runs/abc/jobs')).status).toBe(404);
  });

  it('lists and gets runners (repository and organisation) with the name filter', async () => {
    const list = await valid('GET', '/repos/{owner}/{repo}/actions/runners', '/repos/acme/app/actions/runners', 200);
    expect(list.body.runners).toEqual([expect.objectContaining({ name: 'laptop', status: 'online', busy: true, ephemeral: false })]);
    expect((await valid('GET', '/repos/{owner}/{repo}/actions/runners', '/repos/acme/app/actions/runners?name=nobody', 200)).body.total_count).toBe(0);
    const org = await valid('GET', '/orgs/{org}/actions/runners', '/orgs/bigco/actions/runners?name=spare', 200);
    expect(org.body.runners[0].labels).toEqual([
      expect.objectContaining({ name: 'self-hosted', type: 'read-only' }), expect.objectContaining({ name: 'linux', type: 'read-only' }),
      expect.objectContaining({ name: 'arm64', type: 'read-only' }),
    ]);
    const id = list.body.runners[0].id as number;
    await valid('GET', '/repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${id}`, 200);
    await valid('GET', '/orgs/{org}/actions/runners/{runner_id}', `/orgs/bigco/actions/runners/${org.body.runners[0].id}`, 200);
    expect((await call('GET', `/orgs/bigco/actions/runners/${id}`)).status).toBe(404); // a repository runner is not the org's
  });

  it('mints JIT configs (201), refuses a taken name (409) and invalid bodies (422)', async () => {
    const t = '/repos/{owner}/{repo}/actions/runners/generate-jitconfig';
    const ok = await valid('POST', t, '/repos/acme/app/actions/runners/generate-jitconfig', 201, { name: 'pvr-201-ab12', runner_group_id: 1, labels: ['self-hosted', 'linux', 'x64'] });
    expect(ok.body.runner).toMatchObject({ name: 'pvr-201-ab12', status: 'offline', busy: false, ephemeral: true, version: null });
    const files = JSON.parse(Buffer.from(ok.body.encoded_jit_config, 'base64').toString()) as Record<string, string>;
    expect(Object.keys(files).sort()).toEqual(['.credentials', '.credentials_rsaparams', '.runner']);
    expect(JSON.parse(Buffer.from(files['.runner']!, 'base64').toString())).toMatchObject({ agentId: String(ok.body.runner.id), agentName: 'pvr-201-ab12' });

    const dup = await valid('POST', t, '/repos/acme/app/actions/runners/generate-jitconfig', 409, { name: 'PVR-201-ab12', runner_group_id: 1, labels: ['x'] });
    expect(dup.body.message).toBe('Already exists - A runner with the name PVR-201-ab12 already exists.');

    const bad = async (body: unknown, expected: RegExp) => {
      const r = await valid('POST', t, '/repos/acme/app/actions/runners/generate-jitconfig', 422, body);
      expect(r.body.message).toMatch(expected);
    };
    await bad({ runner_group_id: 1, labels: ['x'] }, /"name" wasn't supplied/);
    await bad({ name: 'a', runner_group_id: '1', labels: ['x'] }, /For 'properties\/runner_group_id', "1" is not an integer/);
    await bad({ name: 'a', runner_group_id: 1, labels: [] }, /properties\/labels/);
    await bad({ name: 'a', runner_group_id: 1, labels: 'x' }, /is not an array/);
    await bad({ name: 'a', runner_group_id: 1, labels: Array.from({ length: 101 }, (_, i) => `l${i}`) }, /more items than 100/);
    expect(gh.sim.leaks().registrations).toEqual(['pvr-201-ab12']); // nothing registered by the refused calls

    const org = await valid('POST', '/orgs/{org}/actions/runners/generate-jitconfig', '/orgs/bigco/actions/runners/generate-jitconfig', 201, { name: 'pvr-202-cd34', runner_group_id: 2, labels: ['self-hosted'] });
    expect(org.body.runner.runner_group_id).toBe(2);
    await valid('POST', '/orgs/{org}/actions/runners/generate-jitconfig', '/orgs/bigco/actions/runners/generate-jitconfig', 404, { name: 'x', runner_group_id: 99, labels: ['a'] });
    await valid('POST', t, '/repos/acme/nope/actions/runners/generate-jitconfig', 404, { name: 'x', runner_group_id: 1, labels: ['a'] });
    const notJson = await call('POST', '/repos/acme/app/actions/runners/generate-jitconfig', undefined, gh.token, '{name:');
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toBe('Problems parsing JSON');
  });

  it('issues registration tokens that expire after the scenario TTL', async () => {
    const r = await valid('POST', '/repos/{owner}/{repo}/actions/runners/registration-token', '/repos/acme/app/actions/runners/registration-token', 201);
    expect(r.body.token).toMatch(/^[A-Z0-9]{29}$/);
    const ttl = Date.parse(r.body.expires_at) - gh.ctx.clock.epochMs();
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    await valid('POST', '/orgs/{org}/actions/runners/registration-token', '/orgs/bigco/actions/runners/registration-token', 201);
  });

  it('deletes runners (204), refuses a busy one (422), 404 when absent; touching foreign runners is recorded', async () => {
    const minted = await call('POST', '/repos/acme/app/actions/runners/generate-jitconfig', { name: 'pvr-203-ef56', runner_group_id: 1, labels: ['self-hosted'] });
    const id = minted.body.runner.id as number;
    await valid('DELETE', '/repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${id}`, 204);
    await valid('DELETE', '/repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${id}`, 404);
    const laptop = (await call('GET', '/repos/acme/app/actions/runners?name=laptop')).body.runners[0];
    const busy = await valid('DELETE', '/repos/{owner}/{repo}/actions/runners/{runner_id}', `/repos/acme/app/actions/runners/${laptop.id}`, 422);
    expect(busy.body.message).toBe('Bad request - Runner laptop is currently running a job and cannot be deleted.');
    expect(gh.ctx.recorder.foreignTouches).toEqual([]);
    const spare = (await call('GET', '/orgs/bigco/actions/runners?name=spare')).body.runners[0];
    await valid('DELETE', '/orgs/{org}/actions/runners/{runner_id}', `/orgs/bigco/actions/runners/${spare.id}`, 204);
    expect(gh.ctx.recorder.foreignTouches).toEqual([expect.stringContaining("github runner 'spare' (bigco) deleted")]);
  });

  it('serves runner groups, organisation repositories, a repository with permissions, and rate_limit', async () => {
    const groups = await valid('GET', '/orgs/{org}/actions/runner-groups', '/orgs/bigco/actions/runner-groups', 200);
    expect(groups.body.runner_groups.map((g: { id: number; name: string; default: boolean }) => [g.id, g.name, g.default])).toEqual([[1, 'Default', true], [2, 'gpu', false]]);
    const repos = await valid('GET', '/orgs/{org}/repos', '/orgs/bigco/repos', 200);
    expect(repos.body.map((r: { full_name: string }) => r.full_name)).toEqual(['bigco/web', 'bigco/api']);
    const repo = await valid('GET', '/repos/{owner}/{repo}', '/repos/bigco/api', 200);
    expect(repo.body.permissions).toEqual({ admin: true, maintain: true, push: true, triage: true, pull: true });
    await valid('GET', '/repos/{owner}/{repo}', '/repos/bigco/none', 404);
    expect((await call('GET', '/orgs/nobody/repos')).status).toBe(404);
    const before = (await valid('GET', '/rate_limit', '/rate_limit', 200)).body.resources.core.remaining as number;
    const after = (await valid('GET', '/rate_limit', '/rate_limit', 200)).body.resources.core.remaining as number;
    expect(after).toBe(before); // GET /rate_limit does not count
  });

  it('refuses bad or missing credentials with 401 and unknown routes with 404', async () => {
    for (const token of ['ghs_wrong', '']) {
      const r = await call('GET', '/repos/acme/app/actions/runs', undefined, token);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    }
    const bearer = await fetch(`${gh.url}/repos/acme/app`, { headers: { authorization: `Bearer ${gh.token}` } });
    expect(bearer.status).toBe(200);
    const unknown = await call('GET', '/repos/acme/app/actions/secrets');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
    expect((await call('PUT', '/repos/acme/app/actions/runners')).status).toBe(404);
  });

  it('paginates with a link header as GitHub sends it', async () => {
    const r = await call('GET', '/repos/acme/app/actions/runs?per_page=1&page=2');
    expect(r.body.total_count).toBe(3);
    expect(r.body.workflow_runs).toHaveLength(1);
    const base = `${gh.url}/repos/acme/app/actions/runs?per_page=1&page=`;
    expect(r.headers.get('link')).toBe(`<${base}1>; rel="prev", <${base}3>; rel="next", <${base}3>; rel="last", <${base}1>; rel="first"`);
    expect((await call('GET', '/repos/acme/app/actions/runs?per_page=100')).headers.get('link')).toBeNull();
  });

  it('answers every request with rate-limit headers and a weak ETag on GETs', async () => {
    const r = await call('GET', '/repos/acme/app/actions/runners');
    for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-used', 'x-ratelimit-reset', 'x-ratelimit-resource']) expect(r.headers.get(h)).not.toBeNull();
    expect(r.headers.get('x-ratelimit-limit')).toBe('5000');
    expect(r.headers.get('etag')).toMatch(/^W\/"[0-9a-f]{64}"$/);
    // x-ratelimit-reset is in the client's (real) frame, not scenario time's epoch
    expect(Number(r.headers.get('x-ratelimit-reset')) * 1000).toBeGreaterThan(gh.ctx.clock.wallEpochAt(gh.ctx.clock.nowMs()));
  });
});
