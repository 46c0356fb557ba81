/**
 * SFTP delivery's settings (pools with `delivery: sftp`): who logs in where, with which key, trusting
 * which host keys. Read always, required only when a pool uses sftp (see sftpProblems).
 */
import ssh2 from 'ssh2';
import { KnownHosts } from '../snippets/known-hosts.js';
import type { EnvReader } from './env-reader.js';
import { readSecret, secretHowTo } from './env-secrets.js';
import { describeFsError, fsFix, MAX_CONFIG_BYTES } from './fs.js';
import type { ConfigProblem } from './errors.js';
import { ENVIRONMENT } from './errors.js';
import type { Secret } from './secret.js';

export interface SftpSettings {
  readonly user: string;
  readonly port: number;
  /** OpenSSH or PEM private key text */
  readonly privateKey: Secret | undefined;
  readonly knownHostsFile: string | undefined;
  readonly knownHosts: KnownHosts | undefined;
  /** node → host[:port] (SFTP_HOSTS); a node not named is reached by its name on `port` */
  readonly hosts: ReadonlyMap<string, { host: string; port: number }>;
}

const USER_RE = /^[a-z_][a-z0-9_-]*[$]?$/;
const HOSTS_FIX = 'set SFTP_HOSTS to node=host[:port] pairs separated by commas, e.g. pve1=10.0.0.11,pve2=10.0.0.12:2222';

export function sftpSettings(r: EnvReader): SftpSettings {
  const user = r.raw('SFTP_USER') ?? 'pve-runners';
  if (!USER_RE.test(user)) r.problem('SFTP_USER', `'${user}' is not a user name`, 'set SFTP_USER to the account scripts/setup-node-sftp.sh made (default pve-runners)');
  const port = r.int('SFTP_PORT', 1, 'set SFTP_PORT to the nodes\' SSH port, e.g. 22') ?? 22;
  if (port > 65535) r.problem('SFTP_PORT', `${port} is not a TCP port`, 'set SFTP_PORT to the nodes\' SSH port, e.g. 22');

  let privateKey = readSecret(r, 'SFTP_PRIVATE_KEY');
  if (privateKey) {
    const parsed = ssh2.utils.parseKey(privateKey.reveal());
    if (parsed instanceof Error || (Array.isArray(parsed) ? parsed.length === 0 : !parsed.isPrivateKey?.())) {
      // ssh2's message may quote the key's text: never repeated here.
      r.problem('SFTP_PRIVATE_KEY', `the value from ${privateKey.source} is not an unencrypted SSH private key`, 'make one with ssh-keygen -t ed25519 -N "" -f sftp_key and use the file sftp_key (not sftp_key.pub), e.g. via SFTP_PRIVATE_KEY_FILE');
      privateKey = undefined;
    }
  }

  const khRaw = r.raw('SFTP_KNOWN_HOSTS_FILE');
  let knownHosts: KnownHosts | undefined;
  const knownHostsFile = khRaw === undefined ? undefined : r.path(khRaw);
  if (knownHostsFile !== undefined) {
    try {
      const { hosts, problems } = KnownHosts.parse(r.fsRead(knownHostsFile, MAX_CONFIG_BYTES));
      for (const p of problems) r.problem('SFTP_KNOWN_HOSTS_FILE', `${khRaw} line ${p.line} ${p.message}`, 'fix or delete that line; lines are as ssh writes them, or copy /etc/pve/priv/known_hosts from a node');
      if (problems.length === 0) knownHosts = hosts;
    } catch (e) {
      r.problem('SFTP_KNOWN_HOSTS_FILE', `cannot read ${khRaw}: ${describeFsError(e)}`, fsFix(e, 'SFTP_KNOWN_HOSTS_FILE', 'point SFTP_KNOWN_HOSTS_FILE at a readable copy of /etc/pve/priv/known_hosts'));
    }
  }

  const hosts = new Map<string, { host: string; port: number }>();
  const hostsRaw = r.raw('SFTP_HOSTS');
  for (const pair of hostsRaw === undefined ? [] : hostsRaw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([a-zA-Z0-9][a-zA-Z0-9-]*)=(\[[0-9a-fA-F:]+\]|[^\s:[\]=]+)(?::(\d{1,5}))?$/.exec(pair);
    if (!m || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))) {
      r.problem('SFTP_HOSTS', `'${pair}' is not node=host[:port]`, HOSTS_FIX);
      continue;
    }
    hosts.set(m[1]!, { host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port: m[3] === undefined ? port : Number(m[3]) });
  }
  return { user, port, privateKey, knownHostsFile, knownHosts, hosts };
}

/** What a pool with `delivery: sftp` needs from the environment, named against that pool. */
export function sftpProblems(s: SftpSettings | undefined, pools: ReadonlyArray<{ name: string; delivery: string }>, poolsFile: string): ConfigProblem[] {
  const users = pools.filter((p) => p.delivery === 'sftp').map((p) => `'${p.name}'`);
  if (!s || users.length === 0) return [];
  const why = `pool ${users.join(', ')} in ${poolsFile} has delivery: sftp`;
  const out: ConfigProblem[] = [];
  if (!s.privateKey) out.push({ file: ENVIRONMENT, path: 'SFTP_PRIVATE_KEY', message: `is not set, but ${why}`, fix: `${secretHowTo('SFTP_PRIVATE_KEY')}: the private key whose public half scripts/setup-node-sftp.sh installed on every node` });
  if (!s.knownHostsFile) out.push({ file: ENVIRONMENT, path: 'SFTP_KNOWN_HOSTS_FILE', message: `is not set, but ${why}`, fix: 'set SFTP_KNOWN_HOSTS_FILE to a copy of /etc/pve/priv/known_hosts, or to the lines scripts/setup-node-sftp.sh printed on each node' });
  return out;
}
