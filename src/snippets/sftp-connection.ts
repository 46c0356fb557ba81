/**
 * One node's SSH connection and SFTP session, opened on first use, reused, and dropped (to be
 * opened again by the next use) when it fails. The host key is checked against the pinned keys
 * before anything is sent: an unknown or changed key ends the handshake.
 */
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import type { KnownHosts } from './known-hosts.js';

export interface SftpEndpoint {
  node: string;
  host: string;
  port: number;
  user: string;
  privateKey: string;
  knownHosts: KnownHosts;
  /** how long the TCP connect and SSH handshake may take */
  readyTimeoutMs: number;
  /** a reused connection failed under an operation, which is tried once more on a new one */
  onReconnect?: (why: string) => void;
}

/** The node cannot be used for delivery: unreachable, refused our key, or its host key is not the pinned one. */
export class SftpUnavailable extends Error {
  constructor(readonly node: string, readonly reason: string) {
    super(`SFTP to node ${node}: ${reason}`);
  }
}

interface Session {
  client: ssh2.Client;
  sftp: SFTPWrapper;
  /** rejects when the connection ends: an operation under way then fails instead of waiting forever */
  closed: Promise<never>;
}

export class SftpConnection {
  private session: Promise<Session> | undefined;

  constructor(private readonly e: SftpEndpoint) {}

  /** Runs op on the session; a session that fails under it is dropped, and op tried once on a new one if the old was reused. */
  async use<T>(op: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const reused = this.session !== undefined;
    const s = await this.open();
    try {
      return await Promise.race([op(s.sftp), s.closed]);
    } catch (e) {
      if (!isSessionError(e)) throw e;
      this.drop(s.client);
      if (!reused) throw e;
      this.e.onReconnect?.(e instanceof Error ? e.message : String(e));
      const fresh = await this.open();
      try {
        return await Promise.race([op(fresh.sftp), fresh.closed]);
      } catch (e2) {
        if (isSessionError(e2)) this.drop(fresh.client);
        throw e2;
      }
    }
  }

  close(): void {
    const s = this.session;
    this.session = undefined;
    void s?.then((x) => x.client.end(), () => {});
  }

  private open(): Promise<Session> {
    if (!this.session) {
      const p = this.connect();
      this.session = p;
      p.catch(() => {
        if (this.session === p) this.session = undefined;
      });
    }
    return this.session;
  }

  private drop(client: ssh2.Client): void {
    void this.session?.then((s) => {
      if (s.client === client) this.session = undefined;
    }, () => {});
    client.end();
  }

  private connect(): Promise<Session> {
    const e = this.e;
    const pinned = e.knownHosts.keysFor(e.host, e.port).filter((k) => !k.revoked);
    const where = e.port === 22 ? e.host : `[${e.host}]:${e.port}`;
    const fix = `if the node was reinstalled or its key rotated on purpose, replace its line in SFTP_KNOWN_HOSTS_FILE with the one scripts/setup-node-sftp.sh prints (or ssh-keyscan -p ${e.port} ${e.host}, checked against the node's console); otherwise someone may be impersonating it`;
    return new Promise((resolve, reject) => {
      if (pinned.length === 0) {
        reject(new SftpUnavailable(e.node, `no host key for ${where} in SFTP_KNOWN_HOSTS_FILE, so it is not trusted; add the line scripts/setup-node-sftp.sh printed on node ${e.node}`));
        return;
      }
      const client = new ssh2.Client();
      let endSession: (e: Error) => void = () => {};
      const closed = new Promise<never>((_, rej) => (endSession = rej));
      closed.catch(() => {});
      let refused: string | undefined;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      client.on('error', (err: Error & { level?: string }) => {
        if (refused) fail(new SftpUnavailable(e.node, `${refused}; ${fix}`));
        else if (err.level === 'client-authentication') fail(new SftpUnavailable(e.node, `${where} refused the key for user ${e.user}; install SFTP_PRIVATE_KEY's public key with scripts/setup-node-sftp.sh on node ${e.node}`));
        else fail(new SftpUnavailable(e.node, `cannot connect to ${where}: ${err.message}`));
      });
      client.on('close', () => {
        fail(new SftpUnavailable(e.node, `${where} closed the connection during the handshake`));
        endSession(new Error(`the connection to ${where} was lost`));
        void this.session?.then((s) => {
          if (s.client === client) this.session = undefined;
        }, () => {});
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(new SftpUnavailable(e.node, `${where} gave no SFTP session for ${e.user}: ${err.message}`));
          settled = true;
          sftp.on('close', () => endSession(new Error(`the SFTP session with ${where} ended`)));
          resolve({ client, sftp, closed });
        });
      });
      client.connect({
        host: e.host,
        port: e.port,
        username: e.user,
        privateKey: e.privateKey,
        readyTimeout: e.readyTimeoutMs,
        // only the pinned key types: otherwise the server may offer another of its keys, not pinned
        algorithms: { serverHostKey: [...new Set(pinned.flatMap((k) => hostKeyAlgorithms(k.type)))] as ssh2.ServerHostKeyAlgorithm[] },
        hostVerifier: (key: Buffer) => {
          const v = e.knownHosts.verdict(e.host, e.port, key);
          if (v === 'ok') return true;
          refused = v === 'changed' ? `the host key of ${where} is not the one pinned in SFTP_KNOWN_HOSTS_FILE (it changed)` : v === 'revoked' ? `${where} offers a host key marked @revoked in SFTP_KNOWN_HOSTS_FILE` : `no host key for ${where} in SFTP_KNOWN_HOSTS_FILE`;
          return false;
        },
      });
    });
  }
}

/** known_hosts names the key type; RSA keys are signed with SHA-2 by current servers. */
function hostKeyAlgorithms(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

/** SFTP status errors (no such file, permission) carry a numeric code; anything else is the session failing. */
function isSessionError(e: unknown): boolean {
  return !(e instanceof Error && typeof (e as Error & { code?: unknown }).code === 'number');
}
