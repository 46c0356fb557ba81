/**
 * The daemon's own GitHub client (createGithubClient with `auth: {kind: 'app'}`, i.e. the real
 * @octokit/auth-app behind @octokit/rest with throttling and retries) against the simulated GitHub:
 * it trades the App's JWT for one installation token and keeps using it.
 */
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { memoryLogger } from '../src/log.js';
import { GithubSim } from '../src/sim/github/index.js';
import { githubContext, NO_LAG, until } from './helpers/github-sim.js';

const ACCESS_TOKENS = 'github POST /app/installations/{installation_id}/access_tokens';
const SPEED = 50;

const GITHUB = `
github:
  repos: [acme/app]
  orgs: [{name: bigco, repos: [web], runner_groups: [Default, ci]}]
  app: {id: 4242, installation_id: 99}
${NO_LAG}
`;

describe('the daemon\'s GitHub client authenticated as the App', () => {
  it('lists runs and jobs, mints a JIT config and a registration token, and reads its budget with one installation token', async () => {
    // Scenario epoch far from now: JWT and token times are real, whatever the simulation's dates say.
    const ctx = githubContext(GITHUB, undefined, { speed: SPEED, startEpoch: Date.UTC(2030, 0, 1) });
    const sim = new GithubSim(ctx);
    const { url, app, token: staticToken } = await sim.start();
    try {
      const { log, lines } = memoryLogger({ level: 'debug', format: 'json' });
      const gh = new OctokitGithubApi(createGithubClient({
        apiUrl: url, log, timeScale: SPEED,
        auth: { kind: 'app', appId: String(app!.id), privateKey: app!.privateKey, installationId: String(app!.installationId) },
      }));
      sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 60_000 }], false);
      await until(ctx, () => ctx.recorder.jobs.size === 1);

      const runs = await gh.listRuns('acme', 'app', 'queued');
      expect(runs.items).toHaveLength(1);
      const jobs = await gh.listRunJobs('acme', 'app', runs.items[0]!.id);
      expect(jobs.items.map((j) => j.status)).toEqual(['queued']);
      const jit = await gh.generateJitConfig({ kind: 'repo', owner: 'acme', repo: 'app' }, { name: 'pvr-300', labels: ['self-hosted', 'linux'], runnerGroupId: 1 });
      expect(jit.encodedJitConfig.length).toBeGreaterThan(100);
      const orgJit = await gh.generateJitConfig({ kind: 'org', org: 'bigco' }, { name: 'pvr-301', labels: ['self-hosted'], runnerGroupId: await gh.runnerGroupId('bigco', 'ci') });
      expect(orgJit.runnerId).toBeGreaterThan(0);
      const reg = await gh.createRegistrationToken({ kind: 'org', org: 'bigco' });
      expect(reg.token).toMatch(/^[0-9A-Z]{29}$/);
      expect((await gh.listRunners({ kind: 'repo', owner: 'acme', repo: 'app' })).items.map((r) => r.name)).toEqual(['pvr-300']);
      const budget = await gh.rateLimit();
      expect(budget.limit).toBe(5000);
      // An installation token says nothing about admin rights (check's repository probe copes with that).
      expect(await gh.repoAccess('acme', 'app')).toEqual({ fullName: 'acme/app', admin: undefined });

      // One token for all of that: auth-app caches it for its (real-time) hour.
      expect(ctx.recorder.requests.get(ACCESS_TOKENS)).toMatchObject({ count: 1, errors: 0, counted: 0 });
      // And it is a minted installation token, not the static one.
      const minted = sim.issuedSecrets().filter((s) => s.startsWith('ghs_'));
      expect(minted).toHaveLength(1);
      expect(minted[0]).not.toBe(staticToken);
      // Nothing the App holds reaches the client's log, even at debug.
      const secrets = [app!.privateKey, ...app!.privateKey.split('\n').filter((l) => l && !l.startsWith('-----')), ...sim.issuedSecrets()];
      expect(lines.filter((l) => secrets.some((s) => l.includes(s)))).toEqual([]);
    } finally {
      await sim.stop();
      ctx.clock.stop();
    }
  });

  it('a wrong private key fails with GitHub\'s 401, and no token is minted', async () => {
    const ctx = githubContext(GITHUB, undefined, { speed: SPEED });
    const sim = new GithubSim(ctx);
    const otherCtx = githubContext(GITHUB, undefined, { speed: SPEED, seed: 8 });
    const other = new GithubSim(otherCtx);
    const { url, app } = await sim.start();
    const { app: otherApp } = await other.start();
    try {
      const { log } = memoryLogger();
      const gh = new OctokitGithubApi(createGithubClient({
        apiUrl: url, log, timeScale: SPEED,
        auth: { kind: 'app', appId: String(app!.id), privateKey: otherApp!.privateKey, installationId: String(app!.installationId) },
      }));
      await expect(gh.listRuns('acme', 'app', 'queued')).rejects.toMatchObject({ status: 401, message: expect.stringContaining('A JSON web token could not be decoded') });
      expect(ctx.recorder.requests.get(ACCESS_TOKENS)).toMatchObject({ errors: ctx.recorder.requests.get(ACCESS_TOKENS)!.count });
      expect(ctx.recorder.requests.get('github GET /repos/{owner}/{repo}/actions/runs')).toBeUndefined();
      expect(sim.issuedSecrets().filter((s) => s.startsWith('ghs_'))).toEqual([]);
    } finally {
      await Promise.all([sim.stop(), other.stop()]);
      ctx.clock.stop();
      otherCtx.clock.stop();
    }
  });
});
