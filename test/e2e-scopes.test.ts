import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leakedSecrets, ROOT, runE2e, zeroLeaks } from './helpers/e2e.js';

/** pools.yaml for an organisation plus one repository, with one pool registering by token. */
function poolsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pvr-scopes-'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(
    file,
    `github:
  repos: [solo/tool]
  orgs: [{name: acme, runner_group: ci}]
max_total_runners: 6
defaults:
  node: pve1
  boot_timeout: 5m
  # GitHub may give a plain linux job to a 'legacy' runner (it has every label the job asks for);
  # the linux runner made for that job then idles, and is removed after this.
  idle_timeout: 1m
pools:
  - name: linux
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64]
    vmid_range: [300, 309]
    max_runners: 4
    user_data: ${join(ROOT, 'cloud-init', 'ubuntu-2404.yaml')}
  - name: legacy
    template: ubuntu-2204-runner-template
    labels: [self-hosted, linux, x64, legacy]
    vmid_range: [310, 314]
    max_runners: 2
    registration: token
    user_data: ${join(ROOT, 'cloud-init', 'ubuntu-2204.yaml')}
`,
  );
  return file;
}

const scenario = `
seed: 19
time_limit: 900s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
  timings: {clone: 2s, start: 1s, boot: 15s, shutdown: 2s, destroy: 1s}
github:
  repos: [solo/tool]
  orgs: [{name: acme, repos: [web, api], runner_groups: [Default, ci]}]
workload:
  - {at: 0s, repo: acme/web, jobs: 3, labels: [self-hosted, linux], duration: 30s}
  - {at: 5s, repo: acme/api, jobs: 2, labels: [self-hosted, linux, legacy], duration: 30s}
  - {at: 10s, repo: solo/tool, jobs: 2, labels: [self-hosted, Linux], duration: 30s}
`;

type Registered = Map<string, { scope: string; group: string }>;
const expectedHome = (scope: string) => (scope === 'acme' ? { scope: 'acme', group: 'ci' } : { scope: 'solo/tool', group: 'Default' });

describe('e2e: organisation and repository scopes, JIT and registration tokens', () => {
  // every runner the simulated GitHub registered, with its scope and runner group; job → repo by runner
  const registered: Registered = new Map();
  const jobRepo = new Map<string, string>();
  let run: Awaited<ReturnType<typeof runE2e>>;
  beforeAll(async () => {
    run = await runE2e(scenario, {
      pools: poolsFile(),
      maxSettleTicks: 30,
      inspect: (s) => {
        for (const e of s.ctx.recorder.events) {
          const m = /^runner (\S+) registered \((\S+), group (.+)\)$/.exec(e.what);
          if (m) registered.set(m[1]!, { scope: m[2]!, group: m[3]! });
        }
        for (const j of s.ctx.recorder.jobs.values()) if (j.runnerName) jobRepo.set(j.runnerName, j.repo);
      },
    });
  }, 240_000);

  it('serves org repos with org-level JIT runners in the configured group, a repo with repo-level runners, and token pools via config.sh', () => {
    const { report, logs, secrets, sim } = run;
    expect(report.finished).toBe(true);
    expect(report.jobs.total).toBe(7);
    expect(report.jobs.completed).toBe(7);
    zeroLeaks(report);
    expect(report.cap_violations).toBe(0);
    expect(report.github.by_endpoint['POST /orgs/{org}/actions/runners/generate-jitconfig']).toBeGreaterThanOrEqual(3);
    expect(report.github.by_endpoint['POST /orgs/{org}/actions/runners/registration-token']).toBeGreaterThanOrEqual(2);
    expect(report.github.by_endpoint['POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig']).toBeGreaterThanOrEqual(2);
    expect(report.github.by_endpoint['GET /orgs/{org}/actions/runner-groups']).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => l.includes('registered runner in org acme (JIT'))).toBe(true);
    for (const [runner, jobs] of sim.jobsByRunner) expect([runner, jobs.length]).toEqual([runner, 1]);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
    // Each JIT runner registered in the organisation joined group ci; solo/tool's are repository
    // runners, which GitHub keeps in group Default.
    const jit = [...registered].filter(([name]) => name.startsWith('linux-'));
    for (const [name, r] of jit) expect([name, r]).toEqual([name, expectedHome(r.scope)]);
    expect(jit.filter(([, r]) => r.scope === 'acme').length).toBeGreaterThanOrEqual(3);
    expect(jit.filter(([, r]) => r.scope === 'solo/tool').length).toBeGreaterThanOrEqual(2);
    expect(jobRepo.size).toBe(7);
    for (const [runner, repo] of jobRepo) if (runner.startsWith('linux-')) expect([runner, registered.get(runner)]).toEqual([runner, expectedHome(repo.startsWith('acme/') ? 'acme' : 'solo/tool')]);
  });

  // Found by this test (issue 8): a registration token carries no runner group, so runner.env names
  // it (RUNNER_GROUP) and run-once passes config.sh --runnergroup.
  it('token-registered (config.sh) runners in the organisation join group ci too', () => {
    const legacy = [...registered].filter(([name]) => name.startsWith('legacy-'));
    expect(legacy.length).toBeGreaterThanOrEqual(2);
    for (const [name, r] of legacy) expect([name, r]).toEqual([name, { scope: 'acme', group: 'ci' }]);
  });
});
