/**
 * `pve-runners check` for a pool with delivery: sftp, against the simulator whose three nodes'
 * storage directories are served by real sshd servers (test/helpers/sshd.ts): connect, host key,
 * probe upload + rename + removal per node, and Proxmox listing the probe in that node's content.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { poolsFile } from './helpers/pools-variant.js';
import { chrootableRoot, isRoot, SFTP_TEST_USER, startSshdCluster, type SshdCluster } from './helpers/sshd.js';
import { describeWithTools, SSH_KEYGEN, SSHD } from './helpers/tools.js';

const SCENARIO = (allocate: boolean) => `
seed: 1
proxmox:
  nodes: [{name: pve1}, {name: pve2}, {name: pve3}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2404-runner-template, vmid: 9200, node: pve3}
${allocate ? `  access:
    roles: [{name: StorageAdmin, privs: [Datastore.Allocate, Datastore.AllocateSpace, Datastore.Audit]}]
    acls: [{path: /storage/local, roles: [StorageAdmin], users: [pve-runners@pve], tokens: [pve-runners@pve!daemon]}]
` : ''}github:
  repos: [acme/app]
workload: []
`;

const POOLS = `
github: {repos: [acme/app]}
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64, ubuntu-24.04]
    vmid_range: [200, 229]
    nodes: [pve1, pve2, pve3]
    user_data: cloud-init/ubuntu-2404.yaml
    delivery: sftp
`;

const describeAsRoot = isRoot || process.env.CI === 'true' ? (t: string, f: () => void) => describeWithTools([SSHD, SSH_KEYGEN], t, f) : (t: string, f: () => void) => {
  process.stderr.write(`skipped: ${t} — sshd's ChrootDirectory needs root; run the tests as root\n`);
  describe.skip(t, f);
};

describeAsRoot('check with delivery: sftp', () => {
  let root: string;
  let cluster: SshdCluster;
  const sims: Simulator[] = [];
  beforeAll(async () => {
    root = chrootableRoot();
    cluster = await startSshdCluster(root, ['pve1', 'pve2', 'pve3']);
  });
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function check(o: { allocate: boolean; knownHosts?: string; hosts?: string }) {
    const sim = new Simulator(parseScenario(SCENARIO(o.allocate)), { speed: 20, snippetsRoot: root });
    sims.push(sim);
    const endpoints = await sim.start();
    const kh = join(root, '.sshd', 'known_hosts');
    writeFileSync(kh, o.knownHosts ?? cluster.knownHosts);
    const pools = poolsFile(POOLS);
    const env = { ...daemonEnv(endpoints, pools, 20), SNIPPETS_DIR: join(root, 'no-such-mount'), SFTP_USER: SFTP_TEST_USER, SFTP_PRIVATE_KEY_FILE: cluster.privateKeyFile, SFTP_KNOWN_HOSTS_FILE: kh, SFTP_HOSTS: o.hosts ?? cluster.hosts };
    const lines: string[] = [];
    const logs: string[] = [];
    const code = await checkCommand({ env, cwd: resolve(process.cwd()), out: (l) => lines.push(l), write: (l) => logs.push(l) });
    return { code, lines: lines.filter((l) => l.includes('SFTP delivery')), all: lines, logs };
  }
  const probesLeft = () => ['pve1', 'pve2', 'pve3'].flatMap((n) => readdirSync(join(root, n, 'snippets')));

  it('passes on every node: uploaded, renamed, listed by Proxmox, removed; no SNIPPETS_DIR needed', async () => {
    const r = await check({ allocate: true });
    expect(r.lines).toEqual(['pve1', 'pve2', 'pve3'].map((n) => `✓ SFTP delivery to ${n} (connected, host key pinned, probe snippet uploaded, renamed and listed by Proxmox as local:snippets)`));
    expect(r.all.filter((l) => l.includes('SNIPPETS_DIR'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(probesLeft()).toEqual([]);
    for (const l of [...r.all, ...r.logs]) expect(l).not.toContain(cluster.privateKey.split('\n')[1]);
  });

  it('without Datastore.Allocate (the default grants) it warns that Proxmox\'s listing could not be seen', async () => {
    const r = await check({ allocate: false });
    expect(r.lines).toHaveLength(3);
    for (const l of r.lines) expect(l).toMatch(/^! SFTP delivery to pve\d: connected, host key pinned, probe snippet uploaded; not verified/);
    expect(probesLeft()).toEqual([]);
  });

  it('fails the node whose host key changed, with the fix, and the node whose uploads land where Proxmox does not look', async () => {
    const [pve1, , pve3] = cluster.nodes;
    const knownHosts = cluster.knownHosts.split('\n').filter((l) => !l.startsWith(`[127.0.0.1]:${pve3!.port} `)).join('\n') + '\n' + cluster.foreignKeyLine('pve3');
    // pve2's address is pve1's sshd: its uploads land in pve1's directory
    const hosts = `pve1=127.0.0.1:${pve1!.port},pve2=127.0.0.1:${pve1!.port},pve3=127.0.0.1:${pve3!.port}`;
    const r = await check({ allocate: true, knownHosts, hosts });
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^✓ SFTP delivery to pve1 \(connected/);
    expect(r.lines[1]).toMatch(/^✗ SFTP delivery to pve2: a snippet uploaded there does not appear as local:snippets\/… on pve2.*— fix: run scripts\/setup-node-sftp.sh --storage local on pve2/);
    expect(r.lines[2]).toMatch(/^✗ SFTP delivery to pve3: the host key of \[127\.0\.0\.1\]:\d+ is not the one pinned in SFTP_KNOWN_HOSTS_FILE \(it changed\)/);
    expect(probesLeft()).toEqual([]);
  });
});
