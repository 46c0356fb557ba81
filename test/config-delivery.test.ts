/** pools.yaml `delivery` and the SFTP_* settings a pool with delivery: sftp needs, as the daemon loads them. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import ssh2 from 'ssh2';
import { ConfigError, EXIT_CONFIG, formatProblem, loadSettings } from '../src/config/index.js';
import type { Env } from '../src/config/index.js';

const SECRET = '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f';
const KEY = ssh2.utils.generateKeyPairSync('ed25519');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-delivery-'));
  cpSync(resolve('cloud-init'), join(dir, 'cloud-init'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function pools(edit: (t: string) => string = (t) => t): string {
  const f = join(dir, 'pools.yaml');
  writeFileSync(f, edit(readFileSync(resolve('pools.yaml'), 'utf8')));
  return f;
}
const env = (extra: Env = {}): Env => ({ PROXMOX_URL: 'https://pve1:8006', PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon', PROXMOX_TOKEN_SECRET: SECRET, GITHUB_TOKEN: 'ghp_x', ...('RUNNER_POOLS_CONFIG' in extra ? {} : { RUNNER_POOLS_CONFIG: pools() }), ...extra });
const sftpPool = (t: string) => t.replace('    vmid_range: [200, 229]', '    delivery: sftp\n    vmid_range: [200, 229]');
function problems(e: Env): string[] {
  try {
    loadSettings(e, { cwd: dir });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.exitCode).toBe(EXIT_CONFIG);
    return err.problems.map(formatProblem);
  }
  throw new Error('expected a ConfigError');
}

describe('delivery', () => {
  it('defaults to dir; a pool or defaults may set it', () => {
    expect(loadSettings(env(), { cwd: dir }).config.pools.map((p) => p.delivery)).toEqual(['dir', 'dir', 'dir']);
    const kh = join(dir, 'kh');
    writeFileSync(kh, `pve1 ${KEY.public}\n`);
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, KEY.private);
    const s = loadSettings(env({ RUNNER_POOLS_CONFIG: pools((t) => sftpPool(t).replace('  max_runners: 4\n', '  max_runners: 4\n  delivery: guest-agent\n').replace(/\n    user_data: cloud-init\/(ubuntu-2204|windows-2022)\.yaml[^\n]*/g, '')), SFTP_PRIVATE_KEY_FILE: keyFile, SFTP_KNOWN_HOSTS_FILE: kh, SFTP_HOSTS: 'pve1=10.0.0.11,pve2=[fd00::2]:2222' }), { cwd: dir });
    expect(s.config.pools.map((p) => p.delivery)).toEqual(['sftp', 'guest-agent', 'guest-agent']);
    expect(s.env.sftp.user).toBe('pve-runners');
    expect(s.env.sftp.port).toBe(22);
    expect([...s.env.sftp.hosts]).toEqual([['pve1', { host: '10.0.0.11', port: 22 }], ['pve2', { host: 'fd00::2', port: 2222 }]]);
    expect(s.env.sftp.privateKey?.source).toBe(`SFTP_PRIVATE_KEY_FILE=${keyFile}`);
    expect(inspect(s.env.sftp)).not.toContain(KEY.private.split('\n')[1]!);
  });

  it('rejects an unknown mode, naming file, path and the choices', () => {
    const out = problems(env({ RUNNER_POOLS_CONFIG: pools((t) => t.replace('  max_runners: 4\n', '  max_runners: 4\n  delivery: scp\n')) }));
    expect(out.join('\n')).toMatch(/pools\.yaml: defaults\.delivery \(line \d+\): .*dir.*sftp.*guest-agent/);
  });

  it('a pool with delivery: sftp needs the key and the pinned host keys; each is named with its fix', () => {
    const out = problems(env({ RUNNER_POOLS_CONFIG: pools(sftpPool) }));
    expect(out).toEqual([
      expect.stringMatching(/^environment: SFTP_PRIVATE_KEY: is not set, but pool 'ubuntu-2404' in .*pools\.yaml has delivery: sftp — fix: set SFTP_PRIVATE_KEY, or SFTP_PRIVATE_KEY_FILE .*sftp_private_key/),
      expect.stringMatching(/^environment: SFTP_KNOWN_HOSTS_FILE: is not set, but pool 'ubuntu-2404' .* — fix: set SFTP_KNOWN_HOSTS_FILE to a copy of \/etc\/pve\/priv\/known_hosts/),
    ]);
  });

  it('bad SFTP values are refused, never quoting the key', () => {
    const kh = join(dir, 'kh');
    writeFileSync(kh, 'pve1 ssh-ed25519\n');
    const notAKey = 'PRIVATE-KEY-THAT-IS-NOT-ONE-0123456789';
    const out = problems(env({ RUNNER_POOLS_CONFIG: pools(sftpPool), SFTP_PRIVATE_KEY: notAKey, SFTP_KNOWN_HOSTS_FILE: kh, SFTP_HOSTS: 'pve1', SFTP_PORT: '70000' }));
    expect(out).toEqual(expect.arrayContaining([
      expect.stringMatching(/^environment: SFTP_PORT: 70000 is not a TCP port/),
      expect.stringMatching(/^environment: SFTP_PRIVATE_KEY: the value from SFTP_PRIVATE_KEY is not an unencrypted SSH private key — fix: make one with ssh-keygen/),
      expect.stringMatching(/^environment: SFTP_KNOWN_HOSTS_FILE: .*kh line 1 is not "host\[,host…\] key-type base64-key"/),
      expect.stringMatching(/^environment: SFTP_HOSTS: 'pve1' is not node=host\[:port\]/),
    ]));
    for (const l of out) expect(l).not.toContain(notAKey);
  });
});
