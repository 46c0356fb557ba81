/**
 * Host keys pinned from an OpenSSH known_hosts file (e.g. a copy of a PVE cluster's
 * /etc/pve/priv/known_hosts): plain and hashed (`|1|salt|hmac`) host patterns, `[host]:port` for a
 * port other than 22, `@revoked` lines. `@cert-authority` lines are not trusted (no CA support):
 * a host only they would admit is refused as unknown.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownKey {
  /** e.g. ssh-ed25519 */
  type: string;
  /** the key blob, as the server sends it */
  blob: Buffer;
  revoked: boolean;
}

interface Entry extends KnownKey {
  patterns: string[];
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export class KnownHosts {
  private constructor(private readonly entries: readonly Entry[]) {}

  static parse(text: string): { hosts: KnownHosts; problems: KnownHostsProblem[] } {
    const entries: Entry[] = [];
    const problems: KnownHostsProblem[] = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fields = line.split(/\s+/);
      let marker: string | undefined;
      if (fields[0]!.startsWith('@')) marker = fields.shift();
      if (marker === '@cert-authority') return;
      const [hosts, type, key] = fields;
      if (marker !== undefined && marker !== '@revoked') problems.push({ line: i + 1, message: `unknown marker ${marker}` });
      else if (hosts === undefined || type === undefined || key === undefined || !/^[A-Za-z0-9+/]+=*$/.test(key)) problems.push({ line: i + 1, message: 'is not "host[,host…] key-type base64-key"' });
      else entries.push({ patterns: hosts.split(','), type, blob: Buffer.from(key, 'base64'), revoked: marker === '@revoked' });
    });
    return { hosts: new KnownHosts(entries), problems };
  }

  /** The keys known for a host as ssh names it (`host`, or `[host]:port` when port ≠ 22). */
  keysFor(host: string, port: number): KnownKey[] {
    const name = port === 22 ? host : `[${host}]:${port}`;
    return this.entries.filter((e) => matches(e.patterns, name)).map(({ type, blob, revoked }) => ({ type, blob, revoked }));
  }

  /** 'ok', or why the offered key is refused. */
  verdict(host: string, port: number, offered: Buffer): 'ok' | 'unknown' | 'changed' | 'revoked' {
    const keys = this.keysFor(host, port);
    if (keys.some((k) => k.revoked && k.blob.equals(offered))) return 'revoked';
    const trusted = keys.filter((k) => !k.revoked);
    if (trusted.length === 0) return 'unknown';
    return trusted.some((k) => k.blob.length === offered.length && timingSafeEqual(k.blob, offered)) ? 'ok' : 'changed';
  }
}

function matches(patterns: readonly string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    const pat = negated ? p.slice(1) : p;
    if (!matchOne(pat, name)) continue;
    if (negated) return false;
    hit = true;
  }
  return hit;
}

function matchOne(pattern: string, name: string): boolean {
  const hashed = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(pattern);
  if (hashed) {
    const mac = createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest();
    const want = Buffer.from(hashed[2]!, 'base64');
    return mac.length === want.length && timingSafeEqual(mac, want);
  }
  // ssh's wildcards: * any run, ? one character; host names compare case-insensitively
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}
