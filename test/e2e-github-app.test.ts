/**
 * The daemon authenticated as a GitHub App, end to end: `demo` hands it GITHUB_APP_ID,
 * GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID (no GITHUB_TOKEN), it trades JWTs for an
 * installation token at the simulated GitHub and serves every job with it.
 */
import { daemonEnv } from '../src/cli/demo.js';
import { describeEndpoints } from '../src/cli/sim-command.js';
import type { SimEndpoints } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

const scenario = `
seed: 23
time_limit: 900s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}, {name: pve2, memory_mb: 65536}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9101, node: pve2}
  timings: {clone: 2s, start: 1s, boot: 15s, shutdown: 2s, destroy: 1s}
github:
  repos: [acme/app]
  app: {id: 31337, installation_id: 4711}
workload:
  - {at: 0s, repo: acme/app, jobs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 40s}
  - {at: 10s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-22.04], duration: 30s}
`;

const ACCESS_TOKENS = 'POST /app/installations/{installation_id}/access_tokens';

describe('e2e: the daemon authenticates as a GitHub App', () => {
  it('gets the App\'s settings and no token from demo', () => {
    const e: SimEndpoints = {
      proxmox: { url: 'http://127.0.0.1:1/api2/json', tokenId: 'a@pve!b', tokenSecret: 's', storage: 'local', nodes: ['pve1'], snippetsDirs: { pve1: '/tmp/s' } },
      github: { url: 'http://127.0.0.1:2', token: 'ghs_static', app: { id: 31337, clientId: 'Iv23liX', installationId: 4711, privateKey: '-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n' } },
    };
    const env = daemonEnv(e, '/tmp/pools.yaml', 20);
    expect(env).toMatchObject({ GITHUB_APP_ID: '31337', GITHUB_APP_INSTALLATION_ID: '4711', GITHUB_APP_PRIVATE_KEY: e.github.app!.privateKey });
    expect(env).not.toHaveProperty('GITHUB_TOKEN');
    const { app: _app, ...tokenOnly } = e.github;
    expect(daemonEnv({ ...e, github: tokenOnly }, '/tmp/pools.yaml', 20)).toMatchObject({ GITHUB_TOKEN: 'ghs_static' });
    // `pve-runners sim` prints the same, snake_case, for any other client.
    expect(describeEndpoints(e).github).toEqual({ url: e.github.url, token: 'ghs_static', app: { id: 31337, client_id: 'Iv23liX', installation_id: 4711, private_key: e.github.app!.privateKey } });
    expect(describeEndpoints({ ...e, github: tokenOnly }).github).toEqual({ url: e.github.url, token: 'ghs_static' });
  });

  it('serves every job with an installation token, leaks nothing, and never logs the key, a JWT or a token', async () => {
    // A GITHUB_TOKEN inherited from the caller's environment must not reach the daemon beside the App's settings.
    const { report, logs, secrets } = await runE2e(scenario, { baseEnv: { ...process.env, GITHUB_TOKEN: 'ghp_inherited0000000000000000000000000000' } });
    expect(report.finished).toBe(true);
    expect(report.jobs.total).toBe(6);
    expect(report.jobs.completed).toBe(6);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    // One installation token serves the whole run (auth-app keeps it for its hour).
    expect(report.github.by_endpoint[ACCESS_TOKENS]).toBe(1);
    expect(report.github.by_endpoint['POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig']).toBeGreaterThanOrEqual(6);
    // The secrets looked for include what the App used: key lines, the accepted JWT, the minted token.
    expect(secrets.some((s) => s.startsWith('ghs_') && s !== secrets[1])).toBe(true);
    expect(secrets.some((s) => s.split('.').length === 3 && s.startsWith('eyJ'))).toBe(true);
    expect(secrets.filter((s) => /^[A-Za-z0-9+/=]{64}$/.test(s)).length).toBeGreaterThan(20);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 240_000);
});
