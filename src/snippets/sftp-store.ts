import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import type { ObservedSnippet } from '../planner/observation.js';
import { isOurShape, tempName, type SnippetStore } from './store.js';
import { SftpConnection, SftpUnavailable, type SftpEndpoint } from './sftp-connection.js';

export interface SftpStoreOptions {
  nodes: readonly string[];
  storage: string;
  endpoint(node: string): Omit<SftpEndpoint, 'node'>;
  /** inside the account's chroot (the storage's path, see scripts/setup-node-sftp.sh) */
  remoteDir?: string;
  /** a node's delivery failing or coming back: said once per change, not every tick */
  onHealth(node: string, reason: string | undefined): void;
  onReconnect?(node: string, why: string): void;
}

/**
 * Snippets uploaded over SFTP into each node's own snippets directory (node-local storage, no
 * shared mount). Written to a temp name and renamed, mode 0600 from the open on, as DirSnippetStore.
 */
export class SftpSnippetStore implements SnippetStore {
  private readonly conns = new Map<string, SftpConnection>();
  private readonly down = new Map<string, string>();
  private readonly probing = new Set<string>();
  private readonly dir: string;

  constructor(private readonly o: SftpStoreOptions) {
    this.dir = o.remoteDir ?? '/snippets';
  }

  /** Nodes whose delivery failed when last tried, with why: placement skips them. */
  unavailable(): ReadonlyMap<string, string> {
    return this.down;
  }

  async write(node: string, file: string, content: string): Promise<void> {
    const tries: string[] = [];
    await this.use(node, async (sftp) => {
      // a try cut short on a dropped connection leaves its temp file: the retry removes it first
      for (const old of tries) await call<void>((cb) => sftp.unlink(old, cb)).catch(() => {});
      // a fresh name per try: a retry on a new connection must not meet the old try's temp file
      const tmp = `${this.dir}/${tempName(file, randomBytes(4).toString('hex'))}`;
      tries.push(tmp);
      try {
        await writeNew(sftp, tmp, content);
        await renameOver(sftp, tmp, `${this.dir}/${file}`);
      } catch (e) {
        // a dropped connection leaves the temp file; the next listing finds it and cleanup removes it
        await call<void>((cb) => sftp.unlink(tmp, cb)).catch(() => {});
        throw e;
      }
    });
  }

  async remove(node: string, file: string): Promise<void> {
    await this.use(node, (sftp) =>
      call<void>((cb) => sftp.unlink(`${this.dir}/${file}`, cb)).catch((e: unknown) => {
        if (!isNoSuchFile(e)) throw e;
      }),
    );
  }

  /**
   * Every node's listing; a node that cannot be reached is left out (and marked down), not a failed
   * tick. A node already down is tried again in the background: a host that drops packets would
   * otherwise hold every tick for the handshake's timeout.
   */
  async list(): Promise<ObservedSnippet[]> {
    const per = await Promise.all(
      this.o.nodes.map(async (node) => {
        if (this.down.has(node)) {
          if (!this.probing.has(node)) {
            this.probing.add(node);
            void this.listNode(node).catch(() => {}).finally(() => this.probing.delete(node));
          }
          return [];
        }
        try {
          return await this.listNode(node);
        } catch (e) {
          if (e instanceof SftpUnavailable) return [];
          throw e;
        }
      }),
    );
    return per.flat();
  }

  private async listNode(node: string): Promise<ObservedSnippet[]> {
    const entries = await this.use(node, (sftp) => call<{ filename: string }[]>((cb) => sftp.readdir(this.dir, cb)));
    return entries.filter((f) => isOurShape(f.filename)).map((f) => ({ node, file: f.filename }));
  }

  volid(file: string): string {
    return `${this.o.storage}:snippets/${file}`;
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }

  private async use<T>(node: string, op: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    let c = this.conns.get(node);
    if (!c) {
      const onReconnect = this.o.onReconnect;
      c = new SftpConnection({ node, ...this.o.endpoint(node), ...(onReconnect ? { onReconnect: (why: string) => onReconnect(node, why) } : {}) });
      this.conns.set(node, c);
    }
    try {
      const out = await c.use(op);
      this.health(node, undefined);
      return out;
    } catch (e) {
      if (e instanceof SftpUnavailable) this.health(node, e.reason);
      throw e;
    }
  }

  private health(node: string, reason: string | undefined): void {
    if (this.down.get(node) === reason) return;
    if (reason === undefined) this.down.delete(node);
    else this.down.set(node, reason);
    this.o.onHealth(node, reason);
  }
}

function call<T>(f: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));
}

async function writeNew(sftp: SFTPWrapper, path: string, content: string): Promise<void> {
  // 'wx': never onto an existing file; mode given at the open, so it is never readable by others
  const handle = await call<Buffer>((cb) => sftp.open(path, 'wx', { mode: 0o600 }, cb));
  try {
    const data = Buffer.from(content, 'utf8');
    let off = 0;
    while (off < data.length) {
      const n = Math.min(32 * 1024, data.length - off);
      await call<void>((cb) => sftp.write(handle, data, off, n, off, cb));
      off += n;
    }
    await call<void>((cb) => sftp.ext_openssh_fsync(handle, cb)).catch((e: unknown) => {
      if (!/does not support|not supported/.test(String((e as Error).message))) throw e;
    });
  } finally {
    await call<void>((cb) => sftp.close(handle, cb)).catch(() => {});
  }
}

/** posix-rename@openssh.com where the server has it (atomic, replaces); else SFTP's plain rename. */
function renameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  return call<void>((cb) => {
    try {
      sftp.ext_openssh_rename(from, to, cb);
    } catch {
      sftp.rename(from, to, cb);
    }
  });
}

function isNoSuchFile(e: unknown): boolean {
  return e instanceof Error && (e as Error & { code?: unknown }).code === 2;
}
