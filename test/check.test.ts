/**
 * `pve-runners check` against the real simulator: the command function is called as the CLI calls
 * it (environment from `daemonEnv`, lines collected from `out`), and the lines are asserted.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { probeProxmox } from '../src/check/proxmox.js';
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { ConfigError, loadSettings } from '../src/config/index.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { loadGrants, rolePrivileges } from '../src/proxmox/grants.js';
import { loadScenario, parseScenario, type Scenario } from '../src/sim/scenario.js';
import { Simulator, type SimEndpoints } from '../src/sim/simulator.js';

/** Every privilege scripts/grants.conf grants anywhere (for scenarios granting one set on every path). */
const DEFAULT_PRIVILEGES = [...new Set(loadGrants().acls.flatMap((a) => rolePrivileges(loadGrants(), a.role)))];

/**
 * With the default grants check cannot see foreign VMs (no VM.Audit on /vms, see scripts/grants.conf);
 * the probes of foreign VMs in ranges and of non-template VMIDs are tested with that audit added.
 */
const withVmsAudit = (scenario: string) => scenario.replace('  timings: {clone', '  access: {acls: [{path: /vms, roles: [PVEAuditor], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]}\n  timings: {clone');

/**
 * Proxmox lists snippet files only to a token with Datastore.Allocate on the storage (pve-storage
 * check_volume_access), which the default grants lack; the "seen by Proxmox" probe is tested with it.
 */
const withStorageAllocate = (scenario: string, storage: string) => scenario.replace('  timings: {clone',
  `  access:\n    roles: [{name: StorageAdmin, privs: [Datastore.Allocate, Datastore.AllocateSpace, Datastore.Audit]}]\n    acls: [{path: /storage/${storage}, roles: [StorageAdmin], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]\n  timings: {clone`);

const ROOT = resolve(process.cwd());
const SHIPPED_POOLS = join(ROOT, 'pools.yaml');
const DEMO = readFileSync(join(ROOT, 'scenarios/demo.yaml'), 'utf8');
const isRoot = process.getuid?.() === 0;

const sims: Simulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvr-check-'));
  dirs.push(d);
  return d;
}

/** The shipped pools.yaml, edited, in a temp dir (user_data made absolute so it still finds cloud-init/). */
function poolsFixture(edit: (text: string) => string): string {
  const f = join(tempDir(), 'pools.yaml');
  writeFileSync(f, edit(readFileSync(SHIPPED_POOLS, 'utf8').replaceAll('user_data: cloud-init/', `user_data: ${ROOT}/cloud-init/`)));
  return f;
}

interface Run {
  code: number;
  lines: string[];
  logs: string[];
  endpoints: SimEndpoints;
  env: Record<string, string>;
}

async function check(scenario: Scenario | string = DEMO, o: { pools?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const sim = new Simulator(typeof scenario === 'string' ? parseScenario(scenario) : scenario, { speed: 20 });
  sims.push(sim);
  const endpoints = await sim.start();
  const env = { ...daemonEnv(endpoints, o.pools ?? SHIPPED_POOLS, 20), ...o.env };
  const lines: string[] = [];
  const logs: string[] = [];
  const code = await checkCommand({ env, cwd: ROOT, out: (l) => lines.push(l), write: (l) => logs.push(l) });
  return { code, lines, logs, endpoints, env };
}

const failed = (r: Run) => r.lines.filter((l) => l.startsWith('✗ ') && !/\d+ failed/.test(l));
const warned = (r: Run) => r.lines.filter((l) => l.startsWith('! '));
const line = (r: Run, start: string) => {
  const found = r.lines.filter((l) => l.startsWith(start));
  expect(found).toHaveLength(1);
  return found[0]!;
};

function expectNoSecrets(r: Run, ...extra: string[]): void {
  const secrets = [r.endpoints.proxmox.tokenSecret, r.endpoints.github.token, ...extra];
  for (const l of [...r.lines, ...r.logs]) for (const s of secrets) expect(l).not.toContain(s);
}

describe('check on the demo scenario with the shipped pools.yaml', () => {
  it('passes every probe; the foreign VM 205 in ubuntu-2404\'s range is a warning that does not fail it', async () => {
    const r = await check(withVmsAudit(DEMO));
    expect(failed(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(warned(r)).toEqual([
      '! pool ubuntu-2404: VMID range 200-229: holds 1 VM(s) that are not ours: 205 (keep-me on pve1) — fix: none needed for `run`: it never touches them and skips their VMIDs (29 usable); to reclaim them, move the VM(s) or change pools[0].vmid_range',
      // the grants do not let Proxmox show the token snippet files (no Datastore.Allocate): writable, but not verified
      ...['pve1', 'pve2'].map((node) => `! SNIPPETS_DIR ${r.endpoints.proxmox.snippetsDirs[node]}: writable; not verified that Proxmox reads it as local:snippets on ${node}: Proxmox lists snippet files only to tokens holding Datastore.Allocate on /storage/local, which pve-runners does not need — fix: none needed if ${r.endpoints.proxmox.snippetsDirs[node]} is the snippets directory of storage 'local'; to be sure, write a file there and look for it with \`pvesm list local --content snippets\` on ${node}`),
    ]);
    expect(line(r, '✓ Proxmox reachable')).toContain('Proxmox VE 9.1.3');
    // Each pool's template on each of its nodes: local storage means one copy per node.
    expect(r.lines.filter((l) => / template /.test(l) && !l.includes('actions/runner'))).toEqual([
      "✓ pool ubuntu-2404: template 'ubuntu-2404-runner-template' on pve1 (VMID 9000)",
      "✓ pool ubuntu-2404: template 'ubuntu-2404-runner-template' on pve2 (VMID 9100)",
      "✓ pool ubuntu-2204: template 'ubuntu-2204-runner-template' on pve1 (VMID 9001)",
      "✓ pool ubuntu-2204: template 'ubuntu-2204-runner-template' on pve2 (VMID 9101)",
      "✓ pool windows-2022: template 'windows-2022-runner-template' on pve1 (VMID 9002)",
    ]);
    expect(r.lines.filter((l) => l.includes('token privileges'))).toHaveLength(4);
    expect(line(r, "✓ snippet storage 'local' holds snippets")).toContain('on pve1, pve2');
    expect(line(r, '✓ GitHub credentials')).toMatch(/accepted; rate budget \d+\/5000 requests left/);
    expect(line(r, '✓ repository acme/app')).toContain('admin');
    expect(r.lines[r.lines.length - 1]).toMatch(/^✓ \d+ passed, 3 warning\(s\), 0 failed/);
    expectNoSecrets(r);
  });

  it('with Datastore.Allocate on the snippet storage, Proxmox is seen to list what SNIPPETS_DIR holds', async () => {
    const r = await check(withStorageAllocate(DEMO, 'local'));
    expect(failed(r)).toEqual([]);
    for (const node of ['pve1', 'pve2']) {
      expect(line(r, `✓ SNIPPETS_DIR ${r.endpoints.proxmox.snippetsDirs[node]}`)).toContain(`local:snippets on ${node}`);
    }
  });

  it('leaves no probe file behind in the snippets directories', async () => {
    const r = await check();
    expect(r.code).toBe(0);
    for (const dir of Object.values(r.endpoints.proxmox.snippetsDirs)) expect(readdirSync(dir)).toEqual([]);
  });
});

describe('check fails with the fix', () => {
  it('a template the cluster lacks', async () => {
    const pools = poolsFixture((t) => t.replace('template: windows-2022-runner-template', 'template: windows-2025-runner-template'));
    const r = await check(DEMO, { pools });
    expect(r.code).toBe(1);
    expect(failed(r)).toEqual([
      "✗ pool windows-2022: template 'windows-2025-runner-template': no VM 'windows-2025-runner-template' exists on the cluster — fix: build the template (see runners/ in the pve-runners package), or name an existing template; `qm list` on a node shows them",
    ]);
  });

  it('a node without a copy of the template', async () => {
    const r = await check(DEMO.replace('    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}\n', ''));
    expect(r.code).toBe(1);
    const l = line(r, "✗ pool ubuntu-2404: template 'ubuntu-2404-runner-template' on pve2");
    expect(l).toContain('pve2 holds no copy of it (copies: 9000 on pve1)');
    expect(l).toContain('or remove pve2 from pools[0].nodes');
    expect(line(r, "✓ pool ubuntu-2404: template 'ubuntu-2404-runner-template' on pve1")).toBeDefined();
  });

  it('a VMID template that is not a template', async () => {
    const pools = poolsFixture((t) => t.replace('template: windows-2022-runner-template', 'template: 150'));
    const r = await check(withVmsAudit(DEMO), { pools });
    expect(failed(r)).toEqual([
      "✗ pool windows-2022: template VMID 150: VMID 150 is VM 150 on pve2, which is not a template — fix: convert it with `qm template 150` on pve2 (it must be shut down), or name the template instead",
    ]);
  });

  it('a VMID range full of VMs that are not ours', async () => {
    const pools = poolsFixture((t) => t.replace('vmid_range: [260, 269]', 'vmid_range: [270, 271]'));
    const scenario = DEMO.replace('  foreign_vms:\n', '  foreign_vms:\n    - {vmid: 270, node: pve1, name: ci-cache}\n    - {vmid: 271, node: pve1, name: build-box, status: running}\n');
    const r = await check(withVmsAudit(scenario), { pools });
    expect(r.code).toBe(1);
    expect(line(r, '✗ pool windows-2022: VMID range 270-271')).toBe(
      '✗ pool windows-2022: VMID range 270-271: every VMID is taken by VMs that are not ours: 270 (ci-cache on pve1), 271 (build-box on pve1) — fix: move those VMs to VMIDs outside the range, or change pools[2].vmid_range',
    );
  });

  it('a token lacking a privilege (scenario proxmox.token.privileges)', async () => {
    const privileges = DEFAULT_PRIVILEGES.filter((p) => p !== 'VM.PowerMgmt');
    const r = await check(DEMO.replace('  timings: {clone', `  token: {privileges: [${privileges.join(', ')}]}\n  timings: {clone`));
    expect(r.code).toBe(1);
    // 205 is a foreign VM: never started or stopped by us, so no privilege is needed on it.
    const l = line(r, '✗ pool ubuntu-2404: token privileges');
    expect(l).toContain(': missing VM.PowerMgmt on /vms/200-204, /vms/206-229 — fix: grant to both the user and the token');
    // New VMs inherit from the resource pool they are cloned into (PROXMOX_POOL), else only from /vms.
    const grantOn = r.env.PROXMOX_POOL ? `/pool/${r.env.PROXMOX_POOL}` : '/vms';
    expect(l).toContain(`\`pveum acl modify ${grantOn} --roles PVERunners --users ${r.env.PROXMOX_TOKEN_ID!.split('!')[0]} --tokens '${r.env.PROXMOX_TOKEN_ID}'\``);
    expect(line(r, '✗ pool ubuntu-2204: token privileges')).toContain('missing VM.PowerMgmt on /vms/230-259');
    expect(line(r, '✗ pool windows-2022: token privileges')).toContain('missing VM.PowerMgmt on /vms/260-269');
    // and per granted path (scripts/grants.conf): only the pool's grant lacks it
    expect(line(r, '✗ token grant /pool/pve-runners (PVERunners)')).toContain(': missing VM.PowerMgmt; without it the daemon cannot clone into the pool');
    expect(failed(r)).toHaveLength(4);
  });

  it('the default grants with one missing on one path: that path, what it costs, and the fix', async () => {
    const ok = await check(DEMO);
    expect(failed(ok)).toEqual([]);
    expect(ok.lines.filter((l) => l.startsWith('✓ token grant ')).map((l) => l.replace(/ \([A-Z][^)]*\)$/, ''))).toEqual([
      '✓ token grant /pool/pve-runners (PVERunners)',
      ...[9000, 9001, 9002, 9100, 9101].map((t) => `✓ token grant /vms/${t} (PVETemplateUser)`),
      '✓ token grant /storage/local-lvm (PVEDatastoreUser)',
      '✓ token grant /storage/local (PVERunnersObserver)',
      '✓ token grant /nodes (PVERunnersObserver)',
      '✓ token grant /sdn/zones/localnetwork/vmbr0 (PVESDNUser)',
    ]);
    // the user keeps its ACL, the token loses its own: a privilege-separated token then holds nothing there
    const r = await check(DEMO.replace('  timings: {clone', "  access: {revoke: [{path: /storage/local-lvm, tokens: ['pve-runners@pve!daemon']}]}\n  timings: {clone"));
    expect(r.code).toBe(1);
    expect(line(r, '✗ token grant /storage/local-lvm (PVEDatastoreUser)')).toBe(
      "✗ token grant /storage/local-lvm (PVEDatastoreUser): missing Datastore.AllocateSpace, Datastore.Audit; without them the daemon cannot allocate the clones' disks — fix: `pveum acl modify /storage/local-lvm --roles PVEDatastoreUser --users pve-runners@pve --tokens 'pve-runners@pve!daemon' --propagate 1` (to both the user and the token: a privilege-separated token holds only what both hold), or run `scripts/create-proxmox-token.sh --template 9000 --template 9001 --template 9002 --template 9100 --template 9101 --storage local-lvm --snippet-storage local --bridge vmbr0 --pool pve-runners` on a node: it grants all of scripts/grants.conf and keeps the token",
    );
    expect(failed(r).filter((l) => l.includes('token grant'))).toHaveLength(1);
  });

  it('the default grants: names the range VMIDs the token cannot see (nextid: taken), what run does with them and the fix', async () => {
    const hidden = DEMO.replace('    - {vmid: 205, node: pve1, name: keep-me, status: stopped}', '    - {vmid: 205, node: pve1, name: keep-me, status: stopped}\n    - {vmid: 231, node: pve2, name: lab, status: running}');
    const r = await check(hidden);
    const seen = r.lines.filter((l) => l.includes('VMIDs the token cannot see'));
    expect(seen).toEqual([
      expect.stringMatching(/^! pool ubuntu-2404: VMIDs the token cannot see: 205\b.* — fix: .*pveum acl modify \/vms --roles PVEAuditor/),
      expect.stringMatching(/^! pool ubuntu-2204: VMIDs the token cannot see: 231\b.* — fix: .*pveum acl modify \/vms --roles PVEAuditor/),
    ]);
    // nothing of them leaks through: the token never learns their names
    expect(r.lines.some((l) => l.includes('keep-me') || l.includes('lab on'))).toBe(false);
    expect(failed(r)).toEqual([]);
    expectNoSecrets(r);
  });

  it('without Sys.Audit on /nodes the nodes are listed without figures: placement is blind, and check says so', async () => {
    const r = await check(DEMO.replace('  timings: {clone', "  access: {revoke: [{path: /nodes}]}\n  timings: {clone"));
    expect(failed(r).map((l) => l.split(':')[0])).toEqual(['✗ node pve1', '✗ node pve2', '✗ token grant /nodes (PVERunnersObserver)']);
    expect(line(r, '✗ token grant /nodes (PVERunnersObserver)')).toContain("missing Sys.Audit; without it the daemon cannot read each node's free memory for placement");
  });

  it('the fix grants on the resource pool new VMs are cloned into (PROXMOX_POOL), else on /vms', async () => {
    const privileges = DEFAULT_PRIVILEGES.filter((p) => p !== 'VM.PowerMgmt');
    const sim = new Simulator(parseScenario(DEMO.replace('  timings: {clone', `  token: {privileges: [${privileges.join(', ')}]}\n  timings: {clone`)), { speed: 20 });
    sims.push(sim);
    const e = await sim.start();
    const { config } = loadSettings(daemonEnv(e, SHIPPED_POOLS, 20), { cwd: ROOT });
    const proxmox = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: false });
    const { lines } = await probeProxmox({ proxmox, config, url: e.proxmox.url, tokenId: e.proxmox.tokenId, storage: 'local', resourcePool: 'ci' });
    const l = lines.find((x) => x.what === 'pool ubuntu-2204: token privileges');
    expect(l?.status).toBe('fail');
    expect(l?.problem).toBe('missing VM.PowerMgmt on /vms/230-259');
    expect(l?.fix).toContain(`\`pveum acl modify /pool/ci --roles PVERunners --users ${e.proxmox.tokenId.split('!')[0]} --tokens '${e.proxmox.tokenId}'\` (PVERunners: a role holding the privileges above; VMs cloned into resource pool ci inherit its ACLs)`);
    const withoutPool = await probeProxmox({ proxmox, config, url: e.proxmox.url, tokenId: e.proxmox.tokenId, storage: 'local' });
    const l2 = withoutPool.lines.find((x) => x.what === 'pool ubuntu-2204: token privileges');
    expect(l2?.problem).toBe('missing VM.PowerMgmt on /vms/230-259');
    expect(l2?.fix).toContain("--roles PVERunners --users pve-runners@pve --tokens 'pve-runners@pve!daemon'` (PVERunners: a role holding the privileges above; without PROXMOX_POOL the daemon clones into no resource pool, so the range's VMIDs inherit only from /vms)");
    expect(l2?.fix).toContain('`pveum acl modify /vms --roles PVERunners');
  });

  it('delivery: guest-agent: the agent privileges on the range and agent: 1 on the templates', async () => {
    // ubuntu-2404 delivers through the guest agent (no user_data of its own)
    const pools = poolsFixture((t) => t.replace(`    user_data: ${ROOT}/cloud-init/ubuntu-2404.yaml`, '    delivery: guest-agent'));
    const withAgentGrants = DEMO.replace('  timings: {clone', '  access: {guest_agent: true}\n  timings: {clone');
    // the grants made without --guest-agent lack them
    const without = await check(DEMO, { pools });
    expect(line(without, '✗ pool ubuntu-2404: guest agent privileges')).toContain('missing VM.GuestAgent.Audit');
    const ok = await check(withAgentGrants, { pools });
    expect(failed(ok)).toEqual([]);
    expect(line(ok, '✓ pool ubuntu-2404: guest agent privileges')).toContain('ping and file-write on 200-229');
    expect(ok.lines.filter((l) => /^✓ pool ubuntu-2404: template \d+ guest agent/.test(l)).length).toBeGreaterThan(0);
    expect(ok.lines.some((l) => l.startsWith('✓ token grant /pool/pve-runners (PVERunnersAgent)'))).toBe(true);
    // the token's own agent ACL revoked (205 is a foreign VM: never ours to create), and a template without the agent
    const broken = DEMO.replace('  timings: {clone', "  access: {guest_agent: true, revoke: [{path: /pool/pve-runners, roles: [PVERunnersAgent], tokens: ['pve-runners@pve!daemon']}]}\n  timings: {clone")
      .replace('{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1', '{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1, agent: false');
    const r = await check(broken, { pools });
    expect(r.code).toBe(1);
    expect(line(r, '✗ pool ubuntu-2404: guest agent privileges')).toContain('missing VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted, VM.GuestAgent.FileWrite|VM.GuestAgent.Unrestricted on /vms/200-204, /vms/206-229');
    expect(line(r, '✗ pool ubuntu-2404: guest agent privileges')).toContain('--guest-agent');
    expect(line(r, '✗ pool ubuntu-2404: template 9000 guest agent')).toContain('`qm set 9000 --agent enabled=1`');
    // the dir pools need none of it
    expect(r.lines.some((l) => l.includes('pool ubuntu-2204: guest agent'))).toBe(false);
  });

  it('a token that may not clone the templates nor allocate disk space', async () => {
    const privileges = DEFAULT_PRIVILEGES.filter((p) => p !== 'VM.Clone' && p !== 'Datastore.AllocateSpace');
    const r = await check(DEMO.replace('  timings: {clone', `  token: {privileges: [${privileges.join(', ')}]}\n  timings: {clone`));
    const l = line(r, '✗ pool ubuntu-2404: token privileges');
    expect(l).toContain('missing VM.Clone on /vms/9000, /vms/9100; Datastore.AllocateSpace on /storage/local-lvm');
    expect(l).toContain('`pveum acl modify /vms/9000 --roles PVETemplateUser');
    expect(l).toContain('`pveum acl modify /storage/local-lvm --roles PVEDatastoreUser');
    expect(l).not.toContain('--roles PVERunners');
  });

  it('a snippet storage without the snippets content type', async () => {
    // local-lvm exists on every node (the templates' disks) but holds images and rootdir only.
    const r = await check(withStorageAllocate(DEMO, 'local-lvm'), { env: { PROXMOX_STORAGE: 'local-lvm' } });
    expect(r.code).toBe(1);
    for (const node of ['pve1', 'pve2']) {
      expect(line(r, `✗ snippet storage 'local-lvm' on ${node}`)).toBe(
        `✗ snippet storage 'local-lvm' on ${node}: its content types are images,rootdir, without snippets, so Proxmox cannot read the VMs' cloud-init user-data from it — fix: enable snippets on it (file-based storages only): \`pvesm set local-lvm --content images,rootdir,snippets\`, or set PROXMOX_STORAGE to a storage that has it (\`pvesm status --content snippets\`)`,
      );
      // What the daemon writes would not be found by Proxmox either.
      expect(line(r, `✗ SNIPPETS_DIR ${r.endpoints.proxmox.snippetsDirs[node]}: seen by Proxmox on ${node}`)).toContain('does not appear as local-lvm:snippets/');
    }
  });

  it('a SNIPPETS_DIR that does not exist', async () => {
    const missing = join(tempDir(), 'not-mounted');
    const r = await check(DEMO, { env: { SNIPPETS_DIR: `${missing}/{node}` } });
    expect(r.code).toBe(1);
    expect(line(r, `✗ SNIPPETS_DIR ${missing}/pve1`)).toBe(
      `✗ SNIPPETS_DIR ${missing}/pve1: does not exist — fix: mount the snippets directory of storage 'local' of pve1 there (for local: /var/lib/vz/snippets), writable by the daemon's user, or set SNIPPETS_DIR to where it is mounted`,
    );
    expect(line(r, `✗ SNIPPETS_DIR ${missing}/pve2`)).toContain('does not exist');
  });

  it('a SNIPPETS_DIR that is a file', async () => {
    const file = join(tempDir(), 'snippets');
    writeFileSync(file, '');
    const r = await check(DEMO, { env: { SNIPPETS_DIR: file } });
    expect(r.code).toBe(1);
    expect(line(r, `✗ SNIPPETS_DIR ${file}`)).toContain(': is not a directory — fix: mount');
  });

  (isRoot ? it.skip : it)('a SNIPPETS_DIR the daemon\'s user cannot write (skipped as root, who can write anywhere)', async () => {
    const dir = join(tempDir(), 'ro');
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    const r = await check(DEMO, { env: { SNIPPETS_DIR: dir } });
    expect(r.code).toBe(1);
    expect(line(r, `✗ SNIPPETS_DIR ${dir}`)).toContain('is not writable by this user (writing a probe file failed with EACCES)');
  });

  it('a writable SNIPPETS_DIR that is not the directory Proxmox reads snippets from', async () => {
    // One directory for both nodes while `local` is per node: VMs would not find their user-data.
    const dir = tempDir();
    const r = await check(withStorageAllocate(DEMO, 'local'), { env: { SNIPPETS_DIR: dir } });
    expect(r.code).toBe(1);
    for (const node of ['pve1', 'pve2']) {
      expect(line(r, `✗ SNIPPETS_DIR ${dir} (for pve1, pve2): seen by Proxmox on ${node}`)).toContain('put {node} in SNIPPETS_DIR');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a wrong GitHub token, without echoing it', async () => {
    const wrong = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';
    const r = await check(DEMO, { env: { GITHUB_TOKEN: wrong } });
    expect(r.code).toBe(1);
    expect(failed(r)).toEqual([
      `✗ GitHub credentials (GITHUB_TOKEN) at ${r.endpoints.github.url}: rejected: 401 Bad credentials — fix: set GITHUB_TOKEN to a valid, unexpired token for ${r.endpoints.github.url} (classic: scopes repo and, for organisations, admin:org; fine-grained: Administration read/write and Actions read on the repositories, Self-hosted runners read/write on organisations)`,
    ]);
    // The Proxmox side is still probed.
    expect(line(r, '✓ Proxmox reachable')).toBeDefined();
    expectNoSecrets(r, wrong);
  });

  it('a wrong Proxmox token secret: the GitHub side is still probed', async () => {
    const r = await check(DEMO, { env: { PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f' } });
    expect(r.code).toBe(1);
    expect(line(r, '✗ Proxmox token accepted')).toContain(`refused the token ${r.env.PROXMOX_TOKEN_ID} (401)`);
    expect(line(r, '✓ GitHub credentials')).toBeDefined();
    expectNoSecrets(r, '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f');
  });

  it('a repository the token cannot see', async () => {
    const pools = poolsFixture((t) => t.replace('repos: [acme/app]', 'repos: [acme/app, acme/missing]'));
    const r = await check(DEMO, { pools });
    expect(r.code).toBe(1);
    expect(failed(r)).toEqual([expect.stringMatching(/^✗ repository acme\/missing: not found with these credentials \(404 Not Found\): it does not exist or the token cannot see it — fix: check github.repos/)]);
  });
});

describe('check on organisations', () => {
  const orgScenario = (groups: string) => DEMO.replace('  repos: [acme/app]\n', `  repos: [acme/app]\n  orgs: [{name: widgets, repos: [web, api], runner_groups: [${groups}]}]\n`);
  const orgPools = () => poolsFixture((t) => t.replace('orgs: []', 'orgs: [{name: widgets, runner_group: ci}]'));

  it('passes when the runner group the pools use exists', async () => {
    const r = await check(orgScenario('Default, ci'), { pools: orgPools() });
    expect(failed(r)).toEqual([]);
    expect(line(r, '✓ organisation widgets')).toBe('✓ organisation widgets (2 repositories; runner groups ci exist)');
  });

  it('fails naming the missing runner group and the pools that need it', async () => {
    const r = await check(orgScenario('Default'), { pools: orgPools() });
    expect(r.code).toBe(1);
    expect(failed(r)).toEqual([
      "✗ organisation widgets: runner group 'ci': does not exist, but pools ubuntu-2404, ubuntu-2204, windows-2022 register their runners in it (groups: Default) — fix: create it (organisation Settings → Actions → Runner groups) with access to the repositories, or set runner_group in pools.yaml to an existing group",
    ]);
  });
});

describe('check configuration errors', () => {
  it('throws ConfigError (exit 78) before probing anything', async () => {
    const sim = new Simulator(parseScenario(DEMO), { speed: 20 });
    sims.push(sim);
    const env = daemonEnv(await sim.start(), SHIPPED_POOLS, 20);
    delete (env as Record<string, string | undefined>).PROXMOX_URL;
    const lines: string[] = [];
    await expect(checkCommand({ env, cwd: ROOT, out: (l) => lines.push(l) })).rejects.toBeInstanceOf(ConfigError);
    expect(lines).toEqual([]);
  });
});

describe('pve-runners check (the binary)', () => {
  function runCli(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'check'], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: ROOT });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('exit', (code) => done({ code, stdout, stderr }));
    });
  }

  it('exits 0 when a run would work, 1 when a probe fails, 78 on a configuration error', async () => {
    const sim = new Simulator(parseScenario(DEMO), { speed: 20 });
    sims.push(sim);
    const e = await sim.start();
    const env = daemonEnv(e, SHIPPED_POOLS, 20);
    const good = await runCli(env);
    expect(good.stdout).toContain('✓ Proxmox reachable');
    expect(good.code).toBe(0);
    const bad = await runCli({ ...env, GITHUB_TOKEN: 'ghp_notavalidtoken000000000000000000000' });
    expect(bad.code).toBe(1);
    const config = await runCli({ ...env, SNIPPETS_DIR: 'relative/dir' });
    expect(config.code).toBe(78);
    expect(config.stderr).toContain('SNIPPETS_DIR');
    for (const out of [good, bad, config]) for (const s of [e.proxmox.tokenSecret, e.github.token]) expect(out.stdout + out.stderr).not.toContain(s);
  });
});
