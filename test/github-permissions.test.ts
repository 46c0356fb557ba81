/**
 * A GitHub credential missing a permission (scenario `github.permissions`), end to end: the
 * simulator answers as GitHub does (403, its message for a token or an App, and
 * x-accepted-github-permissions); the daemon says once which permission to grant and does not
 * clone a VM every tick that it cannot register; `check` names the permission and the fix.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { systemClock } from '../src/clock.js';
import { loadSettings } from '../src/config/index.js';
import { wire } from '../src/daemon/wire.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { missingPermission } from '../src/github/permissions.js';
import { memoryLogger, Redactor } from '../src/log.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';

const ROOT = resolve(process.cwd());
const SPEED = 20;

function scenario(permissions: string, extra = ''): string {
  return `
seed: 9
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}, {name: pve2, memory_mb: 65536}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: windows-2022-runner-template, vmid: 9002, node: pve1, memory: 8192}
github:
  repos: [acme/app]
  permissions: ${permissions}
${extra}
workload: []
`;
}

const sims: Simulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startSim(text: string): Promise<Simulator> {
  const sim = new Simulator(parseScenario(text), { speed: SPEED, keepEvents: true });
  sims.push(sim);
  await sim.start();
  return sim;
}

function poolsFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvr-perm-'));
  dirs.push(d);
  const f = join(d, 'pools.yaml');
  writeFileSync(f, readFileSync(join(ROOT, 'pools.yaml'), 'utf8').replaceAll('user_data: cloud-init/', `user_data: ${ROOT}/cloud-init/`));
  return f;
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e);

describe('GitHub permissions the credential lacks', () => {
  it('are answered 403 with GitHub\'s message for a token and for an App installation, and the header naming the permission', async () => {
    const sim = await startSim(scenario('{administration: read, actions: none}', '  app: {id: 77, installation_id: 5}'));
    const e = sim.endpoints.github;
    const log = memoryLogger({ format: 'json' }).log;
    const pat = new OctokitGithubApi(createGithubClient({ apiUrl: e.url, auth: { kind: 'token', token: e.token }, log, timeScale: SPEED }));
    const app = new OctokitGithubApi(createGithubClient({
      apiUrl: e.url, log, timeScale: SPEED, auth: { kind: 'app', appId: String(e.app!.id), privateKey: e.app!.privateKey, installationId: String(e.app!.installationId) },
    }));
    const scope = { kind: 'repo', owner: 'acme', repo: 'app' } as const;

    // Administration: read is enough to list runners, not to mint a JIT config.
    expect((await pat.listRunners(scope)).items).toEqual([]);
    const ok = await fetch(`${e.url}/repos/acme/app/actions/runners`, { headers: { authorization: `token ${e.token}` } });
    expect(ok.headers.get('x-accepted-github-permissions')).toBe('administration=read'); // on every answer, as GitHub sends it
    const jit = await failure(pat.generateJitConfig(scope, { name: 'ubuntu-2404-200-abcd', labels: ['self-hosted'], runnerGroupId: 1 }));
    expect(missingPermission(jit)).toEqual({ accepted: 'administration=write', message: 'Resource not accessible by personal access token' });
    const runs = await failure(pat.listRuns('acme', 'app', 'queued'));
    expect(missingPermission(runs)).toEqual({ accepted: 'actions=read', message: 'Resource not accessible by personal access token' });

    const viaApp = await failure(app.createRegistrationToken(scope));
    expect(missingPermission(viaApp)).toEqual({ accepted: 'administration=write', message: 'Resource not accessible by integration' });
    expect(sim.ctx.recorder.requests.get('github POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig')?.errors).toBe(1);
    // Nothing was registered by the refused calls.
    expect(sim.github.leaks().registrations).toEqual([]);
  });

  it('the daemon says once which permission to grant, and clones no VM per tick that it could not register', async () => {
    const sim = await startSim(scenario('{administration: read}'));
    sim.github.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux', 'ubuntu-24.04'], durationMs: 30_000 }], false);
    const pools = poolsFile();
    const settings = loadSettings(daemonEnv(sim.endpoints, pools, SPEED), { cwd: ROOT });
    const { log, lines } = memoryLogger({ format: 'json', level: 'debug' });
    const w = wire(settings, { clock: systemClock, log, redactor: new Redactor(), timeScale: SPEED });
    const skipped = () => lines.some((l) => l.includes('create skipped: GitHub refused registrations in acme/app for a missing permission'));
    // Ticks until the job's VM was cloned, its registration refused, that VM removed, and the next
    // creation for the still-queued job skipped.
    for (let ticks = 0; !skipped(); ticks++) {
      if (ticks > 500) throw new Error(`no creation was skipped:\n${lines.join('\n')}`);
      await w.daemon.tick();
      await w.executor.drain();
      await new Promise((r) => setTimeout(r, 50));
    }
    await w.daemon.tick();
    await w.executor.drain();
    const errors = lines.filter((l) => l.includes('"level":"error"')).map((l) => (JSON.parse(l) as { message: string }).message);
    expect(errors).toEqual([
      expect.stringMatching(/^github: create \(job \d+ .*\) refused \(403 Resource not accessible by personal access token\): the token lacks the repository permission "Administration: Read and write" on acme\/app; fix: grant the fine-grained token the repository permission "Administration: Read and write" on acme\/app/),
    ]);
    expect(lines.filter((l) => l.includes('"level":"warning"'))).toEqual([]);
    // One clone tried, then removed; the ticks after it skip creation instead of cloning a VM to destroy again.
    expect(sim.ctx.recorder.vmsCreated).toBe(1);
    expect(sim.pve.leaks().vms).toEqual([]);
  });

  it('a listing refused every tick is reported once, as an error with the fix, not as a warning per tick', async () => {
    const sim = await startSim(scenario('{actions: none}'));
    const settings = loadSettings(daemonEnv(sim.endpoints, poolsFile(), SPEED), { cwd: ROOT });
    const { log, lines } = memoryLogger({ format: 'json', level: 'debug' });
    const w = wire(settings, { clock: systemClock, log, redactor: new Redactor(), timeScale: SPEED });
    for (let i = 0; i < 3; i++) await w.daemon.tick();
    expect(sim.ctx.recorder.requests.get('github GET /repos/{owner}/{repo}/actions/runs')?.errors).toBeGreaterThanOrEqual(3);
    const notable = lines.filter((l) => /"level":"(error|warning)"/.test(l)).map((l) => (JSON.parse(l) as { message: string }).message);
    expect(notable).toEqual([
      'github: list jobs of repo:acme/app refused (403 Resource not accessible by personal access token): the token lacks the repository permission "Actions: Read-only" on acme/app; fix: grant the fine-grained token the repository permission "Actions: Read-only" on acme/app (GitHub → Settings → Developer settings → Fine-grained tokens → edit), or use a classic token with scope repo (and admin:org for organisations) (said once; repeats are logged at debug level)',
    ]);
  });

  it('check names the missing permission and how to grant it', async () => {
    const sim = await startSim(scenario('{actions: none, administration: none}'));
    const lines: string[] = [];
    const code = await checkCommand({ env: daemonEnv(sim.endpoints, poolsFile(), SPEED), cwd: ROOT, out: (l) => lines.push(l), write: () => {} });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.startsWith('✗ repository acme/app'))).toEqual([
      '✗ repository acme/app: cannot list its self-hosted runners: 403 Resource not accessible by personal access token (GitHub says this needs: administration=read): the token lacks the repository permission "Administration: Read-only" — fix: grant the fine-grained token the repository permission "Administration: Read and write" on acme/app (GitHub → Settings → Developer settings → Fine-grained tokens → edit), or use a classic token with scope repo (and admin:org for organisations)',
      '✗ repository acme/app: cannot list its queued workflow runs: 403 Resource not accessible by personal access token (GitHub says this needs: actions=read): the token lacks the repository permission "Actions: Read-only" — fix: grant the fine-grained token the repository permission "Actions: Read-only" on acme/app (GitHub → Settings → Developer settings → Fine-grained tokens → edit), or use a classic token with scope repo (and admin:org for organisations)',
    ]);
  });

  it('check reads what an App installation was granted, so a missing write shows before any registration is refused', async () => {
    const sim = await startSim(scenario('{administration: read}', '  app: {id: 77, installation_id: 5}'));
    const lines: string[] = [];
    const code = await checkCommand({ env: daemonEnv(sim.endpoints, poolsFile(), SPEED), cwd: ROOT, out: (l) => lines.push(l), write: () => {} });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.includes('GitHub App installation permissions'))).toEqual([
      '✗ GitHub App installation permissions: actions=read, administration=read, organization_self_hosted_runners=write, metadata=read: lacks the repository permission "Administration: Read and write" — fix: give the GitHub App the repository permission "Administration: Read and write" (App settings → Permissions & events), then approve the new permissions on its installation covering acme/app',
    ]);
    // Listing runners needs only read: the repository probe itself passes.
    expect(lines.filter((l) => l.startsWith('✓ repository acme/app'))).toHaveLength(1);
  });
});
