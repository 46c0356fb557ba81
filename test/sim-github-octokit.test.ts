/**
 * The daemon's real client stack — @octokit/rest with plugin-throttling and plugin-retry — against
 * the simulated GitHub: pagination, JIT minting, tokens, deletes, ETag revalidation, primary and
 * secondary rate limits, injected server errors.
 */
import { RequestError } from '@octokit/request-error';
import { OpenApiResponses } from './helpers/github-openapi.js';
import { NO_LAG, octokitFor, startGithub, until, type RunningGithub } from './helpers/github-sim.js';

const spec = new OpenApiResponses();
const owner = 'acme';
const repo = 'app';

async function failure(p: Promise<unknown>): Promise<RequestError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}

function recorded(gh: RunningGithub, endpoint: string) {
  return gh.ctx.recorder.requests.get(`github ${endpoint}`) ?? { count: 0, counted: 0, notModified: 0, errors: 0 };
}

describe('octokit against the simulated GitHub', () => {
  let gh: RunningGithub;
  beforeAll(async () => {
    gh = await startGithub(`
github:
  repos: [acme/app]
${NO_LAG}
  foreign_runners: [{repo: acme/app, name: laptop, labels: [self-hosted, linux], status: online}]
`);
  });
  afterAll(() => gh.stop());

  it('walks runs and jobs with octokit.paginate over the link header', async () => {
    const { octokit } = octokitFor(gh.url, gh.token);
    for (let i = 0; i < 5; i++) gh.sim.queueRun('acme/app', `W${i}`, [1, 2, 3].map(() => ({ labels: ['self-hosted', 'gpu'], durationMs: 60_000 })), false);
    const runs = await octokit.paginate(octokit.actions.listWorkflowRunsForRepo, { owner, repo, status: 'queued', per_page: 2 });
    expect(runs.map((r) => r.name).sort()).toEqual(['W0', 'W1', 'W2', 'W3', 'W4']);
    expect(recorded(gh, 'GET /repos/{owner}/{repo}/actions/runs').count).toBe(3);
    const jobs = await octokit.paginate(octokit.actions.listJobsForWorkflowRun, { owner, repo, run_id: runs[0]!.id, filter: 'latest', per_page: 2 });
    expect(jobs).toHaveLength(3);
    expect(jobs.every((j) => j.status === 'queued' && j.runner_id === null)).toBe(true);
    const one = await octokit.actions.getJobForWorkflowRun({ owner, repo, job_id: jobs[1]!.id });
    expect(one.data.labels).toEqual(['self-hosted', 'gpu']);
  });

  it('mints a JIT config, gets 409 for the same name, issues a registration token, deletes runners', async () => {
    const { octokit } = octokitFor(gh.url, gh.token);
    const minted = await octokit.actions.generateRunnerJitconfigForRepo({ owner, repo, name: 'pvr-200-a1b2', runner_group_id: 1, labels: ['self-hosted', 'linux', 'x64'] });
    expect(minted.status).toBe(201);
    expect(minted.data.runner.labels.map((l) => l.name)).toEqual(['self-hosted', 'linux', 'x64']);
    const dup = await failure(octokit.actions.generateRunnerJitconfigForRepo({ owner, repo, name: 'pvr-200-a1b2', runner_group_id: 1, labels: ['self-hosted'] }));
    expect(dup.status).toBe(409);
    expect(dup.message).toContain('Already exists - A runner with the name pvr-200-a1b2 already exists.');

    const token = await octokit.actions.createRegistrationTokenForRepo({ owner, repo });
    expect(token.status).toBe(201);
    expect(token.data.token).toMatch(/^[A-Z0-9]{29}$/);

    const byName = await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo, name: 'pvr-200-a1b2' });
    expect(byName.data.runners.map((r) => r.id)).toEqual([minted.data.runner.id]);
    const deleted = await octokit.actions.deleteSelfHostedRunnerFromRepo({ owner, repo, runner_id: minted.data.runner.id });
    expect(deleted.status).toBe(204);
    expect((await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo, name: 'pvr-200-a1b2' })).data.total_count).toBe(0);

    // The laptop takes a job that fits it and is then busy: deleting it is refused.
    gh.sim.queueRun('acme/app', 'Lint', [{ labels: ['self-hosted', 'linux'], durationMs: 3_600_000 }], false);
    await until(gh.ctx, () => gh.sim.runnerBusy('laptop') === true);
    const laptop = (await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo, name: 'laptop' })).data.runners[0]!;
    expect(laptop.busy).toBe(true);
    const busy = await failure(octokit.actions.deleteSelfHostedRunnerFromRepo({ owner, repo, runner_id: laptop.id }));
    expect(busy.status).toBe(422);
    expect(busy.message).toContain('is currently running a job and cannot be deleted');
    expect(gh.sim.leaks().registrations).toEqual([]);
  });

  it('answers a conditional GET with 304 that costs no rate limit', async () => {
    const { octokit } = octokitFor(gh.url, gh.token);
    const seen: Array<{ status: number; remaining: string | undefined }> = [];
    let etag: string | undefined;
    let cached: unknown;
    octokit.hook.wrap('request', async (request, options) => {
      if (etag) options.headers = { ...options.headers, 'if-none-match': etag };
      try {
        const res = await request(options);
        etag = res.headers.etag;
        cached = res;
        seen.push({ status: res.status, remaining: res.headers['x-ratelimit-remaining'] as string | undefined });
        return res;
      } catch (e) {
        if (e instanceof RequestError && e.status === 304) {
          seen.push({ status: 304, remaining: e.response?.headers['x-ratelimit-remaining'] as string | undefined });
          return cached as Awaited<ReturnType<typeof request>>;
        }
        throw e;
      }
    });
    const before = recorded(gh, 'GET /repos/{owner}/{repo}');
    const first = await octokit.repos.get({ owner, repo });
    const second = await octokit.repos.get({ owner, repo });
    expect(second.data).toEqual(first.data);
    expect(seen.map((s) => s.status)).toEqual([200, 304]);
    expect(seen[1]!.remaining).toBe(seen[0]!.remaining); // the 304 did not use any budget
    const after = recorded(gh, 'GET /repos/{owner}/{repo}');
    expect(after.count - before.count).toBe(2);
    expect(after.counted - before.counted).toBe(1);
    expect(after.notModified - before.notModified).toBe(1);
  });
});

describe('rate limits and faults through octokit', () => {
  it('calls onRateLimit with the wait until x-ratelimit-reset when the budget is spent', async () => {
    // Scenario epoch = wall clock at speed 1, because the plugin measures the reset against Date.now().
    const gh = await startGithub('github:\n  repos: [acme/app]\n  rate_limit: {limit: 3, window: 1h}', undefined, { speed: 1, startEpoch: Date.now() });
    try {
      const { octokit, events } = octokitFor(gh.url, gh.token);
      for (let i = 0; i < 3; i++) await octokit.repos.get({ owner, repo });
      const err = await failure(octokit.repos.get({ owner, repo }));
      expect(err.status).toBe(403);
      expect(err.response?.headers['x-ratelimit-remaining']).toBe('0');
      expect(err.message).toMatch(/^API rate limit exceeded for installation ID \d+\./);
      expect(spec.errors('GET', '/repos/{owner}/{repo}', 403, err.response?.data)).toEqual([]);
      const reset = Number(err.response?.headers['x-ratelimit-reset']);
      const expected = Math.ceil((reset * 1000 - Date.now()) / 1000) + 1;
      expect(events).toHaveLength(1);
      expect(events[0]!.kind).toBe('primary');
      expect(Math.abs(events[0]!.retryAfter - expected)).toBeLessThanOrEqual(1);
      expect(events[0]!.retryAfter).toBeGreaterThan(3590);
      expect(recorded(gh, 'GET /repos/{owner}/{repo}')).toMatchObject({ count: 4, counted: 3, errors: 1 });
      // GET /rate_limit still answers, and shows the spent budget.
      const rl = await octokit.rateLimit.get();
      expect(rl.data.resources.core).toMatchObject({ limit: 3, remaining: 0, used: 3, reset });
    } finally {
      await gh.stop();
    }
  });

  it('forces one exhaustion window at exhaust_at, then starts a fresh window', async () => {
    const gh = await startGithub('github:\n  repos: [acme/app]\n  rate_limit: {limit: 100, exhaust_at: 0s, exhaust_for: 10s}');
    try {
      const { octokit, events } = octokitFor(gh.url, gh.token);
      const err = await failure(octokit.repos.get({ owner, repo }));
      expect(err.status).toBe(403);
      const reset = Number(err.response?.headers['x-ratelimit-reset']);
      // in real time (the client's frame): 10 scenario seconds at the test's speed
      expect(reset).toBe(Math.ceil(gh.ctx.clock.wallEpochAt(10_000) / 1000));
      expect(events.map((e) => e.kind)).toEqual(['primary']);
      await until(gh.ctx, () => gh.ctx.clock.nowMs() > 10_000);
      const ok = await octokit.repos.get({ owner, repo });
      expect(ok.headers['x-ratelimit-remaining']).toBe('99');
    } finally {
      await gh.stop();
    }
  });

  it('calls onSecondaryRateLimit with retry-after, and keeps refusing until the block ends', async () => {
    const gh = await startGithub(`
github:
  repos: [acme/app]
  faults:
    secondary_rate_limit_statuses: [403]
    secondary_rate_limit_no_retry_after_rate: 0
    endpoints:
      'GET /repos/{owner}/{repo}/actions/runners': {secondary_rate_limit_rate: 1}
`);
    try {
      const { octokit, events } = octokitFor(gh.url, gh.token);
      await octokit.repos.get({ owner, repo }); // other endpoints are fine until a limit trips
      const err = await failure(octokit.actions.listSelfHostedRunnersForRepo({ owner, repo }));
      expect(err.status).toBe(403);
      expect(err.message).toContain('You have exceeded a secondary rate limit');
      expect(spec.errors('GET', '/repos/{owner}/{repo}', 403, err.response?.data)).toEqual([]);
      expect(events).toEqual([expect.objectContaining({ kind: 'secondary', retryAfter: 60 })]);
      // While blocked, every endpoint is refused; retry-after counts down in scenario seconds.
      const askedAt = gh.ctx.clock.nowMs();
      const blocked = await failure(octokit.repos.get({ owner, repo }));
      expect(blocked.status).toBe(403);
      const wait = Number(blocked.response?.headers['retry-after']);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(60);
      expect(events[1]?.kind).toBe('secondary');
      await until(gh.ctx, () => gh.ctx.clock.nowMs() > askedAt + wait * 1000 + 2_000);
      expect((await octokit.repos.get({ owner, repo })).status).toBe(200);
      expect(recorded(gh, 'GET /repos/{owner}/{repo}')).toMatchObject({ count: 3, errors: 1 });
    } finally {
      await gh.stop();
    }
  });

  it('injects server errors that plugin-retry retries, with GitHub-like bodies', async () => {
    const gh = await startGithub(`
github:
  repos: [acme/app]
  faults:
    http_error_bodies: [json]
    endpoints:
      'GET /repos/{owner}/{repo}': {http_error_rate: 1}
`);
    try {
      const { octokit } = octokitFor(gh.url, gh.token, { retries: 2 });
      const err = await failure(octokit.repos.get({ owner, repo }));
      expect([500, 502]).toContain(err.status);
      expect(err.response?.data).toMatchObject({ message: 'Server Error' });
      expect(recorded(gh, 'GET /repos/{owner}/{repo}')).toMatchObject({ count: 3, errors: 3 });
      expect((await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo })).status).toBe(200);
    } finally {
      await gh.stop();
    }
  });
});
