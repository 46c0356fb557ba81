/**
 * Issue 12, delivery: sftp. Three nodes with node-local snippet storage and no shared mount; each
 * node's storage directory is served by a real sshd that scripts/setup-node-sftp.sh configured
 * (test/helpers/sshd.ts), and the simulated Proxmox reads the snippet from that node's directory
 * when the VM starts. pve3 — the node with the most free memory, which placement would pick first —
 * presents a host key other than the pinned one (as after a reinstall). pve1's connection is cut
 * once, a few kB into the run.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';
import { chrootableRoot, isRoot, SFTP_TEST_USER, startSshdCluster, type SshdCluster } from './helpers/sshd.js';
import { describeWithTools, SSH_KEYGEN, SSHD } from './helpers/tools.js';

const SCENARIO = `
seed: 12
time_limit: 1800s
proxmox:
  nodes: [{name: pve1, memory_mb: 65536}, {name: pve2, memory_mb: 65536}, {name: pve3, memory_mb: 262144}]
  snippets: per-node
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2404-runner-template, vmid: 9200, node: pve3}
  timings: {clone: 2s, config: 200ms, start: 2s, boot: 10s, stop: 1s, destroy: 2s}
github:
  repos: [acme/app]
  timings: {runner_connect: 2s}
workload:
  - {at: 0s, repo: acme/app, jobs: 6, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 40s, repo: acme/app, jobs: 4, labels: [self-hosted, linux, ubuntu-24.04], duration: 20s}
`;

const POOLS = `
github: {repos: [acme/app]}
max_total_runners: 6
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64, ubuntu-24.04]
    vmid_range: [200, 229]
    max_runners: 6
    nodes: [pve1, pve2, pve3]
    user_data: cloud-init/ubuntu-2404.yaml
    memory: 4096
    delivery: sftp
`;

const describeAsRoot = isRoot || process.env.CI === 'true' ? (t: string, f: () => void) => describeWithTools([SSHD, SSH_KEYGEN], t, f) : (t: string, f: () => void) => {
  process.stderr.write(`skipped: ${t} — sshd's ChrootDirectory needs root; run the tests as root\n`);
  describe.skip(t, f);
};

describeAsRoot('e2e: delivery: sftp to three nodes with node-local snippet storage', () => {
  let root: string;
  let cluster: SshdCluster;
  beforeAll(async () => {
    root = chrootableRoot();
    cluster = await startSshdCluster(root, ['pve1', 'pve2', 'pve3']);
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves every job on the nodes it can reach, skips the one whose host key changed (said once), survives a cut connection, leaves nothing', async () => {
    const pve3 = cluster.nodes.find((n) => n.node === 'pve3')!;
    const knownHosts = join(root, '.sshd', 'known_hosts');
    // pve3's pinned line is that of a key it does not have
    writeFileSync(knownHosts, cluster.knownHosts.split('\n').filter((l) => !l.startsWith(`[127.0.0.1]:${pve3.port} `)).join('\n') + '\n' + cluster.foreignKeyLine('pve3'));
    const pve1 = cluster.nodes.find((n) => n.node === 'pve1')!.proxy;
    const cut = pve1.cutAfter(8 * 1024);
    const { report, logs, secrets, sim } = await runE2e(SCENARIO, {
      pools: poolsFile(POOLS),
      speed: 25,
      snippetsRoot: root,
      env: { SNIPPETS_DIR: join(root, 'no-such-mount'), SFTP_USER: SFTP_TEST_USER, SFTP_PRIVATE_KEY_FILE: cluster.privateKeyFile, SFTP_KNOWN_HOSTS_FILE: knownHosts, SFTP_HOSTS: cluster.hosts },
    });
    await cut;
    expect(pve1.cuts).toBe(1);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    expect(report.jobs.total).toBe(10);
    zeroLeaks(report); // snippets: every file left in any node's directory (sim Snippets.leftovers)
    // every VM was cloned on pve1 or pve2, though pve3 has the most free memory
    const clones = sim.events.filter((e) => / cloning \(/.test(e.what));
    expect(clones.length).toBeGreaterThanOrEqual(10);
    const onPve3 = sim.events.filter((e) => / cloning \(linked clone of 9200\)/.test(e.what));
    expect(onPve3).toEqual([]);
    // the refusal, with its reason and fix, logged once though every tick tries the node again
    const refused = logs.filter((l) => l.includes('SFTP delivery to node pve3 fails'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/is not the one pinned in SFTP_KNOWN_HOSTS_FILE \(it changed\).*replace its line/);
    expect(logs.filter((l) => l.includes('"message":"tick:')).length).toBeGreaterThan(5);
    // the snippets went over SFTP (SNIPPETS_DIR is no mount at all): logins on the nodes served
    for (const n of ['pve1', 'pve2']) expect(cluster.nodes.find((x) => x.node === n)!.log.filter((l) => l.includes('Accepted publickey')).length).toBeGreaterThanOrEqual(1);
    // the cut fell under operations (a client only sends while it does one; several share the connection), which a new connection redid
    expect(logs.filter((l) => l.includes('SFTP connection to node pve1 failed under an operation')).length).toBeGreaterThanOrEqual(1);
    // nothing sent to pve3 but the handshake: no snippet ever written there
    expect(pve3.log.filter((l) => l.includes('Accepted publickey'))).toEqual([]);
    expect(leakedSecrets(logs, [...secrets, cluster.privateKey.split('\n').filter((l) => l.length > 20)].flat())).toEqual([]);
  }, 600_000);
});
