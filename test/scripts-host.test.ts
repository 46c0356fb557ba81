/**
 * The host-side scripts, run for real with fake Proxmox tools (pct, pveum, pvesh, pveam, pvesm,
 * pveversion from test/fixtures/bin) that record how they were called. A dry run must print exactly
 * the commands a real run executes, and call none of the tools that change anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = process.cwd();
const FAKE_BIN = join(REPO, 'test/fixtures/bin');
const SECRET = '0b7c2f3e-5d1a-4c8e-9f6b-2a4d6e8f0a1c';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every call the fake tools saw: [tool, ...args]. */
  calls: string[][];
  /** The commands a dry run printed, parsed back into argv. */
  printed: string[][];
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pvr-scripts-'));
  dirs.push(d);
  return d;
}

/** Parses `+ cmd arg…` lines (bash %q quoting) back into argv, with bash itself. */
function parsePrinted(stdout: string): string[][] {
  const lines = stdout.split('\n').filter((l) => l.startsWith('+ '));
  if (lines.length === 0) return [];
  const parsed = spawnSync('bash', ['-c', 'while IFS= read -r l; do eval "set -- ${l#+ }"; printf "%s\\x1f" "$@"; printf "\\x1e"; done'], {
    input: lines.join('\n') + '\n',
    encoding: 'utf8',
  });
  return parsed.stdout.split('\x1e').filter(Boolean).map((r) => r.split('\x1f').slice(0, -1));
}

function runScript(script: string, args: string[], env: Record<string, string> = {}, withFakes = true): Run {
  const dir = tempDir();
  const log = join(dir, 'calls');
  const result = spawnSync('bash', [join(REPO, 'scripts', script), ...args], {
    encoding: 'utf8',
    env: { PATH: `${withFakes ? `${FAKE_BIN}:` : ''}/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_LOG: log, HOME: dir, ...env },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\x1e').filter(Boolean).map((r) => r.split('\x1f')) : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, printed: parsePrinted(result.stdout) };
}

const mutating = (calls: string[][], tool: string, readOnly: string[]) => calls.filter((c) => c[0] === tool && !readOnly.includes(c[1] ?? ''));

describe('create-proxmox-token.sh', () => {
  const args = ['--template', '9000', '--template', '9001', '--storage', 'local-lvm', '--pool', 'ci'];
  const TOKEN = 'pve-runners@pve!daemon';
  const acl = (path: string, role: string) => ['pveum', 'acl', 'modify', path, '--roles', role, '--users', 'pve-runners@pve', '--tokens', TOKEN, '--propagate', '1'];

  it('--dry-run prints the role, user, privilege-separated token, pool and ACLs, and changes nothing', () => {
    const r = runScript('create-proxmox-token.sh', [...args, '--dry-run']);
    expect(r.status).toBe(0);
    expect(r.printed).toEqual([
      ['pveum', 'role', 'add', 'PVERunners', '--privs', 'VM.Allocate VM.Audit VM.PowerMgmt VM.Config.Cloudinit VM.Config.Options VM.Config.CPU VM.Config.Memory'],
      ['pveum', 'role', 'add', 'PVERunnersObserver', '--privs', 'Sys.Audit Datastore.Audit'],
      ['pveum', 'user', 'add', 'pve-runners@pve', '--comment', 'pve-runners daemon (API token only, no password)'],
      ['pveum', 'pool', 'add', 'ci', '--comment', 'pve-runners: ephemeral GitHub Actions runner VMs'],
      ['pveum', 'user', 'token', 'add', 'pve-runners@pve', 'daemon', '--privsep', '1', '--comment', 'pve-runners daemon', '--output-format', 'json'],
      acl('/pool/ci', 'PVERunners'),
      acl('/vms/9000', 'PVETemplateUser'),
      acl('/vms/9001', 'PVETemplateUser'),
      acl('/storage/local-lvm', 'PVEDatastoreUser'),
      acl('/storage/local', 'PVERunnersObserver'),
      acl('/nodes', 'PVERunnersObserver'),
      acl('/sdn/zones/localnetwork/vmbr0', 'PVESDNUser'),
    ]);
    expect(r.calls.filter((c) => c[0] === 'pveum')).toEqual([]);
    expect(r.calls.every((c) => c[0] === 'pveversion' || (c[0] === 'pvesh' && c[1] === 'get'))).toBe(true);
  });

  it('a real run executes exactly what the dry run printed and shows the secret once', () => {
    const dry = runScript('create-proxmox-token.sh', [...args, '--dry-run']);
    const real = runScript('create-proxmox-token.sh', args);
    expect(real.status).toBe(0);
    expect(real.calls.filter((c) => c[0] === 'pveum')).toEqual(dry.printed);
    expect(real.stdout.split(SECRET)).toHaveLength(2);
    expect(real.stdout).toContain(`PROXMOX_TOKEN_ID=${TOKEN}`);
    expect(real.stderr).not.toContain(SECRET);
  });

  it('is idempotent: existing objects are updated, the token is kept, ACLs are reapplied', () => {
    const existing = '/access/roles/PVERunners /access/roles/PVERunnersObserver /access/users/pve-runners@pve /pools/ci /access/users/pve-runners@pve/token/daemon';
    const r = runScript('create-proxmox-token.sh', args, { FAKE_EXISTING: existing });
    expect(r.status).toBe(0);
    const pveum = r.calls.filter((c) => c[0] === 'pveum');
    expect(pveum.map((c) => c.slice(1, 3).join(' '))).toEqual(['role modify', 'role modify', ...Array(7).fill('acl modify')]);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stderr).toContain('already exists');

    const rotated = runScript('create-proxmox-token.sh', [...args, '--rotate'], { FAKE_EXISTING: existing });
    expect(rotated.calls.filter((c) => c[0] === 'pveum' && c[1] === 'user').map((c) => c.slice(1, 4))).toEqual([
      ['user', 'token', 'remove'],
      ['user', 'token', 'add'],
    ]);
    expect(rotated.stdout).toContain(SECRET);
  });

  it('skips the SDN ACL on Proxmox VE 7, which has no SDN permission paths', () => {
    const r = runScript('create-proxmox-token.sh', [...args, '--dry-run'], { FAKE_PVE_VERSION: '7.4-3' });
    expect(r.printed.map((c) => c[3])).not.toContain('/sdn/zones/localnetwork/vmbr0');
  });

  it('refuses clearly when not on a Proxmox host', () => {
    const r = runScript('create-proxmox-token.sh', [...args, '--dry-run'], {}, false);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a Proxmox VE host \(pveversion pveum pvesh not found\)/);
    expect(r.stdout).toBe('');
  });

  it('refuses bad arguments before touching anything', () => {
    const r = runScript('create-proxmox-token.sh', ['--storage', 'local-lvm']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--template VMID/);
    expect(r.calls).toEqual([]);
  });
});

describe('bootstrap-lxc.sh', () => {
  function pkg(): string {
    const f = join(tempDir(), 'pve-runners-0.1.0.tar.gz');
    writeFileSync(f, 'not inspected by the bootstrap');
    return f;
  }
  const base = (p: string) => ['--package', p, '--node', 'pve1'];
  const MP0 = '/var/lib/vz/snippets,mp=/mnt/pve-snippets/pve1,backup=0';
  const READ_ONLY = { pct: ['list', 'status', 'config'], pveam: ['available', 'list'] };

  it('hands the cluster CA to the container so the daemon can verify the node certificates', () => {
    const ca = join(tempDir(), 'pve-root-ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run'], { PVE_ROOT_CA: ca });
    expect(r.status).toBe(0);
    expect(r.printed).toContainEqual(['pct', 'push', '120', ca, '/root/pve-runners-install/pve-root-ca.pem', '--perms', '0644']);
    const without = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run'], { PVE_ROOT_CA: join(tempDir(), 'absent.pem') });
    expect(without.printed.some((c) => c[4]?.endsWith('pve-root-ca.pem'))).toBe(false);
  });

  it('--dry-run on a fresh node: snippets storage, template, container with the bind mount, install', () => {
    const p = pkg();
    const r = runScript('bootstrap-lxc.sh', [...base(p), '--dry-run']);
    expect(r.status).toBe(0);
    const cmd = (tool: string, sub: string) => r.printed.filter((c) => c[0] === tool && c[1] === sub);

    expect(cmd('pvesm', 'set')).toEqual([['pvesm', 'set', 'local', '--content', 'iso,vztmpl,backup,snippets']]);
    expect(r.printed).toContainEqual(['chgrp', '100990', '/var/lib/vz/snippets']);
    expect(r.printed).toContainEqual(['chmod', '2770', '/var/lib/vz/snippets']);
    expect(cmd('pveam', 'download')).toEqual([['pveam', 'download', 'local', 'debian-13-standard_13.1-1_amd64.tar.zst']]);

    const [create] = cmd('pct', 'create');
    expect(create!.slice(0, 4)).toEqual(['pct', 'create', '120', 'local:vztmpl/debian-13-standard_13.1-1_amd64.tar.zst']);
    const opt = (name: string) => create![create!.indexOf(name) + 1];
    expect(opt('--mp0')).toBe(MP0);
    expect(opt('--unprivileged')).toBe('1');
    expect(opt('--features')).toBe('nesting=1');
    expect(opt('--hostname')).toBe('pve-runners');
    expect(opt('--rootfs')).toBe('local-lvm:8');
    expect(opt('--onboot')).toBe('1');
    expect(cmd('pct', 'start')).toEqual([['pct', 'start', '120']]);

    const pushes = cmd('pct', 'push');
    expect(pushes).toContainEqual(['pct', 'push', '120', p, '/root/pve-runners-install/pve-runners.tar.gz', '--perms', '0600']);
    expect(pushes).toContainEqual(['pct', 'push', '120', join(REPO, 'scripts/install.sh'), '/root/pve-runners-install/install.sh', '--perms', '0700']);
    expect(pushes.find((c) => c[4] === '/root/pve-runners-install/pve-runners.env')?.slice(5)).toEqual(['--perms', '0600']);
    const exec = cmd('pct', 'exec').at(-1)!;
    expect(exec.slice(0, 5)).toEqual(['pct', 'exec', '120', '--', '/root/pve-runners-install/install.sh']);
    expect(exec).toEqual(expect.arrayContaining(['--service-id', '990', '--snippets-mount', '/mnt/pve-snippets', '--keep-env', '--keep-pools']));

    // Nothing that changes state was called: only queries reached the fake tools.
    expect(mutating(r.calls, 'pct', READ_ONLY.pct)).toEqual([]);
    expect(mutating(r.calls, 'pveam', READ_ONLY.pveam)).toEqual([]);
    expect(mutating(r.calls, 'pvesm', [])).toEqual([]);
  });

  it('updates an existing container in place instead of creating one, and keeps existing snippets content', () => {
    const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run'], {
      FAKE_CTS: '130:running',
      FAKE_PCT_CONFIG: `hostname: pve-runners\nmp0: ${MP0}`,
      FAKE_STORAGE_CONTENT: 'iso,snippets,vztmpl',
      FAKE_VZTMPL: 'debian-13-standard_13.1-1_amd64.tar.zst',
    });
    expect(r.status).toBe(0);
    const verbs = r.printed.filter((c) => c[0] === 'pct' || c[0] === 'pveam' || c[0] === 'pvesm').map((c) => `${c[0]} ${c[1]}`);
    expect(verbs).not.toContain('pct create');
    expect(verbs).not.toContain('pct reboot');
    expect(verbs).not.toContain('pveam download');
    expect(verbs).not.toContain('pvesm set');
    const set = r.printed.find((c) => c[0] === 'pct' && c[1] === 'set')!;
    expect(set.slice(0, 3)).toEqual(['pct', 'set', '130']);
    expect(set[set.indexOf('--mp0') + 1]).toBe(MP0);
  });

  it('reboots a running container whose bind mount changed, so the new mount takes effect', () => {
    const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--snippets-dir', '/srv/snippets'], {
      FAKE_CTS: '130:running',
      FAKE_PCT_CONFIG: `hostname: pve-runners\nmp0: ${MP0}`,
    });
    expect(r.status).toBe(0);
    expect(r.printed).toContainEqual(['pct', 'reboot', '130']);
    expect(r.printed).toContainEqual(['chgrp', '100990', '/srv/snippets']);
  });

  it('refuses to take over a container that is not its own', () => {
    const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ctid', '130'], { FAKE_CTS: '130:running', FAKE_PCT_CONFIG: 'hostname: database' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/container 130 exists but is not 'pve-runners'/);
  });

  it('refuses clearly when not on a Proxmox host', () => {
    const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run'], {}, false);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a Proxmox VE host/);
    expect(r.stdout).toBe('');
  });

  describe('--ha', () => {
    const ceph = { FAKE_STORAGE_TYPES: 'ceph-ct=rbd cephfs=cephfs' };
    const ha = (r: Run) => r.printed.filter((c) => c[0] === 'ha-manager');

    it('--dry-run with the disk on shared storage: registers ct:<id> with ha-manager after the install, and warns that local snippets do not follow the container', () => {
      const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha', '--rootfs-storage', 'ceph-ct'], ceph);
      expect(r.status).toBe(0);
      expect(ha(r)).toEqual([['ha-manager', 'add', 'ct:120', '--state', 'started', '--max_restart', '2', '--max_relocate', '2', '--comment', 'pve-runners daemon (scripts/bootstrap-lxc.sh --ha)']]);
      // the container exists and runs the daemon before HA takes it over
      const at = (tool: string, sub: string) => r.printed.findIndex((c) => c[0] === tool && c[1] === sub);
      expect(at('ha-manager', 'add')).toBeGreaterThan(at('pct', 'exec'));
      const create = r.printed.find((c) => c[0] === 'pct' && c[1] === 'create')!;
      expect(create[create.indexOf('--rootfs') + 1]).toBe('ceph-ct:8');
      expect(create[create.indexOf('--mp0') + 1]).toBe(MP0);
      expect(r.stderr).toMatch(/warning: --ha with snippet storage local \(dir\) local to pve1: .*delivery: sftp or guest-agent/);
      // only queries reached the fake tools
      expect(mutating(r.calls, 'ha-manager', ['config'])).toEqual([]);
      expect(mutating(r.calls, 'pct', READ_ONLY.pct)).toEqual([]);
    });

    it('a shared snippet storage is mounted once, marked shared (so HA may migrate the container); a resource already managed is set started, not added again', () => {
      const r = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha', '--rootfs-storage', 'ceph-ct', '--snippet-storage', 'cephfs', '--snippets-dir', '/mnt/pve/cephfs/snippets'], { ...ceph, FAKE_HA_CONFIG: 'ct:120\n\tstate started' });
      expect(r.status).toBe(0);
      const create = r.printed.find((c) => c[0] === 'pct' && c[1] === 'create')!;
      expect(create[create.indexOf('--mp0') + 1]).toBe('/mnt/pve/cephfs/snippets,mp=/mnt/pve-snippets/shared,backup=0,shared=1');
      expect(ha(r)).toEqual([['ha-manager', 'set', 'ct:120', '--state', 'started']]);
      expect(r.stderr).not.toMatch(/warning/);
    });

    it('refuses, before changing anything, a container disk only this node sees, a standalone node, or a cluster without quorum', () => {
      const local = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha'], ceph);
      expect(local.status).toBe(1);
      expect(local.stderr).toMatch(/--ha: --rootfs-storage local-lvm \(dir\) is local to pve1, so no other node could start the container after a failure/);
      const standalone = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha', '--rootfs-storage', 'ceph-ct'], { ...ceph, FAKE_CLUSTER_STATUS: '[{"id":"node/pve1","type":"node","online":1}]' });
      expect(standalone.stderr).toMatch(/--ha needs a cluster: this node is standalone/);
      const noQuorum = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha', '--rootfs-storage', 'ceph-ct'], { ...ceph, FAKE_CLUSTER_STATUS: '[{"id":"cluster","type":"cluster","quorate":0,"nodes":3}]' });
      expect(noQuorum.stderr).toMatch(/the cluster is not quorate now/);
      for (const r of [local, standalone, noQuorum]) {
        expect(r.status).toBe(1);
        expect(r.printed).toEqual([]);
      }
      // a replicated ZFS pool is allowed, with what a failover then loses said
      const zfs = runScript('bootstrap-lxc.sh', [...base(pkg()), '--dry-run', '--ha', '--rootfs-storage', 'tank'], { FAKE_STORAGE_TYPES: 'tank=zfspool' });
      expect(zfs.status).toBe(0);
      expect(zfs.stderr).toMatch(/warning: --ha with the disk on ZFS pool tank: .*pvesr create-local-job/);
    });
  });

  it('needs a release package', () => {
    const r = runScript('bootstrap-lxc.sh', ['--dry-run']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--package is required/);
  });
});
