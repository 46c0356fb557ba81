/**
 * scripts/install.sh, run for real under a temporary --root with fake groupadd/useradd/systemctl/
 * apt-get: the release lands in releases/VERSION behind the `current` symlink the unit uses, config
 * and secrets get their modes, existing config survives an update, and the stage is wiped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const REPO = process.cwd();
const FAKE_BIN = join(REPO, 'test/fixtures/bin');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvr-install-'));
  dirs.push(d);
  return d;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A stage as bootstrap-lxc.sh leaves it, with a release tarball shaped like scripts/package.sh's. */
function stage(version: string, env = 'PROXMOX_NODE=pve1\n'): string {
  const src = tmp();
  write(join(src, 'pve-runners/package.json'), JSON.stringify({ name: 'pve-runners', version }));
  write(join(src, 'pve-runners/dist/cli.js'), 'console.log("pve-runners")\n');
  write(join(src, 'pve-runners/node_modules/yaml/package.json'), '{"name":"yaml"}');
  write(join(src, 'pve-runners/systemd/pve-runners.service'), readFileSync(join(REPO, 'systemd/pve-runners.service'), 'utf8'));
  const s = join(tmp(), 'stage');
  mkdirSync(join(s, 'credstore'), { recursive: true });
  const tar = spawnSync('tar', ['-czf', join(s, 'pve-runners.tar.gz'), '-C', src, 'pve-runners']);
  expect(tar.status).toBe(0);
  write(join(s, 'pve-runners.env'), env);
  write(join(s, 'pools.yaml'), 'pools: []\n');
  write(join(s, 'credstore/proxmox_token_secret'), '0b7c2f3e-5d1a-4c8e-9f6b-2a4d6e8f0a1c\n');
  write(join(s, 'pve-root-ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  return s;
}

function install(root: string, stageDir: string, ...flags: string[]) {
  const log = join(tmp(), 'calls');
  const r = spawnSync('bash', [join(REPO, 'scripts/install.sh'), '--root', root, '--stage', stageDir, ...flags], {
    encoding: 'utf8',
    env: { PATH: `${FAKE_BIN}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_LOG: log },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\x1e').filter(Boolean).map((c) => c.split('\x1f')) : [];
  return { ...r, calls };
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('install.sh', () => {
  it('installs a release, its unit, config and credentials, then enables and restarts the service', () => {
    const root = tmp();
    const s = stage('1.2.3');
    const r = install(root, s);
    expect(r.stderr).toContain('installed release 1.2.3');
    expect(r.status).toBe(0);

    expect(readlinkSync(join(root, 'opt/pve-runners/current'))).toBe('releases/1.2.3');
    expect(existsSync(join(root, 'opt/pve-runners/current/dist/cli.js'))).toBe(true);
    expect(readFileSync(join(root, 'etc/systemd/system/pve-runners.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/pve-runners.service'), 'utf8'));
    expect(mode(join(root, 'etc/pve-runners/pve-runners.env'))).toBe('600');
    expect(mode(join(root, 'etc/pve-runners/pools.yaml'))).toBe('644');
    expect(mode(join(root, 'etc/credstore'))).toBe('700');
    expect(mode(join(root, 'etc/credstore/proxmox_token_secret'))).toBe('600');
    expect(readFileSync(join(root, 'etc/pve-runners/pve-root-ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(existsSync(join(root, 'mnt/pve-snippets'))).toBe(true);
    expect(existsSync(s)).toBe(false);

    const cmds = r.calls.filter((c) => c[0] !== 'apt-get');
    // The service user is created with the fixed ids the host granted the snippets directory to
    // (unless this machine already has them, as a re-run would).
    for (const c of cmds.filter((c) => c[0] === 'groupadd' || c[0] === 'useradd')) expect(c).toEqual(expect.arrayContaining(['--system', 'pve-runners']));
    expect(cmds.filter((c) => c[0] === 'systemctl')).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'pve-runners.service'],
      ['systemctl', 'restart', 'pve-runners.service'],
    ]);
  });

  it('an update switches the release and keeps the operator\'s config unless told to replace it', () => {
    const root = tmp();
    expect(install(root, stage('1.0.0', 'A=1\n')).status).toBe(0);
    writeFileSync(join(root, 'etc/pve-runners/pve-runners.env'), 'EDITED=1\n');
    expect(install(root, stage('1.1.0', 'A=2\n'), '--keep-env').status).toBe(0);
    expect(readlinkSync(join(root, 'opt/pve-runners/current'))).toBe('releases/1.1.0');
    expect(existsSync(join(root, 'opt/pve-runners/releases/1.0.0'))).toBe(true);
    // an env file without an instance id gets one, once
    const edited = readFileSync(join(root, 'etc/pve-runners/pve-runners.env'), 'utf8');
    const id = /^INSTANCE_ID=(pvr-[0-9a-f]{8})$/m.exec(edited)?.[1];
    expect(id).toBeDefined();
    expect(edited.startsWith('EDITED=1\n')).toBe(true);

    // replaced, the file keeps the installation's id (its VMs carry it); one given is kept as it is
    expect(install(root, stage('1.1.0', 'A=3\n'), '--replace-env').status).toBe(0);
    const replaced = readFileSync(join(root, 'etc/pve-runners/pve-runners.env'), 'utf8');
    expect(replaced.startsWith('A=3\n')).toBe(true);
    expect(replaced.match(/^INSTANCE_ID=.*$/gm)).toEqual([`INSTANCE_ID=${id}`]);
    expect(install(root, stage('1.1.0', 'A=4\nINSTANCE_ID=ci-runners\n'), '--replace-env').status).toBe(0);
    expect(readFileSync(join(root, 'etc/pve-runners/pve-runners.env'), 'utf8')).toBe('A=4\nINSTANCE_ID=ci-runners\n');
  });

  it('refuses a tarball that is not a release, and changes nothing', () => {
    const root = tmp();
    const s = stage('1.0.0');
    const junk = tmp();
    write(join(junk, 'pve-runners/README'), 'x');
    spawnSync('tar', ['-czf', join(s, 'pve-runners.tar.gz'), '-C', junk, 'pve-runners']);
    const r = install(root, s);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a release from scripts\/package\.sh/);
    expect(existsSync(join(root, 'opt/pve-runners/current'))).toBe(false);
    expect(r.calls.filter((c) => c[0] === 'systemctl')).toEqual([]);
  });
});
