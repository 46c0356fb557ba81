/**
 * The client's conditional-request cache (src/github/octokit.ts) against the simulated GitHub:
 * repositories listed in turn keep hitting it (304s) only while it holds all their listings. Too
 * small, an LRU evicts each entry just before it is asked again and never hits — the cliff 5,000
 * entries made past ~1,660 repositories, reproduced here with a floor of 100 entries and 40.
 */
import { createGithubClient, sizeCacheFor } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { memoryLogger } from '../src/log.js';
import { NO_LAG, startGithub, type RunningGithub } from './helpers/github-sim.js';

const REPOS = Array.from({ length: 40 }, (_, i) => `acme/r${i}`);

describe('conditional-request cache', () => {
  let gh: RunningGithub;
  beforeAll(async () => {
    gh = await startGithub(`
github:
  repos: [${REPOS.join(', ')}]
${NO_LAG}
`);
  });
  afterAll(() => gh.stop());

  /** Lists every repository as a tick does (queued runs, runs in progress, runners); the 304s of the round. */
  async function round(api: OctokitGithubApi): Promise<number> {
    let unchanged = 0;
    for (const full of REPOS) {
      const [owner, repo] = full.split('/') as [string, string];
      for (const l of [await api.listRuns(owner, repo, 'queued'), await api.listRuns(owner, repo, 'in_progress'), await api.listRunners({ kind: 'repo', owner, repo })]) if (!l.changed) unchanged++;
    }
    return unchanged;
  }

  const client = () => createGithubClient({ apiUrl: gh.url, auth: { kind: 'token', token: gh.token }, log: memoryLogger().log, minCacheEntries: 100 });

  it('smaller than the listings in turn (120 > 100 entries), it never hits', async () => {
    const api = new OctokitGithubApi(client());
    expect(await round(api)).toBe(0);
    expect(await round(api)).toBe(0);
  });

  it('sized from the repositories, every listing of the second round is a 304', async () => {
    const octokit = client();
    sizeCacheFor(octokit, REPOS.length);
    const api = new OctokitGithubApi(octokit);
    expect(await round(api)).toBe(0);
    const before = gh.ctx.recorder.requests.get('github GET /repos/{owner}/{repo}/actions/runs')?.notModified ?? 0;
    expect(await round(api)).toBe(REPOS.length * 3);
    expect((gh.ctx.recorder.requests.get('github GET /repos/{owner}/{repo}/actions/runs')?.notModified ?? 0) - before).toBe(REPOS.length * 2);
  });
});
