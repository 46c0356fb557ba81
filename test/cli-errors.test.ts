/**
 * A plain network error is one line on stderr (what failed, the URL without query or credentials,
 * what to check) and exit 1, from every command that talks to Proxmox or GitHub.
 */
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { describeFailure } from '../src/cli/failure.js';
import { createGithubClient } from '../src/github/octokit.js';
import { memoryLogger } from '../src/log.js';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

let dir: string;
let pools: string;
beforeAll(() => ({ dir, pools } = shippedPools()));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('an unreachable Proxmox', () => {
  it.each([{ args: ['once'] }, { args: ['once', '--dry-run'] }, { args: ['status'] }])('$args: one line naming the URL and what to check, exit 1', async ({ args }) => {
    const port = await closedPort();
    const base = `http://127.0.0.1:${port}/api2/json`;
    const r = await runCli(args, { ...validEnv(pools), PROXMOX_URL: base, GITHUB_API_URL: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(1);
    const what = args[0] === 'status' ? 'status' : 'once';
    expect(lines(r.stderr)).toEqual([
      `pve-runners: ${what}: cannot reach Proxmox: GET ${base}/cluster/resources failed (connect ECONNREFUSED 127.0.0.1:${port}) — check PROXMOX_URL (${base}), that the node is up, and that this host can reach its port (firewall, proxy, DNS)`,
    ]);
  });

  it('on a port fetch refuses outright (127.0.0.1:1)', async () => {
    const r = await runCli(['once'], validEnv(pools));
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      'pve-runners: once: cannot reach Proxmox: GET http://127.0.0.1:1/api2/json/cluster/resources failed (bad port) — check PROXMOX_URL (http://127.0.0.1:1/api2/json), that the node is up, and that this host can reach its port (firewall, proxy, DNS)',
    ]);
  });
});

describe('an unreachable GitHub', () => {
  it('is named with the URL without its query, and what to check', async () => {
    const port = await closedPort();
    const { log } = memoryLogger();
    const gh = createGithubClient({ apiUrl: `http://127.0.0.1:${port}`, auth: { kind: 'token', token: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' }, log });
    const e = await gh.request('GET /repos/{owner}/{repo}/actions/runners', { owner: 'acme', repo: 'app', per_page: 100 }).then(() => undefined, (err: unknown) => err);
    // The cause reads "Unknown Error" here, not as in the binary: under jest's VM modules fetch's
    // TypeError is from another realm, so Octokit's `instanceof Error` misses it.
    const line = describeFailure('once', e, { proxmoxUrl: 'https://pve1:8006/api2/json', githubUrl: `http://127.0.0.1:${port}` });
    expect(line).toMatch(new RegExp(`^once: cannot reach GitHub: GET http://127\\.0\\.0\\.1:${port}/repos/acme/app/actions/runners failed \\(.+\\) — check GITHUB_API_URL \\(http://127\\.0\\.0\\.1:${port}\\) and that this host can reach it \\(firewall, proxy, DNS\\)$`));
    expect(line).not.toContain('per_page');
  });

  it('leaves errors it cannot name alone (a bug keeps its stack)', () => {
    expect(describeFailure('once', new TypeError('x is undefined'), { proxmoxUrl: 'a', githubUrl: 'b' })).toBeUndefined();
  });
});
