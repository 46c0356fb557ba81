/**
 * The shipped shell scripts and systemd unit, checked by the real tools that judge them:
 * shellcheck and systemd-analyze. Any output from either counts as a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CREDENTIAL_NAMES } from '../src/config/env.js';
import { describeWithTools, SHELLCHECK, SYSTEMD_ANALYZE } from './helpers/tools.js';

const REPO = process.cwd();
const UNIT = join(REPO, 'systemd/pve-runners.service');
const unitText = () => readFileSync(UNIT, 'utf8');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Every shell script we ship or test with: *.sh, and files whose first line is a bash/sh shebang. */
function shellScripts(): string[] {
  const roots = ['scripts', 'runners', 'test/fixtures/bin'].map((d) => join(REPO, d)).filter(existsSync);
  return roots
    .flatMap(walk)
    .filter((f) => f.endsWith('.sh') || /^#!.*\b(ba)?sh\b/.test(readFileSync(f, 'utf8').split('\n', 1)[0] ?? ''))
    .sort();
}

describe('shell scripts', () => {
  it('include the ones the product depends on', () => {
    const names = shellScripts().map((f) => relative(REPO, f));
    expect(names).toEqual(expect.arrayContaining([
      'runners/linux/run-once.sh',
      'scripts/bootstrap-lxc.sh',
      'scripts/create-proxmox-token.sh',
      'scripts/install.sh',
      'scripts/package.sh',
      'scripts/setup-node-sftp.sh',
    ]));
  });

  describeWithTools([SHELLCHECK], 'shellcheck', () => {
    it('pass shellcheck with no findings at all', () => {
      const files = shellScripts();
      // -x follows sourced files; --severity=style reports everything shellcheck knows.
      const r = spawnSync('shellcheck', ['-x', '--severity=style', ...files], { cwd: REPO, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  });

  it('are executable', () => {
    for (const f of shellScripts().filter((f) => !f.endsWith('common.sh') && !f.endsWith('_record.sh'))) {
      expect({ f: relative(REPO, f), exec: (statSync(f).mode & 0o111) !== 0 }).toEqual({ f: relative(REPO, f), exec: true });
    }
  });
});

describe('systemd/pve-runners.service', () => {
  it('has the contract settings: simple, unprivileged, restarts except on exit 78, credentials, env file', () => {
    const directives = unitText().split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
    expect(directives).toEqual(expect.arrayContaining([
      'Type=simple',
      'User=pve-runners',
      'Restart=on-failure',
      'RestartPreventExitStatus=78',
      'EnvironmentFile=/etc/pve-runners/pve-runners.env',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      // `systemctl reload` re-reads pools.yaml (SIGHUP); /run/pve-runners holds the state `status` shows
      'ExecReload=/bin/kill -HUP $MAINPID',
      'RuntimeDirectory=pve-runners',
    ]));
    expect(directives.filter((d) => d.startsWith('ReadWritePaths='))).toEqual(['ReadWritePaths=/mnt/pve-snippets']);
    // Exactly the credential names the daemon looks up in $CREDENTIALS_DIRECTORY.
    expect(directives.filter((d) => d.startsWith('LoadCredential=')).sort()).toEqual(Object.values(CREDENTIAL_NAMES).map((n) => `LoadCredential=${n}`).sort());
    expect(directives.filter((d) => /^Environment=.*(SECRET|TOKEN|KEY)/.test(d))).toEqual([]);
  });
});

describeWithTools([SYSTEMD_ANALYZE], 'systemd/pve-runners.service checked by systemd-analyze', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pvr-unit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * `verify` checks that ExecStart's binary exists. The unit names Debian's /usr/bin/node; where this
   * machine's node lives elsewhere, verify a copy that differs in that one path only.
   */
  const verifiable = (text: string) => (existsSync('/usr/bin/node') ? text : text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  const verify = (text: string) => {
    const file = join(dir, 'pve-runners.service');
    writeFileSync(file, verifiable(text));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
    return { status: r.status, output: (r.stdout + r.stderr).trim() };
  };

  it('passes systemd-analyze verify without a single warning', () => {
    expect(verify(unitText())).toEqual({ status: 0, output: '' });
  });

  it('verify is strict enough to catch a mistake (a misspelled directive)', () => {
    expect(verify(unitText().replace('ProtectHome=yes', 'ProtectHomes=yes')).output).toMatch(/Unknown key 'ProtectHomes'/);
  });

  it('is rated well by systemd-analyze security', () => {
    const file = join(dir, 'pve-runners.service');
    writeFileSync(file, verifiable(unitText()));
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', file], { encoding: 'utf8' });
    const m = /Overall exposure level for pve-runners\.service: (\d+\.\d+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    // 0 is fully locked down, 10 is unprotected; systemd calls < 2 "OK".
    expect(Number(m![1])).toBeLessThan(2);
  });
});
