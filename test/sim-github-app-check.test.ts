/**
 * `pve-runners check` with GitHub App credentials, against the simulator's App (environment from
 * `daemonEnv`, as `demo` gives it to the daemon): the GitHub probes pass with an installation
 * token, and fail with GitHub's own message when the key is not the App's.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join, resolve } from 'node:path';
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { loadScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';

const ROOT = resolve(process.cwd());

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function check(env: (e: Record<string, string>) => Record<string, string> = (e) => e) {
  sim = new Simulator(loadScenario(join(ROOT, 'scenarios/github-app.yaml')), { speed: 20 });
  const endpoints = await sim.start();
  const lines: string[] = [];
  const logs: string[] = [];
  const code = await checkCommand({ env: env(daemonEnv(endpoints, join(ROOT, 'pools.yaml'), 20)), cwd: ROOT, out: (l) => lines.push(l), write: (l) => logs.push(l) });
  const leaked = [...lines, ...logs].filter((l) => sim!.secrets().some((s) => s.length >= 8 && l.includes(s)));
  return { code, lines, url: endpoints.github.url, leaked, sim };
}

describe('check with GitHub App credentials', () => {
  it('passes its GitHub probes with the installation token it gets for the App', async () => {
    const r = await check();
    const gh = r.lines.filter((l) => /GitHub credentials|repository/.test(l));
    expect(gh).toEqual([
      expect.stringMatching(new RegExp(`^✓ GitHub credentials \\(GitHub App installation\\) at ${r.url} \\(accepted; rate budget \\d+/5000 requests left`)),
      // An installation token's repository answer says nothing of admin rights; listing runners proved them.
      '✓ repository acme/app (runners readable; runners and queued runs listed)',
    ]);
    expect(r.code).toBe(0);
    expect(r.lines.at(-1)).toMatch(/^✓ \d+ passed, \d+ warning\(s\), 0 failed/);
    expect(r.sim.ctx.recorder.requests.get('github POST /app/installations/{installation_id}/access_tokens')?.count).toBe(1);
    expect(r.leaked).toEqual([]);
  });

  it('fails the credentials probe with GitHub\'s message and the App fix when the key is not the App\'s', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const r = await check((e) => ({ ...e, GITHUB_APP_PRIVATE_KEY: other }));
    expect(r.code).toBe(1);
    const line = r.lines.filter((l) => l.startsWith('✗ GitHub credentials'));
    expect(line).toEqual([
      `✗ GitHub credentials (GitHub App installation) at ${r.url}: rejected: 401 A JSON web token could not be decoded — fix: check GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID against the App's settings page and its installation on ${r.url}`,
    ]);
    expect(r.leaked).toEqual([]);
    for (const l of r.lines) expect(l).not.toContain(other.split('\n')[1]);
  });
});
