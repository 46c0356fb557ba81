/**
 * GitHub's secondary rate limits as the simulator enforces them, seen through real HTTP requests to
 * the simulated GitHub on a clock only the test moves ("Rate limits for the REST API": 900 points a
 * minute, GET 1 point, mutations 5; 100 concurrent requests; 403 or 429 with retry-after; the penalty
 * for continuing while limited).
 */
import { formatReport } from '../src/cli/report-text.js';
import { GithubSim } from '../src/sim/github/index.js';
import { SECONDARY_DOCS } from '../src/sim/github/http/errors.js';
import { Recorder } from '../src/sim/recorder.js';
import { buildReport } from '../src/sim/report.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario, ScenarioError } from '../src/sim/scenario.js';
import { ManualClock } from './helpers/manual-clock.js';

const MIN = 60_000;
const REPO = '/repos/acme/app';
const REG_TOKEN = '/repos/acme/app/actions/runners/registration-token';

function scenarioText(github: string): string {
  return `
proxmox: {nodes: [{name: pve1}], templates: [{name: tpl, vmid: 9000, node: pve1}]}
github:
  repos: [acme/app]
${github.replace(/^/gm, '  ')}
workload: []
`;
}

async function start(github = '', status: 403 | 429 = 403) {
  const scenario = parseScenario(scenarioText(`faults: {secondary_rate_limit_statuses: [${status}], secondary_rate_limit_no_retry_after_rate: 0}\n${github}`));
  const clock = new ManualClock();
  const recorder = new Recorder(() => clock.nowMs(), undefined, true);
  const sim = new GithubSim({ scenario, clock, rng: new Rng(7), recorder });
  const { url, token } = await sim.start();
  const send = (path = REPO, init: { method?: string; headers?: Record<string, string>; auth?: string } = {}) =>
    fetch(url + path, { method: init.method ?? 'GET', headers: { authorization: `token ${init.auth ?? token}`, accept: 'application/vnd.github+json', ...init.headers } })
      .then(async (r) => ({ status: r.status, headers: r.headers, body: r.status === 304 ? undefined : ((await r.json()) as { message?: string; documentation_url?: string }) }));
  /** `n` requests, 50 at a time (under the concurrency limit); their statuses */
  const burst = async (n: number, one: () => ReturnType<typeof send>) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i += 50) statuses.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, one))).map((r) => r.status));
    return statuses;
  };
  const post = () => send(REG_TOKEN, { method: 'POST' });
  return { sim, scenario, clock, recorder, send, post, burst, stop: () => sim.stop().then(() => clock.stop()) };
}
type Sim = Awaited<ReturnType<typeof start>>;

const only = (statuses: number[]) => [...new Set(statuses)];

async function expectLimited(t: Sim, r: Awaited<ReturnType<Sim['send']>>, status: number, retryAfter: number) {
  expect(r.status).toBe(status);
  expect(r.body?.message).toBe('You have exceeded a secondary rate limit. Please wait a few minutes before you try again.');
  expect(r.body?.documentation_url).toBe(SECONDARY_DOCS);
  expect(r.headers.get('retry-after')).toBe(String(retryAfter));
  // not the primary limit's answer: the hourly budget is far from spent
  expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
}

describe('points per minute', () => {
  it('900 GET points in a minute pass; the next request is refused 403 with retry-after', async () => {
    const t = await start();
    try {
      expect(only(await t.burst(900, () => t.send()))).toEqual([200]);
      await expectLimited(t, await t.send(), 403, 60);
      expect(t.recorder.githubSecondary).toEqual({ limited: 1, peakPointsPerMinute: 900, peakInFlight: expect.any(Number) });
      // what benches and e2e tests read: demo --json and the text report
      const report = buildReport({
        scenario: 'inline', speed: 1, nowMs: t.clock.nowMs(), finished: true, recorder: t.recorder, isUnmatched: () => false,
        leaks: { vms: [], registrations: [], snippets: [] }, scenarioModel: t.scenario, githubPickupS: () => undefined, epochOriginMs: 0,
      });
      expect(report.github).toMatchObject({ requests: 901, secondary_limited: 1, peak_points_per_minute: 900 });
      expect(formatReport(report)).toContain('answered 304, 1 refused by secondary limits (peak 900 points/min,');
    } finally {
      await t.stop();
    }
  });

  it('conditional requests answered 304 and GET /rate_limit spend points, though free against the primary limit', async () => {
    const t = await start();
    try {
      const first = await t.send();
      const etag = first.headers.get('etag')!;
      expect(only(await t.burst(898, () => t.send(REPO, { headers: { 'if-none-match': etag } })))).toEqual([304]);
      expect((await t.send('/rate_limit')).status).toBe(200);
      const refused = await t.send(REPO, { headers: { 'if-none-match': etag } });
      await expectLimited(t, refused, 403, 60);
      expect(refused.headers.get('x-ratelimit-used')).toBe('1'); // only the first GET counted against the primary limit
    } finally {
      await t.stop();
    }
  });

  it('a mutation costs 5 points: 895 GETs and one POST fill the minute', async () => {
    const t = await start();
    try {
      expect(only(await t.burst(895, () => t.send()))).toEqual([200]);
      expect((await t.post()).status).toBe(201); // 900
      await expectLimited(t, await t.send(), 403, 60);
    } finally {
      await t.stop();
    }
  });

  it('180 POSTs fill the minute; 899 GETs leave no room for a POST', async () => {
    const posts = await start();
    try {
      expect(only(await posts.burst(180, posts.post))).toEqual([201]);
      await expectLimited(posts, await posts.send(), 403, 60);
    } finally {
      await posts.stop();
    }
    const gets = await start();
    try {
      expect(only(await gets.burst(899, () => gets.send()))).toEqual([200]);
      await expectLimited(gets, await gets.post(), 403, 60);
    } finally {
      await gets.stop();
    }
  });

  it('the minute slides with the scenario clock: points leave it 60 s after they were spent', async () => {
    const t = await start();
    try {
      expect(only(await t.burst(450, () => t.send()))).toEqual([200]); // t = 0
      t.clock.advance(30_000);
      expect(only(await t.burst(450, () => t.send()))).toEqual([200]); // t = 30 s: 900 in the last minute
      t.clock.advance(30_000);
      // t = 60 s: the first 450 have left; the 450 of t = 30 s are still in it (a fixed minute would have reset them)
      expect(only(await t.burst(450, () => t.send()))).toEqual([200]);
      await expectLimited(t, await t.send(), 403, 60);
    } finally {
      await t.stop();
    }
  });

  it('one millisecond short of the minute the points still count', async () => {
    const t = await start('secondary_limit: {points_per_minute: 20}');
    try {
      expect(only(await t.burst(20, () => t.send()))).toEqual([200]);
      t.clock.advance(MIN - 1);
      await expectLimited(t, await t.send(), 403, 60);
    } finally {
      await t.stop();
    }
  });

  it('scenario-configurable; requests without a valid credential spend no credential\'s points', async () => {
    const t = await start('secondary_limit: {points_per_minute: 10}');
    try {
      expect(only(await t.burst(10, () => t.send()))).toEqual([200]);
      expect((await t.send(REPO, { auth: 'ghp_not-a-token' })).status).toBe(401);
      await expectLimited(t, await t.send(), 403, 60);
    } finally {
      await t.stop();
    }
  });
});

describe('concurrency', () => {
  it('100 requests in flight pass; the 101st is refused with retry-after, and a block begins', async () => {
    const t = await start('timings: {latency: 1s}', 429);
    try {
      const inFlight = async (n: number) => {
        while (t.sim.requestsInFlight() < n) await new Promise((r) => setTimeout(r, 2));
      };
      const first = Array.from({ length: 100 }, () => t.send());
      await inFlight(100); // every one has arrived and waits out its latency
      const extra = t.send();
      await inFlight(101);
      t.clock.advance(1_000);
      expect(only((await Promise.all(first)).map((r) => r.status))).toEqual([200]);
      await expectLimited(t, await extra, 429, 60);
      expect(t.recorder.githubSecondary).toEqual({ limited: 1, peakPointsPerMinute: 100, peakInFlight: 101 });
      expect(t.sim.requestsInFlight()).toBe(0);
    } finally {
      await t.stop();
    }
  });
});

describe('the penalty for continuing while limited', () => {
  // A small minute trips the block quickly; what follows a block does not depend on its size.
  async function blocked(github = '') {
    const t = await start(`secondary_limit: {points_per_minute: 20${github}}`);
    try {
      expect(only(await t.burst(20, () => t.send()))).toEqual([200]);
      await expectLimited(t, await t.send(), 403, 60); // the block begins at t = 0
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  it('a client that waits what retry-after said is let in, with no penalty', async () => {
    const t = await blocked();
    try {
      t.clock.advance(MIN);
      expect((await t.send()).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('a request made during the block is refused and pushes its end to a full block later', async () => {
    const t = await blocked();
    try {
      t.clock.advance(30_000);
      await expectLimited(t, await t.send(), 403, 60); // not 30: the block now ends at 90 s
      t.clock.advance(30_000);
      await expectLimited(t, await t.send(), 403, 60); // at the original end, still blocked (and now until 120 s)
      t.clock.advance(MIN);
      expect((await t.send()).status).toBe(200);
      expect(t.recorder.githubSecondary.limited).toBe(3);
    } finally {
      await t.stop();
    }
  });

  it('the penalty is capped at max_block after the block began', async () => {
    const t = await blocked(', max_block: 3m');
    try {
      const retryAfters: number[] = [];
      for (let at = 30_000; at < 180_000; at += 30_000) {
        t.clock.advance(30_000);
        const r = await t.send();
        expect(r.status).toBe(403);
        retryAfters.push(Number(r.headers.get('retry-after')));
      }
      expect(retryAfters).toEqual([60, 60, 60, 60, 30]); // at 150 s the cap (180 s) is nearer than a full block
      t.clock.advance(30_000);
      expect((await t.send()).status).toBe(200); // 180 s
    } finally {
      await t.stop();
    }
  });
});

describe('github.secondary_limit in the scenario', () => {
  it('defaults to GitHub\'s limits', () => {
    expect(parseScenario(scenarioText('')).github.secondaryLimit).toEqual({ pointsPerMinute: 900, concurrency: 100, blockMs: 60_000, maxBlockMs: 15 * MIN });
    expect(parseScenario(scenarioText('secondary_limit: {points_per_minute: 300, concurrency: 5, block: 2m, max_block: 1h}')).github.secondaryLimit)
      .toEqual({ pointsPerMinute: 300, concurrency: 5, blockMs: 2 * MIN, maxBlockMs: 60 * MIN });
  });

  it.each([
    ['secondary_limit: {points_per_minute: 0}', /github\.secondary_limit\.points_per_minute: must be >= 1/],
    ['secondary_limit: {concurency: 5}', /github\.secondary_limit\.concurency: unknown key/],
    ['secondary_limit: {block: 2m, max_block: 1m}', /github\.secondary_limit\.max_block: 1m is shorter than block \(2m\)/],
  ])('refuses %s, naming the key', (yaml, problem) => {
    let err: unknown;
    try {
      parseScenario(scenarioText(yaml), 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).message).toMatch(/^bad\.yaml: invalid scenario/);
    expect((err as ScenarioError).problems.join('\n')).toMatch(problem);
  });
});
