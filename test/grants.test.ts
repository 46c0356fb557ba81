/**
 * One source for the grants: scripts/create-proxmox-token.sh, run for real (--dry-run, with the fake
 * Proxmox tools of test/fixtures/bin), issues exactly the ACLs the simulator gives a scenario by
 * default, for the same inputs (every shipped scenario's templates, storages, snippet storage).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGrants, parseGrants, GrantsError } from '../src/proxmox/grants.js';
import { DEFAULT_TOKEN, DEFAULT_USER, scenarioAccess, scenarioGrantInputs } from '../src/sim/pve/access-scenario.js';
import { loadScenario, type Scenario } from '../src/sim/scenario.js';

const REPO = process.cwd();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The `pveum acl modify` / `role add` commands the script prints for a scenario's inputs. */
function scriptCommands(s: Scenario, pveVersion: string, guestAgent?: boolean): string[][] {
  const i = { ...scenarioGrantInputs(s), ...(guestAgent !== undefined ? { guestAgent } : {}) };
  const args = [...i.templates.flatMap((t) => ['--template', String(t)]), ...i.storages.flatMap((x) => ['--storage', x]), '--snippet-storage', i.snippetStorage, '--pool', i.pool, ...(i.guestAgent ? ['--guest-agent'] : []), '--dry-run'];
  const home = mkdtempSync(join(tmpdir(), 'pvr-grants-'));
  dirs.push(home);
  const r = spawnSync('bash', [join(REPO, 'scripts/create-proxmox-token.sh'), ...args], {
    encoding: 'utf8',
    env: { PATH: `${join(REPO, 'test/fixtures/bin')}:/usr/bin:/bin`, FAKE_LOG: join(home, 'calls'), HOME: home, FAKE_PVE_VERSION: pveVersion },
  });
  expect(r.stderr).not.toContain('error');
  expect(r.status).toBe(0);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('+ '));
  const parsed = spawnSync('bash', ['-c', 'while IFS= read -r l; do eval "set -- ${l#+ }"; printf "%s\\x1f" "$@"; printf "\\x1e"; done'], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  return parsed.stdout.split('\x1e').filter(Boolean).map((x) => x.split('\x1f').slice(0, -1));
}

describe('scripts/grants.conf: the script and the simulator grant the same', () => {
  for (const name of ['demo.yaml', 'burst.yaml', 'faulty.yaml', 'github-app.yaml']) {
    it(`${name}: the script's ACLs and roles are the simulator's default grants`, () => {
      const s = loadScenario(join(REPO, 'scenarios', name));
      const cmds = scriptCommands(s, s.proxmox.version);
      const scriptAcls = cmds.filter((c) => c[1] === 'acl').map((c) => {
        expect(c.slice(0, 3)).toEqual(['pveum', 'acl', 'modify']);
        const opt = (o: string) => c[c.indexOf(o) + 1];
        return { path: c[3]!, role: opt('--roles')!, users: opt('--users'), tokens: opt('--tokens'), propagate: opt('--propagate') };
      });
      const { access, authid } = scenarioAccess(s);
      expect(authid).toBe(DEFAULT_TOKEN);
      const simAcls = access.cfg.acls.filter((a) => a.subject === DEFAULT_TOKEN).map((a) => ({ path: a.path, role: a.role, users: DEFAULT_USER, tokens: DEFAULT_TOKEN, propagate: a.propagate ? '1' : '0' }));
      expect(scriptAcls).toEqual(simAcls);
      // and the user holds the very same ACLs (a privilege-separated token has only what both hold)
      expect(access.cfg.acls.filter((a) => a.subject === DEFAULT_USER).map((a) => [a.path, a.role])).toEqual(simAcls.map((a) => [a.path, a.role]));
      expect(scriptAcls.map((a) => a.path)).toEqual(expect.arrayContaining(['/pool/pve-runners', '/nodes', `/storage/${s.proxmox.storage}`, ...s.proxmox.templates.map((t) => `/vms/${t.vmid}`)]));
      const roles = cmds.filter((c) => c[1] === 'role').map((c) => [c[3], c[5]!.split(' ')]);
      expect(roles).toEqual([...access.cfg.roles].map(([n, p]) => [n, p]));
      // the token is privilege-separated in both
      expect(cmds.find((c) => c[1] === 'user' && c[2] === 'token')).toEqual(expect.arrayContaining(['--privsep', '1']));
      expect(access.cfg.tokens.get(DEFAULT_TOKEN)).toEqual({ privsep: true });
      // no VM.Audit on /vms (the least-privilege decision in grants.conf)
      expect(scriptAcls.some((a) => a.path === '/vms')).toBe(false);
    });
  }

  it('on PVE 7 neither grants SDN.Use (there is no SDN permission path)', () => {
    const s = loadScenario(join(REPO, 'scenarios', 'demo.yaml'));
    const old = { ...s, proxmox: { ...s.proxmox, version: '7.4.3' } };
    const paths = scriptCommands(old, '7.4.3').filter((c) => c[1] === 'acl').map((c) => c[3]);
    expect(paths.some((p) => p!.startsWith('/sdn'))).toBe(false);
    expect(scenarioAccess(old).access.cfg.acls.some((a) => a.path.startsWith('/sdn'))).toBe(false);
    expect([...new Set(paths)]).toEqual([...new Set(scenarioAccess(old).access.cfg.acls.map((a) => a.path))]);
  });

  it('delivery: guest-agent: VM.GuestAgent.Audit and FileWrite on PVE 9, VM.Monitor on PVE 8, nothing without --guest-agent', () => {
    const s = loadScenario(join(REPO, 'scenarios', 'demo.yaml'));
    const agentRoles = (version: string, guestAgent: boolean) => {
      const v = { ...s, proxmox: { ...s.proxmox, version } };
      const cmds = scriptCommands(v, version, guestAgent);
      return { roles: cmds.filter((c) => c[1] === 'role').map((c) => `${c[3]}: ${c[5]}`), acls: cmds.filter((c) => c[1] === 'acl').map((c) => `${c[3]} ${c[c.indexOf('--roles') + 1]}`) };
    };
    const nine = agentRoles('9.1.3', true);
    expect(nine.roles).toContain('PVERunnersAgent: VM.GuestAgent.Audit VM.GuestAgent.FileWrite');
    expect(nine.acls).toContain('/pool/pve-runners PVERunnersAgent');
    expect(nine.roles.join()).not.toContain('VM.Monitor');
    const eight = agentRoles('8.4.1', true);
    expect(eight.roles).toContain('PVERunnersAgentPve8: VM.Monitor');
    expect(eight.acls).toContain('/pool/pve-runners PVERunnersAgentPve8');
    expect(eight.roles.join()).not.toContain('GuestAgent');
    const none = agentRoles('9.1.3', false);
    expect(none.roles.join()).not.toMatch(/GuestAgent|Monitor/);
    expect(none.acls.join()).not.toContain('PVERunnersAgent');
  });

  it('the release package ships grants.conf where `check` reads it (dist/../scripts/grants.conf)', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain('scripts/grants.conf');
    expect(files).toContain('dist/proxmox/grants.js');
  });

  it('parses and expands placeholders; rejects what the script would not understand', () => {
    const g = parseGrants('role R A.B C.D # x\nacl /vms/{template} PVETemplateUser # clone it\nacl /sdn/zones/localnetwork/{bridge} PVESDNUser pve>=8\n');
    expect(expandGrants(g, { pool: 'p', templates: [9000, 9001], storages: [], snippetStorage: 'local', bridges: ['vmbr1'], pveMajor: 8 }).map((a) => [a.path, a.why])).toEqual([
      ['/vms/9000', 'clone it'], ['/vms/9001', 'clone it'], ['/sdn/zones/localnetwork/vmbr1', ''],
    ]);
    expect(() => parseGrants('acl /x R pve<8')).toThrow(GrantsError);
    expect(() => parseGrants('acl /x NoSuchRole')).toThrow(/neither defined there nor a built-in role/);
    expect(() => parseGrants('grant /x R')).toThrow(/expected 'role NAME PRIV/);
  });
});
