/**
 * Real OpenSSH servers, one per simulated node, each configured by scripts/setup-node-sftp.sh run
 * for real (its Match block, chroot check, snippets directory modes, authorized_keys), listening on
 * a loopback port behind a TCP proxy the test can cut. sshd's ChrootDirectory needs root, and the
 * account is `nobody` (every Debian has it; the script keeps an existing account), so these tests
 * run only as root (as here and in CI).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './e2e.js';

export const SFTP_TEST_USER = 'nobody';
export const isRoot = process.getuid?.() === 0;

export interface SshdNode {
  node: string;
  /** the storage path: the chroot; snippets are in `<storagePath>/snippets` */
  storagePath: string;
  /** the proxy's port: what the daemon connects to */
  port: number;
  /** sshd's own port */
  sshdPort: number;
  /** known_hosts lines the script printed for the proxy's address */
  hostKeyLines: string;
  /** sshd's log (stderr, -e) */
  log: string[];
  proxy: CutProxy;
}

export interface SshdCluster {
  nodes: SshdNode[];
  /** the daemon's key pair */
  privateKeyFile: string;
  privateKey: string;
  /** every node's pinned lines */
  knownHosts: string;
  /** SFTP_HOSTS for the daemon */
  hosts: string;
  /** a fresh host key line for a node (as if it had been reinstalled), not the one it serves */
  foreignKeyLine(node: string): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** A base directory sshd accepts a chroot under: root-owned, writable by no one else (not /tmp). */
export function chrootableRoot(): string {
  const base = mkdtempSync('/run/pvr-sftp-');
  chmodSync(base, 0o755);
  return base;
}

/**
 * Starts sshd for each node, chrooted at `<root>/<node>` (the simulator's per-node storage: its
 * snippets directory is `<root>/<node>/snippets`).
 */
export async function startSshdCluster(root: string, nodeNames: readonly string[]): Promise<SshdCluster> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const conf = join(root, '.sshd');
  mkdirSync(conf, { recursive: true, mode: 0o755 });
  const privateKeyFile = join(conf, 'daemon_key');
  keygen(privateKeyFile);
  const nodes: SshdNode[] = [];
  const procs: ChildProcess[] = [];
  try {
    for (const node of nodeNames) {
      const dir = join(conf, node);
      mkdirSync(dir, { mode: 0o755 });
      keygen(join(dir, 'ssh_host_ed25519_key'));
      const storagePath = join(root, node);
      mkdirSync(storagePath, { recursive: true, mode: 0o755 });
      const sshdPort = await freePort();
      const config = join(dir, 'sshd_config');
      writeFileSync(config, [`Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'ssh_host_ed25519_key')}`, `PidFile ${join(dir, 'sshd.pid')}`, 'UsePAM no', 'LogLevel VERBOSE', '# as in Debian\'s (and so Proxmox VE\'s) stock sshd_config: a subsystem request must name a configured one', 'Subsystem sftp /usr/lib/openssh/sftp-server', ''].join('\n'), { mode: 0o644 });
      const proxy = await CutProxy.start(sshdPort);
      const script = spawnSync('bash', [join(ROOT, 'scripts', 'setup-node-sftp.sh'), '--public-key', `${privateKeyFile}.pub`, '--user', SFTP_TEST_USER, '--storage-path', storagePath, '--sshd-config', config, '--keys-dir', join(dir, 'keys'), '--host-key-dir', dir, '--address', '127.0.0.1', '--port', String(proxy.port), '--no-reload'], { encoding: 'utf8' });
      if (script.status !== 0) throw new Error(`setup-node-sftp.sh failed for ${node}: ${script.stderr}`);
      const log: string[] = [];
      const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(child);
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stderr! }).on('line', (l) => {
          log.push(l);
          if (l.includes(`Server listening on 127.0.0.1 port ${sshdPort}`)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`sshd for ${node} exited (${code}): ${log.join('\n')}`)));
      });
      nodes.push({ node, storagePath, port: proxy.port, sshdPort, hostKeyLines: script.stdout, log, proxy });
    }
  } catch (e) {
    for (const p of procs) p.kill('SIGTERM');
    for (const n of nodes) await n.proxy.close();
    throw e;
  }
  return {
    nodes,
    privateKeyFile,
    privateKey: readFileSync(privateKeyFile, 'utf8'),
    knownHosts: nodes.map((n) => n.hostKeyLines).join(''),
    hosts: nodes.map((n) => `${n.node}=127.0.0.1:${n.port}`).join(','),
    foreignKeyLine(node: string) {
      const n = nodes.find((x) => x.node === node)!;
      const f = join(conf, `${node}-reinstalled`);
      keygen(f);
      return `[127.0.0.1]:${n.port} ${readFileSync(`${f}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`;
    },
    async stop() {
      await Promise.all(procs.map((p) => new Promise<void>((r) => {
        if (p.exitCode !== null) return r();
        p.once('exit', () => r());
        p.kill('SIGTERM');
      })));
      for (const n of nodes) await n.proxy.close();
    },
  };
}

/**
 * A TCP relay in front of sshd. `cutAfter(n)`: the connection that next carries n more bytes from
 * the client is cut there (both sides destroyed), as a network failure would.
 */
export class CutProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private armed: number | undefined;
  /** connections accepted, ever */
  accepted = 0;
  cuts = 0;
  private onCut: (() => void) | undefined;

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(target: number): Promise<CutProxy> {
    let self: CutProxy | undefined;
    const server = createServer((client) => self!.relay(client, target));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new CutProxy(server, (server.address() as { port: number }).port);
    return self;
  }

  private relay(client: Socket, target: number): void {
    this.accepted++;
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    let sent = 0;
    let armedAt: number | undefined;
    client.on('data', (chunk: Buffer) => {
      if (this.armed !== undefined && armedAt === undefined) armedAt = sent;
      sent += chunk.length;
      if (this.armed !== undefined && armedAt !== undefined && sent - armedAt >= this.armed) {
        this.armed = undefined;
        this.cuts++;
        client.destroy();
        upstream.destroy();
        this.onCut?.();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  /** Cuts the next connection to carry `bytes` more from the client; resolves when it has. */
  cutAfter(bytes: number): Promise<void> {
    this.armed = bytes;
    return new Promise((r) => {
      this.onCut = () => {
        this.onCut = undefined;
        r();
      };
    });
  }

  /** Every open connection dropped now. */
  cutAll(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((r) => this.server.close(r));
  }
}
