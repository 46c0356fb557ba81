/**
 * GitHub answers less kind than JSON 403s, through the daemon's own client stack
 * (createGithubClient: Octokit with plugin-throttling, plugin-retry, the ETag cache and the
 * rate-limit gate) against the simulated GitHub, on a clock the test moves:
 * - 5xx with an HTML page or nothing as body: retried, then one short line, never the page;
 * - secondary limits answered 403 or 429, with or without retry-after, and the primary limit:
 *   nothing is sent before the time GitHub's docs say ("Rate limits for the REST API").
 */
import type { Clock } from '../src/clock.js';
import type { Config } from '../src/config/types.js';
import { Observer } from '../src/daemon/observe.js';
import { asRateLimited, RateLimitedError } from '../src/daemon/rate-limit.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { GithubBackoffError } from '../src/github/rate-gate.js';
import { memoryLogger } from '../src/log.js';
import { GithubSim } from '../src/sim/github/index.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';
import { FakeProxmox, FakeSnippets } from './helpers/fakes.js';
import { ManualClock } from './helpers/manual-clock.js';
import { ubuntu } from './helpers/planner-fixtures.js';

const SCALE = 50; // the daemon divides retry-after and its minute by this, as in the demo
const REPO = { kind: 'repo', owner: 'acme', repo: 'app' } as const;

async function start(faults: string) {
  const scenario = parseScenario(`
proxmox: {nodes: [{name: pve1}], templates: [{name: tpl, vmid: 9000, node: pve1}]}
github:
  repos: [acme/app]
  faults:
${faults.replace(/^/gm, '    ')}
workload: []
`);
  const clock = new ManualClock();
  const recorder = new Recorder(() => clock.nowMs(), undefined, true);
  const sim = new GithubSim({ scenario, clock, rng: new Rng(7), recorder });
  const { url, token } = await sim.start();
  // The daemon's clock in the frame the simulator states x-ratelimit-reset in (real epoch ms).
  const daemonClock: Clock = { now: () => clock.wallEpochAt(clock.nowMs()), sleep: async () => {} };
  const { log, lines } = memoryLogger({ level: 'debug' });
  const gh = new OctokitGithubApi(createGithubClient({ apiUrl: url, auth: { kind: 'token', token }, log, timeScale: SCALE, clock: daemonClock }));
  const sent = (endpoint: string) => recorder.requests.get(`github ${endpoint}`)?.count ?? 0;
  const fail = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as Error & { status?: number });
  return { sim, clock, daemonClock, gh, lines, log, sent, fail, stop: () => sim.stop().then(() => clock.stop()) };
}

const RUNS = 'GET /repos/{owner}/{repo}/actions/runs';
const RUNNERS = 'GET /repos/{owner}/{repo}/actions/runners';

describe('GitHub 5xx bodies as GitHub sends them', () => {
  it.each([
    ['html', /^GitHub answered (502 with an HTML error page \("Unicorn! · GitHub"\)|504 with an HTML error page \("504 Gateway Time-out"\)) to GET \/repos\/acme\/app\/actions\/runs$/],
    ['empty', /^GitHub answered (502|503) with an empty body to GET \/repos\/acme\/app\/actions\/runs$/],
    ['json', /^Server Error - https:\/\/docs\.github\.com\/rest$/],
  ])('%s: retried twice, then one short line naming status and endpoint', async (kind, message) => {
    const t = await start(`http_error_bodies: [${kind}]\nendpoints: {'${RUNS}': {http_error_rate: 1}}`);
    try {
      const err = await t.fail(t.gh.listRuns('acme', 'app', 'queued'));
      expect(err.message).toMatch(message);
      expect(t.sent(RUNS)).toBe(3);
      expect(t.lines.filter((l) => /<html|<!DOCTYPE|<\/|Unicorn!<|<style/i.test(l))).toEqual([]);
      expect((await t.gh.listRunners(REPO)).items).toEqual([]); // the client is not held by a 5xx
    } finally {
      await t.stop();
    }
  });

  it('the observer skips the failed listing for this tick and logs it in one short line', async () => {
    const t = await start(`http_error_bodies: [html]\nendpoints: {'${RUNS}': {http_error_rate: 1}}`);
    try {
      const calls: string[] = [];
      const config: Config = { file: 'pools.yaml', path: '/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 10, pools: [ubuntu] };
      const observer = new Observer({ config, github: t.gh, proxmox: new FakeProxmox(calls), snippets: new FakeSnippets(calls), log: t.log });
      const o = await observer.observe(t.daemonClock.now(), { creating: [], busyVmids: new Set(), deletingRunners: new Set(), recentlyFreed: new Map(), seenOnline: new Set(), disowned: new Set() });
      expect(o.jobScopesFailed).toEqual(['repo:acme/app']);
      const warned = t.lines.filter((l) => l.includes('list jobs of'));
      expect(warned).toHaveLength(1);
      expect(warned[0]!.length).toBeLessThan(300);
      expect(warned[0]).toMatch(/GitHub answered (502|504) with an HTML error page/);
    } finally {
      await t.stop();
    }
  });
});

describe('rate limits: nothing is sent before GitHub says', () => {
  const secondary = (statuses: string, noRetryAfter: number) =>
    `secondary_rate_limit_statuses: [${statuses}]\nsecondary_rate_limit_no_retry_after_rate: ${noRetryAfter}\nendpoints: {'${RUNNERS}': {secondary_rate_limit_rate: 1}}`;

  it.each([['403'], ['429']])('secondary %s with retry-after: held exactly retry-after, then free', async (status) => {
    const t = await start(secondary(status, 0));
    try {
      const asked = t.daemonClock.now();
      const err = await t.fail(t.gh.listRunners(REPO));
      expect(err).toBeInstanceOf(GithubBackoffError);
      expect(err.status).toBe(Number(status));
      const held = (err as GithubBackoffError).resumeAt - asked;
      expect(held).toBe((60 * 1000) / SCALE); // retry-after: 60 (scenario s)
      expect(t.sent(RUNNERS)).toBe(1); // neither plugin retried it early
      expect(t.lines.filter((l) => l.includes('rate limit'))).toEqual([expect.stringMatching(new RegExp(`secondary rate limit \\(${status} on GET /repos/acme/app/actions/runners, retry-after 60s\\)`))]);
      // Any other call meanwhile is refused here, not sent.
      expect(await t.fail(t.gh.listRuns('acme', 'app', 'queued'))).toBeInstanceOf(GithubBackoffError);
      expect(t.sent(RUNS)).toBe(0);
      // The loop sees a rate limit and waits until then.
      expect(asRateLimited(err, asked)).toEqual(new RateLimitedError(asked + held));
      t.clock.advance(60_000 / SCALE - 1); // the daemon's clock moves in step (speed 1 manual clock)
      expect(await t.fail(t.gh.listRuns('acme', 'app', 'queued'))).toBeInstanceOf(GithubBackoffError);
      t.clock.advance(1);
      // free again for the daemon; the simulated block (60 scenario s) is not over yet, so GitHub refuses once more
      const again = await t.fail(t.gh.listRuns('acme', 'app', 'queued'));
      expect(again).toBeInstanceOf(GithubBackoffError);
      expect(t.sent(RUNS)).toBe(1);
      t.clock.advance(60_000);
      expect((await t.gh.listRuns('acme', 'app', 'queued')).items).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it.each([['403'], ['429']])('secondary %s without retry-after: at least a minute, growing while it keeps answering', async (status) => {
    const t = await start(secondary(status, 1));
    try {
      const waits: number[] = [];
      for (let i = 0; i < 3; i++) {
        const asked = t.daemonClock.now();
        const err = await t.fail(t.gh.listRunners(REPO));
        expect(err).toMatchObject({ status: Number(status) });
        waits.push((err as GithubBackoffError).resumeAt - asked);
        t.clock.advance((err as GithubBackoffError).resumeAt - asked);
        t.clock.advance(60_000); // let the simulated block end; the runners endpoint trips a new one
      }
      expect(waits).toEqual([60_000, 120_000, 240_000].map((ms) => ms / SCALE));
      expect(t.sent(RUNNERS)).toBe(3);
      expect(t.lines.filter((l) => l.includes('no retry-after'))).toHaveLength(3);
      // A success ends the streak: the next limit waits a minute again.
      expect((await t.gh.listRuns('acme', 'app', 'queued')).items).toEqual([]);
      const asked = t.daemonClock.now();
      const err = await t.fail(t.gh.listRunners(REPO));
      expect((err as GithubBackoffError).resumeAt - asked).toBe(60_000 / SCALE);
    } finally {
      await t.stop();
    }
  });

  it('the primary limit (403, remaining 0, no retry-after): held until x-ratelimit-reset', async () => {
    const t = await start('{}');
    await t.stop();
    const scenario = `
proxmox: {nodes: [{name: pve1}], templates: [{name: tpl, vmid: 9000, node: pve1}]}
github: {repos: [acme/app], rate_limit: {limit: 100, exhaust_at: 0s, exhaust_for: 10s}}
workload: []
`;
    const clock = new ManualClock();
    const recorder = new Recorder(() => clock.nowMs(), undefined, true);
    const sim = new GithubSim({ scenario: parseScenario(scenario), clock, rng: new Rng(7), recorder });
    const { url, token } = await sim.start();
    try {
      const daemonClock: Clock = { now: () => clock.wallEpochAt(clock.nowMs()), sleep: async () => {} };
      const { log, lines } = memoryLogger();
      const gh = new OctokitGithubApi(createGithubClient({ apiUrl: url, auth: { kind: 'token', token }, log, timeScale: SCALE, clock: daemonClock }));
      const err = await gh.listRunners(REPO).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GithubBackoffError);
      const reset = Math.ceil(clock.wallEpochAt(10_000) / 1000) * 1000;
      expect((err as GithubBackoffError).resumeAt).toBe(reset + 1000);
      expect(lines.filter((l) => l.includes('primary rate limit'))).toHaveLength(1);
      clock.advance(reset + 1000 - daemonClock.now());
      expect((await gh.listRunners(REPO)).items).toEqual([]);
      expect(recorder.requests.get(`github ${RUNNERS}`)).toMatchObject({ count: 2, errors: 1 });
    } finally {
      await sim.stop();
      clock.stop();
    }
  });

  it('an error that is not a rate limit (404) passes through untouched and holds nothing', async () => {
    const t = await start('{}');
    try {
      const err = await t.fail(t.gh.repoAccess('acme', 'nope'));
      expect(err.status).toBe(404);
      expect(err).not.toBeInstanceOf(GithubBackoffError);
      expect((await t.gh.listRunners(REPO)).items).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});
