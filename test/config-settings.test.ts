import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, EXIT_CONFIG, loadPoolsConfig, loadSettings, resolveTemplates, runnerGroupFor } from '../src/config/index.js';
import type { ClusterVm, Env } from '../src/config/index.js';

const FIXTURES = resolve('test/fixtures/config');
const SECRET = '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-settings-'));
  cpSync(join(FIXTURES, 'cloud-init'), join(dir, 'cloud-init'), { recursive: true });
  cpSync(resolve('pools.yaml'), join(dir, 'pools.yaml'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (): Env => ({
  PROXMOX_URL: 'https://pve1:8006',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: SECRET,
  GITHUB_TOKEN: 'ghp_x',
  RUNNER_POOLS_CONFIG: join(dir, 'pools.yaml'),
});

function failure(e: Env, opts = {}): ConfigError {
  try {
    loadSettings(e, { cwd: dir, ...opts });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSettings', () => {
  it('loads the environment and the pools.yaml it names, applying the env overrides', () => {
    const { env: s, config } = loadSettings({ ...env(), MAX_TOTAL_RUNNERS: '3', REPO_OWNER: 'NREL', REPO_NAME: 'EnergyPlus', PROXMOX_CA_FILE: join(FIXTURES, 'test-ca.pem') }, { cwd: dir });
    expect(s.proxmox.url).toBe('https://pve1:8006/api2/json');
    expect(s.proxmox.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(config.file).toBe(join(dir, 'pools.yaml'));
    expect(config.maxTotalRunners).toBe(3);
    expect(config.github.repos).toEqual(['acme/app', 'NREL/EnergyPlus']);
    expect(config.pools.map((p) => p.name)).toEqual(['ubuntu-2404', 'ubuntu-2204', 'windows-2022']);
  });

  it('lets --pools win over RUNNER_POOLS_CONFIG, relative to the working directory', () => {
    writeFileSync(join(dir, 'other.yaml'), 'github: {repos: [a/b]}\npools:\n  - {name: x, template: 9000, labels: [x], vmid_range: [300, 301], user_data: cloud-init/ubuntu-2404.yaml}\n');
    const { config } = loadSettings({ ...env(), PROXMOX_NODE: 'pve3' }, { cwd: dir, poolsFile: 'other.yaml' });
    expect(config.file).toBe('other.yaml');
    expect(config.pools[0]).toMatchObject({ name: 'x', nodes: ['pve3'], maxRunners: 2 });
  });

  it('reports environment and pools.yaml problems together, for exit code 78', () => {
    writeFileSync(join(dir, 'pools.yaml'), 'github: {repos: [acme/app]}\npools:\n  - {name: x, template: 9000, labels: [x], vmid_range: [300, 301], user_data: cloud-init/ubuntu-2404.yaml}\n');
    const err = failure({ ...env(), PROXMOX_TOKEN_SECRET: undefined, LOG_FORMAT: 'xml' });
    expect(err.exitCode).toBe(EXIT_CONFIG);
    expect(err.message.split('\n')).toEqual([
      'environment: PROXMOX_TOKEN_SECRET: is not set — fix: set PROXMOX_TOKEN_SECRET, or PROXMOX_TOKEN_SECRET_FILE to a file holding it, or provide the systemd credential proxmox_token_secret (LoadCredential=proxmox_token_secret:<path>)',
      "environment: LOG_FORMAT: 'xml' is not a log format — fix: set LOG_FORMAT to json or text",
      `${join(dir, 'pools.yaml')}: pools[0].nodes (line 3): pool 'x' has no node to run on — fix: set node or nodes on the pool or in defaults, or set PROXMOX_NODE`,
    ]);
  });

  it('never reads process.env itself: the CLI entry hands the environment in', () => {
    const dirOf = resolve('src/config');
    const code = (f: string) => readFileSync(join(dirOf, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const readers = readdirSync(dirOf).filter((f) => /process\.env\b/.test(code(f)));
    expect(readdirSync(dirOf)).toContain('env.ts');
    expect(readers).toEqual([]);
  });

  it('names a missing pools.yaml and how to point at another', () => {
    const err = failure({ ...env(), RUNNER_POOLS_CONFIG: 'nope.yaml' });
    expect(err.message).toBe(`nope.yaml: (file): cannot read ${join(dir, 'nope.yaml')}: no such file or directory (ENOENT) — fix: create it (the pve-runners package ships an example pools.yaml), or point RUNNER_POOLS_CONFIG at it`);
  });
});

describe('resolveTemplates (for check)', () => {
  const vms: ClusterVm[] = [
    { vmid: 9000, node: 'pve1', name: 'ubuntu-2404-runner-template', template: true },
    { vmid: 9001, node: 'pve2', name: 'ubuntu-2204-runner-template', template: false },
    { vmid: 205, node: 'pve1', name: 'ubuntu-2404-runner-template', template: false },
  ];

  it('finds named templates and reports one that is not a template or does not exist', () => {
    const config = loadPoolsConfig({ file: 'pools.yaml', path: join(dir, 'pools.yaml') });
    const { templates, problems } = resolveTemplates(config, vms);
    expect([...templates]).toEqual([['ubuntu-2404', { vmid: 9000, node: 'pve1' }]]);
    expect(problems).toEqual([
      { file: 'pools.yaml', path: 'pools[1].template', message: "'ubuntu-2204-runner-template' is VM 9001 on pve2, which is not a template", fix: 'convert it with `qm template 9001` on pve2 (it must be shut down), or name the template instead' },
      { file: 'pools.yaml', path: 'pools[2].template', message: "no VM 'windows-2022-runner-template' exists on the cluster", fix: 'build the template (see runners/ in the pve-runners package), or name an existing template; `qm list` on a node shows them' },
    ]);
  });

  it('resolves a VMID and refuses an ambiguous name', () => {
    writeFileSync(join(dir, 'pools.yaml'), 'github: {repos: [a/b]}\ndefaults: {node: pve1, user_data: cloud-init/ubuntu-2404.yaml}\npools:\n  - {name: x, template: 9000, labels: [x], vmid_range: [300, 301]}\n  - {name: y, template: dup, labels: [y], vmid_range: [302, 303]}\n');
    const config = loadPoolsConfig({ file: 'pools.yaml', path: join(dir, 'pools.yaml') });
    const { templates, problems } = resolveTemplates(config, [...vms, { vmid: 9100, node: 'pve1', name: 'dup', template: true }, { vmid: 9101, node: 'pve2', name: 'dup', template: true }]);
    expect(templates.get('x')).toEqual({ vmid: 9000, node: 'pve1' });
    expect(problems).toEqual([{ file: 'pools.yaml', path: 'pools[1].template', message: "2 templates are named 'dup' (VMIDs 9100, 9101)", fix: 'name the template by its VMID, e.g. template: 9100, or rename the others' }]);
  });
});

describe('runnerGroupFor', () => {
  it("uses the pool's group, else the org's, which defaults to Default", () => {
    writeFileSync(join(dir, 'pools.yaml'), 'github: {orgs: [acme, {name: widgets, runner_group: ci}]}\ndefaults: {node: pve1, template: 9000, user_data: cloud-init/ubuntu-2404.yaml}\npools:\n  - {name: x, labels: [x], vmid_range: [300, 301]}\n  - {name: y, labels: [y], vmid_range: [302, 303], runner_group: gpu}\n');
    const { pools, github } = loadPoolsConfig({ file: 'pools.yaml', path: join(dir, 'pools.yaml') });
    const [acme, widgets] = github.orgs;
    expect([runnerGroupFor(pools[0]!, acme!), runnerGroupFor(pools[0]!, widgets!), runnerGroupFor(pools[1]!, acme!), runnerGroupFor(pools[1]!, widgets!)]).toEqual(['Default', 'ci', 'gpu', 'gpu']);
  });
});
