import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, EXIT_CONFIG, loadPoolsConfig } from '../src/config/index.js';
import type { Config, PoolsOptions } from '../src/config/index.js';

const FIXTURES = resolve('test/fixtures/config');
const REPO_ROOT = resolve('.');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-pools-'));
  cpSync(join(FIXTURES, 'cloud-init'), join(dir, 'cloud-init'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, opts: PoolsOptions = {}): Config {
  const path = join(dir, 'pools.yaml');
  writeFileSync(path, yaml);
  return loadPoolsConfig({ file: 'pools.yaml', path }, opts);
}

function errorOf(yaml: string, opts: PoolsOptions = {}): ConfigError {
  try {
    load(yaml, opts);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** The printed lines, for asserting exact text. */
const lines = (yaml: string, opts: PoolsOptions = {}) => errorOf(yaml, opts).message.split('\n');

const ok = `
github:
  repos: [acme/app]
pools:
  - name: small
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux]
    vmid_range: [200, 209]
    node: pve1
    user_data: cloud-init/ubuntu-2404.yaml
`;

describe('the shipped pools.yaml', () => {
  function check(config: Config) {
    expect(config.github).toEqual({ repos: ['acme/app'], orgs: [] });
    expect(config.maxTotalRunners).toBe(8);
    expect(config.pools.map((p) => [p.name, p.labels, p.vmidRange.lo, p.vmidRange.hi, p.nodes])).toEqual([
      ['ubuntu-2404', ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], 200, 229, ['pve1', 'pve2']],
      ['ubuntu-2204', ['self-hosted', 'linux', 'x64', 'ubuntu-22.04'], 230, 259, ['pve1', 'pve2']],
      ['windows-2022', ['self-hosted', 'windows', 'x64', 'windows-2022'], 260, 269, ['pve1']],
    ]);
    const [u24, , win] = config.pools;
    expect(u24).toMatchObject({ template: { kind: 'name', name: 'ubuntu-2404-runner-template' }, cores: 4, memoryMb: 8192, registration: 'jit', clone: 'linked', bootTimeoutMs: 600_000, idleTimeoutMs: 900_000, maxJobDurationMs: 21_600_000, tag: 'pvr-pool.ubuntu-2404', prefix: 'ubuntu-2404' });
    expect(win).toMatchObject({ maxRunners: 2, bootTimeoutMs: 1_200_000, registration: 'jit' });
  }

  it('loads, with the fixture cloud-init files beside it', () => {
    cpSync(join(REPO_ROOT, 'pools.yaml'), join(dir, 'pools.yaml'));
    const config = loadPoolsConfig({ file: 'pools.yaml', path: join(dir, 'pools.yaml') });
    check(config);
    expect(config.pools[0]!.userData).toEqual({ path: join(dir, 'cloud-init/ubuntu-2404.yaml'), text: readFileSync(join(FIXTURES, 'cloud-init/ubuntu-2404.yaml'), 'utf8') });
  });

  const shipped = ['ubuntu-2404', 'ubuntu-2204', 'windows-2022'].every((n) => existsSync(join(REPO_ROOT, `cloud-init/${n}.yaml`)));
  (shipped ? it : it.skip)('loads in place, with the shipped cloud-init files', () => {
    const config = loadPoolsConfig('pools.yaml');
    check(config);
    expect(config.pools[2]!.userData?.path).toBe(join(REPO_ROOT, 'cloud-init/windows-2022.yaml'));
  });
});

describe('defaults and durations', () => {
  it('merges defaults into each pool; a pool\'s own value wins', () => {
    const config = load(`
github: {repos: [acme/app]}
defaults:
  node: pve1
  user_data: cloud-init/ubuntu-2404.yaml
  template: 9000
  registration: token
  clone: full
  storage: local-lvm
  cores: 2
  memory: 4096
  boot_timeout: 90s
  idle_timeout: 1d
  max_job_duration: 3600
  runner_group: ci
  max_runners: 3
pools:
  - {name: a, labels: [a], vmid_range: [200, 209]}
  - {name: b, labels: [b], vmid_range: [210, 219], nodes: [pve2, pve3], clone: linked, cores: 8, boot_timeout: 45000ms, registration: jit, user_data: cloud-init/ubuntu-2204.yaml, template: base-tpl, max_runners: 10, runner_group: gpu}
`);
    const [a, b] = config.pools;
    expect(a).toMatchObject({ nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 }, registration: 'token', clone: 'full', storage: 'local-lvm', cores: 2, memoryMb: 4096, bootTimeoutMs: 90_000, idleTimeoutMs: 86_400_000, maxJobDurationMs: 3_600_000, runnerGroup: 'ci', maxRunners: 3 });
    expect(a!.userData?.path).toBe(join(dir, 'cloud-init/ubuntu-2404.yaml'));
    // `nodes` on the pool replaces defaults.node; a linked clone drops the defaults' full-clone storage.
    expect(b).toMatchObject({ nodes: ['pve2', 'pve3'], template: { kind: 'name', name: 'base-tpl' }, registration: 'jit', clone: 'linked', storage: undefined, cores: 8, memoryMb: 4096, bootTimeoutMs: 45_000, idleTimeoutMs: 86_400_000, runnerGroup: 'gpu', maxRunners: 10 });
    expect(b!.userData?.path).toBe(join(dir, 'cloud-init/ubuntu-2204.yaml'));
  });

  it('uses built-in defaults and PROXMOX_NODE when neither pool nor defaults say', () => {
    const [p] = load(ok.replace('    node: pve1\n', ''), { defaultNode: 'pve9' }).pools;
    expect(p).toMatchObject({ nodes: ['pve9'], registration: 'jit', clone: 'linked', storage: undefined, cores: undefined, memoryMb: undefined, bootTimeoutMs: 600_000, idleTimeoutMs: 900_000, maxJobDurationMs: 21_600_000, runnerGroup: undefined, maxRunners: 10, prefix: 'small', labelsLower: ['self-hosted', 'linux'] });
  });

  it('lower-cases labels for matching but keeps them as written for registration', () => {
    const [p] = load(ok.replace('[self-hosted, linux]', '[Self-Hosted, Linux, X64]')).pools;
    expect(p!.labels).toEqual(['Self-Hosted', 'Linux', 'X64']);
    expect(p!.labelsLower).toEqual(['self-hosted', 'linux', 'x64']);
  });

  it('takes the overall cap from MAX_TOTAL_RUNNERS, else the file, else the sum of max_runners', () => {
    const two = `${ok}  - {name: big, template: t, labels: [gpu], vmid_range: [300, 303], node: pve1, user_data: cloud-init/ubuntu-2204.yaml}\n`;
    expect(load(two).maxTotalRunners).toBe(14);
    expect(load(`max_total_runners: 5\n${two}`).maxTotalRunners).toBe(5);
    expect(load(`max_total_runners: 5\n${two}`, { maxTotalRunners: 7 }).maxTotalRunners).toBe(7);
    expect(load(`max_total_runners: 5\n${two}`, { maxTotalRunners: 0 }).maxTotalRunners).toBe(14);
  });

  it('adds REPO_OWNER/REPO_NAME to github.repos once, and normalises orgs', () => {
    const config = load(ok.replace('repos: [acme/app]', 'repos: [acme/app]\n  orgs: [widgets, {name: gadgets, runner_group: ci}]'), { extraRepos: ['NREL/EnergyPlus', 'ACME/APP'] });
    expect(config.github).toEqual({ repos: ['acme/app', 'NREL/EnergyPlus'], orgs: [{ name: 'widgets', runnerGroup: 'Default' }, { name: 'gadgets', runnerGroup: 'ci' }] });
  });

  it('returns deeply frozen objects', () => {
    const config = load(ok);
    expect(Object.isFrozen(config) && Object.isFrozen(config.pools) && Object.isFrozen(config.pools[0]) && Object.isFrozen(config.pools[0]!.labelsLower) && Object.isFrozen(config.pools[0]!.vmidRange)).toBe(true);
  });
});

describe('schema errors name file, path, line and a fix', () => {
  it('has a description (the fix text) for every property of schemas/pools.schema.json', () => {
    type Node = { description?: string; $ref?: string; properties?: Record<string, Node>; items?: Node; else?: Node; then?: Node };
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/pools.schema.json'), 'utf8')) as Node & { definitions: Record<string, Node> };
    const deref = (n: Node): Node | undefined => (n.$ref ? schema.definitions[n.$ref.replace('#/definitions/', '')] : undefined);
    const described = (n: Node | undefined): boolean => !!n && (!!n.description || described(deref(n)));
    const missing: string[] = [];
    const walk = (n: Node, at: string) => {
      for (const [k, child] of Object.entries(n.properties ?? {})) {
        if (!described(child)) missing.push(`${at}.${k}`);
        walk(child, `${at}.${k}`);
      }
      for (const sub of [n.items, n.else, deref(n)]) if (sub) walk(sub, at);
    };
    walk(schema, '');
    for (const [name, def] of Object.entries(schema.definitions)) walk(def, `#${name}`);
    expect(missing).toEqual([]);
  });

  it.each([
    ['an unknown key', ok.replace('    node: pve1', '    node: pve1\n    colour: red'),
      'pools.yaml: pools[0].colour (line 10): unknown key — fix: remove it or correct its spelling; valid here: name, labels, vmid_range, prefix, template, max_runners, node, nodes, user_data, cores, memory, registration, clone, delivery, storage, boot_timeout, idle_timeout, max_job_duration, runner_group'],
    ['a pool key in defaults that only a pool may have', `defaults: {vmid_range: [1, 2]}\n${ok}`,
      'pools.yaml: defaults.vmid_range (line 1): unknown key — fix: remove it or correct its spelling; valid here: template, max_runners, node, nodes, user_data, cores, memory, registration, clone, delivery, storage, boot_timeout, idle_timeout, max_job_duration, runner_group'],
    ['a missing key', ok.replace('    labels: [self-hosted, linux]\n', ''),
      "pools.yaml: pools[0].labels (line 5): is missing — fix: add it: the runner's labels, 1-100 distinct labels of letters, digits and . _ - + : / @ =, e.g. [self-hosted, linux, x64, ubuntu-24.04]; a job needs all of its runs-on labels here"],
    ['a label with a comma', ok.replace('[self-hosted, linux]', '[self-hosted, "linux,x64"]'),
      "pools.yaml: pools[0].labels[1] (line 7): 'linux,x64' is not valid — fix: a runner label: letters, digits and . _ - + : / @ = only (no spaces, commas, quotes or newlines), at most 256 characters, e.g. ubuntu-24.04"],
    ['a label with a newline', ok.replace('[self-hosted, linux]', '[self-hosted, "a\\nruncmd: [reboot]"]'),
      'pools.yaml: pools[0].labels[1] (line 7): "a\\nruncmd: [reboot]" is not valid — fix: a runner label'],
    ['a label with a quote', ok.replace('[self-hosted, linux]', `[self-hosted, "it's"]`),
      "pools.yaml: pools[0].labels[1] (line 7): 'it's' is not valid — fix: a runner label"],
    ['101 labels', ok.replace('[self-hosted, linux]', `[${Array.from({ length: 101 }, (_, i) => `l${i}`).join(', ')}]`),
      'pools.yaml: pools[0].labels (line 7): must NOT have more than 100 items (got ['],
    ['no labels', ok.replace('[self-hosted, linux]', '[]'),
      "pools.yaml: pools[0].labels (line 7): must NOT have fewer than 1 items (got []) — fix: the runner's labels, 1-100 distinct labels"],
    ['a repeated label', ok.replace('[self-hosted, linux]', '[linux, linux]'),
      "pools.yaml: pools[0].labels (line 7): items 0 and 1 are the same ('linux') — fix: remove the duplicate; the runner's labels"],
    ['an upper-case pool name', ok.replace('name: small', 'name: Small'),
      "pools.yaml: pools[0].name (line 5): 'Small' is not valid — fix: the pool's name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 54 characters, e.g. ubuntu-2404 (it becomes the Proxmox tag pvr-pool.<name> and the default runner-name prefix)"],
    ['a VMID below 100', ok.replace('[200, 209]', '[99, 209]'),
      "pools.yaml: pools[0].vmid_range[0] (line 8): must be >= 100 (got 99) — fix: the VMIDs this pool may use, [lowest, highest] within 100-999999999, not overlapping another pool's range, e.g. [200, 229]"],
    ['a one-element range', ok.replace('[200, 209]', '[200]'),
      'pools.yaml: pools[0].vmid_range (line 8): must NOT have fewer than 2 items (got [200]) — fix: the VMIDs this pool may use'],
    ['an unknown registration', ok.replace('node: pve1', 'node: pve1\n    registration: pat'),
      "pools.yaml: pools[0].registration (line 10): 'pat' is not one of 'jit', 'token' — fix: how a VM's runner registers: jit (a single-use just-in-time config; default) or token (a registration token for config.sh)"],
    ['a duration without a number', ok.replace('node: pve1', 'node: pve1\n    idle_timeout: soon'),
      "pools.yaml: pools[0].idle_timeout (line 10): 'soon' is not valid — fix: how long a registered runner may wait without a job (and without matching demand) before it is removed: a duration such as 15m (default 15m)"],
    ['a template that is neither name nor VMID', ok.replace('template: ubuntu-2404-runner-template', 'template: 12.5'),
      'pools.yaml: pools[0].template (line 6): must be integer (got 12.5) — fix: the Proxmox template to clone: its name (e.g. ubuntu-2404-runner-template) or its VMID (100-999999999)'],
    ['a repo without owner', ok.replace('[acme/app]', '[app]'),
      "pools.yaml: github.repos[0] (line 3): 'app' is not valid — fix: a repository as owner/name, e.g. acme/app"],
    ['an org entry with an unknown key', ok.replace('repos: [acme/app]', 'repos: [acme/app]\n  orgs: [{name: acme, group: ci}]'),
      'pools.yaml: github.orgs[0].group (line 4): unknown key — fix: remove it or correct its spelling; valid here: name, runner_group'],
    ['no pools', 'github: {repos: [acme/app]}\npools: []\n',
      'pools.yaml: pools (line 2): must NOT have fewer than 1 items (got []) — fix: the runner pools, at least one; a job goes to the pool with the fewest labels that has all of its runs-on labels (ties: the earlier pool)'],
    ['max_total_runners 0', `max_total_runners: 0\n${ok}`,
      "pools.yaml: max_total_runners (line 1): must be >= 1 (got 0) — fix: most runner VMs of all pools together, an integer >= 1 (MAX_TOTAL_RUNNERS overrides it; default: the sum of the pools' max_runners)"],
  ])('%s', (_what, yaml, expected) => {
    const err = errorOf(yaml);
    expect(err.exitCode).toBe(EXIT_CONFIG);
    if (!err.message.split('\n').some((l) => l.startsWith(expected))) throw new Error(`no line starting\n  ${expected}\nin\n  ${err.message}`);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(lines('github:\n  repos: [acme/app\npools: []\n')[0]).toBe('pools.yaml: line 3, column 1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] — fix: correct the YAML syntax there (indentation, a missing ] or }, an unquoted : in a value, a key written twice)');
    expect(lines('pools: []\npools: []\n')[0]).toBe('pools.yaml: line 2, column 1: not valid YAML: Map keys must be unique — fix: correct the YAML syntax there (indentation, a missing ] or }, an unquoted : in a value, a key written twice)');
  });

  it('reports an empty or missing file', () => {
    expect(lines('# nothing yet\n')).toEqual(['pools.yaml: (top level): the file is empty — fix: describe at least github and one pool; see pools.yaml in the pve-runners package for an example']);
    expect(() => loadPoolsConfig({ file: 'gone.yaml', path: join(dir, 'gone.yaml') })).toThrow(`gone.yaml: (file): cannot read ${join(dir, 'gone.yaml')}: no such file or directory (ENOENT) — fix: create it (the pve-runners package ships an example pools.yaml), or point RUNNER_POOLS_CONFIG at it`);
  });
});

describe('load-time checks', () => {
  const two = (a: string, b: string) => `
github: {repos: [acme/app]}
defaults: {node: pve1, template: tpl, user_data: cloud-init/ubuntu-2404.yaml}
pools:
  - ${a}
  - ${b}
`;

  it.each([
    ['overlapping VMID ranges', two('{name: a, labels: [a], vmid_range: [200, 229]}', '{name: b, labels: [b], vmid_range: [220, 239]}'),
      'pools.yaml: pools[1].vmid_range (line 6): [220, 239] overlaps [200, 229] of pools[0] (a) — fix: give each pool VMIDs of its own, e.g. start pools[1] (b) above 229'],
    ['a range inside another', two('{name: a, labels: [a], vmid_range: [200, 299]}', '{name: b, labels: [b], vmid_range: [250, 250]}'),
      'pools.yaml: pools[1].vmid_range (line 6): [250, 250] overlaps [200, 299] of pools[0] (a)'],
    ['duplicate pool names', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: a, labels: [b], vmid_range: [210, 219]}'),
      "pools.yaml: pools[1].name (line 6): 'a' is already the name of pools[0] — fix: give every pool its own name (it is part of the Proxmox tag that marks the pool's VMs)"],
    ['max_runners above the range size', two('{name: a, labels: [a], vmid_range: [200, 209], max_runners: 11}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      'pools.yaml: pools[0].max_runners (line 5): 11 runners do not fit in the vmid_range [200, 209] (10 VMIDs) — fix: lower max_runners to at most 10, or widen vmid_range'],
    ['max_runners from defaults above a range size', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 211]}').replace('{node: pve1,', '{node: pve1, max_runners: 5,'),
      'pools.yaml: defaults.max_runners (line 3): 5 runners do not fit in the vmid_range [210, 211] (2 VMIDs) — fix: lower max_runners to at most 2, or widen vmid_range'],
    ['a shadowed pool', two('{name: a, labels: [Linux, X64], vmid_range: [200, 209]}', '{name: b, labels: [x64, linux], vmid_range: [210, 219]}'),
      'pools.yaml: pools[1].labels (line 6): pools[1] (b) can never be chosen: pools[0] (a) comes first with the same labels [linux, x64], so it gets every job b fits — fix: add a label to one of them that tells the two apart (e.g. b), or remove pools[1] (b)'],
    ['a pool with no node', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace('node: pve1, ', ''),
      "pools.yaml: pools[0].nodes (line 5): pool 'a' has no node to run on — fix: set node or nodes on the pool or in defaults, or set PROXMOX_NODE"],
    ['a missing user_data file', two('{name: a, labels: [a], vmid_range: [200, 209], user_data: cloud-init/nope.yaml}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      'pools.yaml: pools[0].user_data (line 5): cannot read DIR/cloud-init/nope.yaml: no such file or directory (ENOENT) — fix: create the file or correct the path; a relative path starts at DIR'],
    ['a missing user_data file named in defaults', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace('cloud-init/ubuntu-2404.yaml', 'gone.yaml'),
      'pools.yaml: defaults.user_data (line 3): cannot read DIR/gone.yaml: no such file or directory (ENOENT)'],
    ['no user_data at all', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace(', user_data: cloud-init/ubuntu-2404.yaml', ''),
      "pools.yaml: pools[0].user_data (line 5): is missing — fix: add it to the pool or to defaults: path of the pool's cloud-init user-data template, relative to the directory of pools.yaml, e.g. cloud-init/ubuntu-2404.yaml"],
    ['no template', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace(' template: tpl,', ''),
      'pools.yaml: pools[0].template (line 5): is missing — fix: add it to the pool or to defaults: the Proxmox template to clone'],
    ['a reversed range', two('{name: a, labels: [a], vmid_range: [209, 200]}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      'pools.yaml: pools[0].vmid_range (line 5): [209, 200] starts above its end — fix: write the lower VMID first, e.g. [200, 209]'],
    ['a runner name over 63 characters', two(`{name: a, prefix: ${'p'.repeat(49)}, labels: [a], vmid_range: [100000000, 100000009]}`, '{name: b, labels: [b], vmid_range: [210, 219]}'),
      `pools.yaml: pools[0].prefix (line 5): runner names like ${'p'.repeat(49)}-100000009-xxxx would be 64 characters, over the 63 a DNS name allows — fix: shorten it to at most 48 characters`],
    ['two pools with one prefix', two('{name: a, prefix: ci, labels: [a], vmid_range: [200, 209]}', '{name: ci, labels: [b], vmid_range: [210, 219]}'),
      "pools.yaml: pools[1].name (line 6): runner names of pools[1] (ci) would start 'ci-' like those of pools[0] (a), so neither could tell its runners apart — fix: set a prefix on one of them that no other pool uses"],
    ['a template VMID inside a range', two('{name: a, labels: [a], vmid_range: [200, 209], template: 205}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      'pools.yaml: pools[0].template (line 5): template VMID 205 of pools[0] (a) lies in the vmid_range [200, 209] of pools[0] (a) — fix: move pools[0] (a)\'s vmid_range off 205: a pool owns every VMID in its range'],
    ['node and nodes together', two('{name: a, labels: [a], vmid_range: [200, 209], node: pve1, nodes: [pve2]}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      'pools.yaml: pools[0].nodes (line 5): node and nodes are both set — fix: keep one: node for a single node, nodes for several'],
    ['storage on a linked clone', two('{name: a, labels: [a], vmid_range: [200, 209], storage: local-lvm}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      "pools.yaml: pools[0].storage (line 5): pool 'a' makes linked clones, which stay on the template's storage — fix: remove storage, or set clone: full"],
    ['a zero duration', two('{name: a, labels: [a], vmid_range: [200, 209], boot_timeout: 0s}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      "pools.yaml: pools[0].boot_timeout (line 5): '0s' is shorter than boot_timeout allows (30s to 1d) — fix: set boot_timeout (how long a new VM may take to register its runner) to a duration from 30s to 1d, e.g. 10m"],
    ['labels repeated in another case', two('{name: a, labels: [Linux, linux], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}'),
      "pools.yaml: pools[0].labels (line 5): lists 'linux' twice (labels are compared case-insensitively) — fix: keep one of them"],
    ['a repository its organisation already covers', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace('{repos: [acme/app]}', '{repos: [acme/app], orgs: [ACME]}'),
      'pools.yaml: github.repos[0] (line 2): repository acme/app is also served through organisation ACME, so its jobs would be seen twice — fix: remove acme/app from github.repos'],
    ['nothing to serve', two('{name: a, labels: [a], vmid_range: [200, 209]}', '{name: b, labels: [b], vmid_range: [210, 219]}').replace('github: {repos: [acme/app]}', 'github: {repos: []}'),
      'pools.yaml: github (line 2): no repositories or organisations to serve — fix: list repositories under github.repos (e.g. [acme/app]) or organisations under github.orgs, or set REPO_OWNER and REPO_NAME'],
  ])('%s', (_what, yaml, expected) => {
    const want = expected.replaceAll('DIR', dir);
    const got = lines(yaml);
    if (!got.some((l) => l.startsWith(want))) throw new Error(`no line starting\n  ${want}\nin\n  ${got.join('\n  ')}`);
  });

  it('names both pools and both ranges, with the line of each offending value in block style', () => {
    const err = errorOf(`
github:
  repos: [acme/app]
defaults:
  node: pve1
  template: tpl
  user_data: cloud-init/ubuntu-2404.yaml
pools:
  - name: a
    labels: [a]
    vmid_range: [200, 229]
  - name: b
    labels: [b]
    vmid_range: [300, 310]
  - name: c
    labels: [c]
    vmid_range: [305, 330]
`);
    expect(err.problems).toEqual([
      { file: 'pools.yaml', path: 'pools[2].vmid_range', line: 17, message: '[305, 330] overlaps [300, 310] of pools[1] (b)', fix: 'give each pool VMIDs of its own, e.g. start pools[2] (c) above 310' },
    ]);
  });

  it('reports every problem at once', () => {
    const err = errorOf(two('{name: a, labels: [a], vmid_range: [200, 229], max_runners: 40}', '{name: a, labels: [a], vmid_range: [220, 239]}'));
    expect(err.problems.map((p) => p.path)).toEqual(['pools[0].max_runners', 'pools[1].name', 'pools[1].vmid_range', 'pools[1].labels']);
  });

  it('accepts a REPO_OWNER/REPO_NAME repository as the only one', () => {
    const yaml = ok.replace('repos: [acme/app]', 'repos: []');
    expect(errorOf(yaml).problems.map((p) => p.path)).toEqual(['github']);
    expect(load(yaml, { extraRepos: ['acme/app'] }).github.repos).toEqual(['acme/app']);
  });
});
