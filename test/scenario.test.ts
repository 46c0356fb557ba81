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

  it('proxmox.access: every reference is checked, with the path and what would be accepted', () => {
    const withAccess = (yaml: string) => minimal.replace('  timings: {clone', `  access:\n${yaml.replace(/^/gm, '    ')}\n  timings: {clone`);
    const problems = (yaml: string) => {
      try {
        parseScenario(withAccess(yaml), 'a.yaml');
      } catch (e) {
        return (e as ScenarioError).problems;
      }
      return [];
    };
    expect(problems('acls: [{path: /vms/9000, roles: [PVEVMAdmin], users: [pve-runners@pve]}]\npools: [{name: ci, vms: [9000]}]')).toEqual([]);
    expect(problems([
      'tokens: [{id: bob@pve!t}]',
      'authenticate: nobody@pve!x',
      'acls:',
      '  - {path: /vms/9000, roles: [PVEVMAdmn], users: [alice@pve]}',
      '  - {path: /qemu/9000, roles: [NoAccess], tokens: [pve-runners@pve!daemon]}',
      '  - {path: /nodes, roles: [PVEAuditor]}',
      'pools: [{name: ci, vms: [9000, 555]}, {name: other, vms: [9000]}]',
    ].join('\n'))).toEqual([
      "proxmox.access.tokens[0].id: user 'bob@pve' is not in proxmox.access.users",
      "proxmox.access.authenticate: 'nobody@pve!x' is not one of the tokens (pve-runners@pve!daemon, bob@pve!t)",
      "proxmox.access.acls[0].roles: role 'PVEVMAdmn' is neither built in nor in proxmox.access.roles",
      "proxmox.access.acls[0].users: 'alice@pve' is not in proxmox.access.users",
      "proxmox.access.acls[1].path: '/qemu/9000' is not an ACL path Proxmox accepts (e.g. /, /vms/205, /pool/NAME, /storage/ID, /nodes, /sdn/zones/localnetwork/vmbr0)",
      'proxmox.access.acls[2]: names no users or tokens',
      'proxmox.access.pools[0].vms: VMID 555 is not a template or foreign VM of the scenario',
      'proxmox.access.pools[1].vms: VMID 9000 is already in pool ci (a VM belongs to at most one pool)',
    ]);
    // without the defaults, the grants file's roles and the default token are not there
    expect(problems('defaults: false\nacls: [{path: /, roles: [PVERunners], tokens: [pve-runners@pve!daemon]}]')).toEqual([
      'proxmox.access: no token to authenticate with; list one under tokens (or keep defaults)',
      "proxmox.access.acls[0].roles: role 'PVERunners' is neither built in nor in proxmox.access.roles",
      "proxmox.access.acls[0].tokens: 'pve-runners@pve!daemon' is not in proxmox.access.tokens",
    ]);
    expect(problems('roles: [{name: Peek, privs: [VM.Audit, VM.Peek]}]')).toEqual(["proxmox.access.roles[0].privs: invalid privilege 'VM.Peek'"]);
    expect(problems('users: [{id: alice, enabled: true}]')[0]).toMatch(/^proxmox\.access\.users\[0\]\.id: /);
    expect(problems('acls: [{path: /, roles: [NoAccess], users: [pve-runners@pve], propagate: 1}]')[0]).toMatch(/^proxmox\.access\.acls\[0\]\.propagate: /);
    expect(() => parseScenario(minimal.replace('  timings: {clone', '  token: {privileges: [VM.Audit]}\n  access: {}\n  timings: {clone'), 'b.yaml')).toThrow(/either token\.privileges .* or access/);
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
