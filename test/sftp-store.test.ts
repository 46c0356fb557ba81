/**
 * The SFTP snippet store against real OpenSSH servers configured by scripts/setup-node-sftp.sh:
 * what lands on the node (name, mode, owner, whole content), the account's confinement, host-key
 * pinning, connection reuse and re-connection, and a connection cut in the middle of an upload.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { KnownHosts } from '../src/snippets/known-hosts.js';
import { SftpSnippetStore } from '../src/snippets/sftp-store.js';
import { chrootableRoot, isRoot, SFTP_TEST_USER, startSshdCluster, type SshdCluster } from './helpers/sshd.js';
import { describeWithTools, SSH_KEYGEN, SSHD } from './helpers/tools.js';

const describeAsRoot = (title: string, fn: () => void) => {
  if (isRoot) return describeWithTools([SSHD, SSH_KEYGEN], title, fn);
  if (process.env.CI === 'true') return describe(title, () => it('runs as root (sshd ChrootDirectory needs it)', () => expect(process.getuid?.()).toBe(0)));
  process.stderr.write(`skipped: ${title} — sshd's ChrootDirectory needs root; run the tests as root\n`);
  describe.skip(title, fn);
};

describeAsRoot('SFTP snippet store against a real sshd set up by setup-node-sftp.sh', () => {
  let root: string;
  let cluster: SshdCluster;
  const health: Array<[string, string | undefined]> = [];

  const store = (knownHosts = cluster.knownHosts) =>
    new SftpSnippetStore({
      nodes: cluster.nodes.map((n) => n.node),
      storage: 'local',
      endpoint: (node) => ({ host: '127.0.0.1', port: cluster.nodes.find((n) => n.node === node)!.port, user: SFTP_TEST_USER, privateKey: cluster.privateKey, knownHosts: KnownHosts.parse(knownHosts).hosts, readyTimeoutMs: 20_000 }),
      onHealth: (node, reason) => health.push([node, reason]),
    });
  const snippets = (node: string) => readdirSync(join(root, node, 'snippets')).sort();
  const accepted = (node: string) => cluster.nodes.find((n) => n.node === node)!.log.filter((l) => l.includes(`Accepted publickey for ${SFTP_TEST_USER}`)).length;

  beforeAll(async () => {
    root = chrootableRoot();
    cluster = await startSshdCluster(root, ['pve1', 'pve2']);
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    health.length = 0;
    for (const n of ['pve1', 'pve2']) for (const f of snippets(n)) rmSync(join(root, n, 'snippets', f));
  });

  it('uploads into the node\'s own snippets directory: whole, mode 0600, owned by the account; lists and removes per node over one connection', async () => {
    const s = store();
    const before = accepted('pve1');
    await s.write('pve1', 'pvr-ubuntu-200-ab12.yaml', '#cloud-config\nrunner: secret-jit\n');
    const path = join(root, 'pve1', 'snippets', 'pvr-ubuntu-200-ab12.yaml');
    expect(readFileSync(path, 'utf8')).toBe('#cloud-config\nrunner: secret-jit\n');
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(Number(spawnSync('id', ['-u', SFTP_TEST_USER], { encoding: 'utf8' }).stdout.trim()));
    expect(snippets('pve2')).toEqual([]);
    // a file not of our shape is neither listed nor touched
    writeFileSync(join(root, 'pve2', 'snippets', 'hook.pl'), 'x');
    await s.write('pve2', 'pvr-ubuntu-201-cd34.yaml', 'b');
    expect(await s.list()).toEqual(expect.arrayContaining([{ node: 'pve1', file: 'pvr-ubuntu-200-ab12.yaml' }, { node: 'pve2', file: 'pvr-ubuntu-201-cd34.yaml' }]));
    expect((await s.list()).length).toBe(2);
    await s.remove('pve1', 'pvr-ubuntu-200-ab12.yaml');
    await s.remove('pve1', 'pvr-ubuntu-200-ab12.yaml'); // gone already is fine
    expect(snippets('pve1')).toEqual([]);
    expect(snippets('pve2')).toEqual(['hook.pl', 'pvr-ubuntu-201-cd34.yaml']);
    expect(accepted('pve1') - before).toBe(1); // reused, not one login per operation
    expect(s.unavailable().size).toBe(0);
    s.close();
  });

  it('the node\'s sshd_config holds exactly the block --print-sshd-config shows, once after a second run; --dry-run changes nothing', () => {
    const n = cluster.nodes[0]!;
    const dirOf = join(root, '.sshd', 'pve1');
    const args = ['--public-key', `${cluster.privateKeyFile}.pub`, '--user', SFTP_TEST_USER, '--storage-path', n.storagePath, '--sshd-config', join(dirOf, 'sshd_config'), '--keys-dir', join(dirOf, 'keys'), '--host-key-dir', dirOf, '--address', '127.0.0.1', '--port', String(n.port), '--no-reload'];
    const script = join(process.cwd(), 'scripts', 'setup-node-sftp.sh');
    const block = spawnSync('bash', [script, ...args, '--print-sshd-config'], { encoding: 'utf8' }).stdout;
    expect(block).toMatch(/^# BEGIN pve-runners sftp.*\nMatch User nobody\n(\t.+\n)+Match all\n# END pve-runners sftp\n$/s);
    const before = readFileSync(join(dirOf, 'sshd_config'), 'utf8');
    expect(before.endsWith(block)).toBe(true);
    const dry = spawnSync('bash', [script, ...args, '--dry-run'], { encoding: 'utf8' });
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(block);
    expect(readFileSync(join(dirOf, 'sshd_config'), 'utf8')).toBe(before);
    const again = spawnSync('bash', [script, ...args], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(n.hostKeyLines);
    expect(readFileSync(join(dirOf, 'sshd_config'), 'utf8')).toBe(before); // replaced, not appended twice
  });

  it('the account can do nothing but SFTP inside the storage: no shell, no writes outside snippets/, no one else\'s file removed', async () => {
    const n = cluster.nodes[0]!;
    writeFileSync(join(root, 'pve1', 'snippets', 'hook.pl'), 'root\'s hook script');
    const c = new ssh2.Client();
    await new Promise<void>((resolve, reject) => c.on('ready', resolve).on('error', reject).connect({ host: '127.0.0.1', port: n.port, username: SFTP_TEST_USER, privateKey: cluster.privateKey }));
    const exec = await new Promise<string>((resolve) => c.exec('id', (err, ch) => {
      if (err) return resolve(`refused: ${err.message}`);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d.toString())).on('close', () => resolve(out));
      ch.stderr.on('data', (d: Buffer) => (out += d.toString()));
    }));
    expect(exec).not.toMatch(/uid=/); // ForceCommand internal-sftp: the command is never run
    const forwarded = await new Promise<string>((resolve) => c.forwardOut('127.0.0.1', 0, '127.0.0.1', n.sshdPort, (err) => resolve(err ? 'refused' : 'opened')));
    expect(forwarded).toBe('refused');
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => c.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const attempt = (f: (cb: (e: Error | null | undefined) => void) => void) => new Promise<string>((r) => f((e) => r(e ? 'refused' : 'done')));
    expect(await attempt((cb) => sftp.mkdir('/escape', cb))).toBe('refused');
    expect(await attempt((cb) => sftp.unlink('/snippets/hook.pl', cb))).toBe('refused');
    expect(await attempt((cb) => sftp.rename('/snippets/hook.pl', '/snippets/x', cb))).toBe('refused');
    const top = await new Promise<string[]>((r, j) => sftp.readdir('/', (e, l) => (e ? j(e) : r(l.map((x) => x.filename)))));
    expect(top).toContain('snippets'); // chrooted: / is the storage path
    expect(top).not.toContain('.sshd');
    c.end();
    expect(readFileSync(join(root, 'pve1', 'snippets', 'hook.pl'), 'utf8')).toBe('root\'s hook script');
  });

  it('refuses a node whose host key is not the pinned one (and one with no pinned key), saying how to fix it, once', async () => {
    const changed = cluster.knownHosts.split('\n').filter((l) => !l.includes(`:${cluster.nodes[1]!.port} `)).join('\n') + '\n' + cluster.foreignKeyLine('pve2');
    const s = store(changed);
    await expect(s.write('pve2', 'pvr-ubuntu-202-ef56.yaml', 'secret')).rejects.toThrow(/host key of \[127\.0\.0\.1\]:\d+ is not the one pinned in SFTP_KNOWN_HOSTS_FILE \(it changed\); .*replace its line/);
    await s.list();
    await s.list();
    expect(snippets('pve2')).toEqual([]);
    expect(s.unavailable().get('pve2')).toMatch(/it changed/);
    expect(s.unavailable().has('pve1')).toBe(false);
    expect(health.filter(([n]) => n === 'pve2')).toHaveLength(1); // said once, not every listing
    s.close();

    const unknown = store(cluster.nodes[0]!.hostKeyLines);
    await expect(unknown.write('pve2', 'pvr-ubuntu-202-ef56.yaml', 'secret')).rejects.toThrow(/no host key for \[127\.0\.0\.1\]:\d+ in SFTP_KNOWN_HOSTS_FILE/);
    unknown.close();
  });

  it('a connection dropped meanwhile is opened again', async () => {
    const s = store();
    await s.list();
    const before = accepted('pve1');
    cluster.nodes[0]!.proxy.cutAll();
    await s.write('pve1', 'pvr-ubuntu-203-gh78.yaml', 'after the drop');
    expect(accepted('pve1') - before).toBe(1);
    expect(readFileSync(join(root, 'pve1', 'snippets', 'pvr-ubuntu-203-gh78.yaml'), 'utf8')).toBe('after the drop');
    s.close();
  });

  it('a connection cut in the middle of an upload never leaves a half snippet under its real name', async () => {
    const s = store();
    await s.list(); // the connection is open: the cut falls inside the upload, not the handshake
    const content = `#cloud-config\n${'x'.repeat(600 * 1024)}\nend\n`;
    const proxy = cluster.nodes[0]!.proxy;
    const cut = proxy.cutAfter(200 * 1024);
    const cutsBefore = proxy.cuts;
    await s.write('pve1', 'pvr-ubuntu-204-ij90.yaml', content);
    await cut;
    expect(proxy.cuts - cutsBefore).toBe(1);
    // written again on a new connection, whole; the cut try's temp file removed by the retry
    expect(readFileSync(join(root, 'pve1', 'snippets', 'pvr-ubuntu-204-ij90.yaml'), 'utf8')).toBe(content);
    expect(snippets('pve1')).toEqual(['pvr-ubuntu-204-ij90.yaml']);
    s.close();
  });

  it('a cut on a fresh connection fails the write: no snippet under its name, the temp file listed for cleanup', async () => {
    const s = store();
    const proxy = cluster.nodes[0]!.proxy;
    // the handshake is a few kB: this cut falls in the upload of the first connection, which is fresh, so no retry
    const cut = proxy.cutAfter(120 * 1024);
    await expect(s.write('pve1', 'pvr-ubuntu-205-kl12.yaml', 'y'.repeat(600 * 1024))).rejects.toThrow();
    await cut;
    const left = snippets('pve1');
    expect(left).not.toContain('pvr-ubuntu-205-kl12.yaml');
    expect(left).toEqual([expect.stringMatching(/^\.pvr-ubuntu-205-kl12\.yaml\.[0-9a-f]{8}\.tmp$/)]);
    expect(statSync(join(root, 'pve1', 'snippets', left[0]!)).size).toBeLessThan(600 * 1024);
    expect(await s.list()).toEqual([{ node: 'pve1', file: left[0] }]);
    await s.remove('pve1', left[0]!);
    expect(snippets('pve1')).toEqual([]);
    s.close();
  });
});
