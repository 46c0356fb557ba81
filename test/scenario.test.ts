import { parseScenario, ScenarioError } from '../src/sim/scenario.js';
import { parseDuration } from '../src/util/duration.js';

const minimal = `
seed: 7
time_limit: 900s
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 2s, boot: 20s}
github:
  repos: [acme/app]
workload:
  - {at: 0s, repo: acme/app, jobs: 3, labels: [self-hosted, linux], duration: 60s}
`;

describe('scenario loading', () => {
  it('applies defaults and converts durations to scenario milliseconds', () => {
    const s = parseScenario(minimal, 'demo.yaml');
    expect(s.seed).toBe(7);
    expect(s.timeLimitMs).toBe(900_000);
    expect(s.proxmox.timings.cloneMs).toBe(2000);
    expect(s.proxmox.timings.destroyMs).toBe(1000);
    expect(s.proxmox.nodes[0]).toEqual({ name: 'pve1', memoryMb: 131072, cpus: 32, status: 'online' });
    expect(s.workload[0]).toMatchObject({ atMs: 0, jobs: 3, runs: 1, chain: false, durationMs: 60_000 });
    expect(s.github.rateLimit).toMatchObject({ limit: 5000, windowMs: 3_600_000 });
  });

  it('names file and path of every problem', () => {
    const bad = minimal.replace('jobs: 3', 'jobs: 0').replace('memory_mb: 131072', 'memory_mb: 131072, colour: red');
    let err: unknown;
    try {
      parseScenario(bad, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    const msg = (err as Error).message;
    expect(msg).toContain('bad.yaml');
    expect(msg).toContain('proxmox.nodes[0].colour: unknown key');
    expect(msg).toContain('workload[0].jobs');
  });

  it('rejects cross-references that do not resolve', () => {
    const bad = minimal.replace('node: pve1}]\n  timings', 'node: pve9}]\n  timings').replace('repo: acme/app, jobs', 'repo: acme/other, jobs');
    expect(() => parseScenario(bad, 'x.yaml')).toThrow(/templates\[0\]\.node: 'pve9'[\s\S]*workload\[0\]\.repo/);
  });

  it('gives GitHub a few seconds of listing lag and every permission unless the scenario says otherwise', () => {
    const s = parseScenario(minimal, 'demo.yaml');
    expect(s.github.lag).toEqual({ jobsMs: 3_000, runnersMs: 5_000, runnerDeletionMs: 10_000 });
    expect(s.github.permissions).toEqual({ actions: 'read', administration: 'write', organization_self_hosted_runners: 'write', metadata: 'read' });
    const set = parseScenario(minimal.replace('  repos: [acme/app]', '  repos: [acme/app]\n  lag: {jobs: 20s}\n  permissions: {administration: read, actions: none}'), 'x.yaml');
    expect(set.github.lag).toEqual({ jobsMs: 20_000, runnersMs: 5_000, runnerDeletionMs: 10_000 });
    expect(set.github.permissions).toMatchObject({ administration: 'read', actions: 'none', metadata: 'read' });
    expect(() => parseScenario(minimal.replace('  repos: [acme/app]', '  repos: [acme/app]\n  permissions: {administration: admin}'), 'x.yaml')).toThrow(/github\.permissions\.administration/);
    expect(() => parseScenario(minimal.replace('  repos: [acme/app]', '  repos: [acme/app]\n  lag: {webhooks: 1s}'), 'x.yaml')).toThrow(/github\.lag\.webhooks: unknown key/);
  });

  it('rejects a bad duration with the accepted forms', () => {
    expect(() => parseScenario(minimal.replace('clone: 2s', 'clone: soon'), 'x.yaml')).toThrow(/proxmox\.timings\.clone: a number of seconds, or a number with a unit/);
  });
});

describe('durations', () => {
  it.each([
    ['90s', 90_000], ['10m', 600_000], ['6h', 21_600_000], ['500ms', 500], ['1.5s', 1500], [30, 30_000], ['1d', 86_400_000],
  ])('%s → %d ms', (input, expected) => expect(parseDuration(input)).toBe(expected));
  it('rejects nonsense', () => expect(() => parseDuration('ten minutes')).toThrow(/e\.g\. 90s, 10m/));
});
