/** known_hosts as OpenSSH writes it: hashed with ssh-keygen -H, [host]:port, @revoked, negated patterns. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnownHosts } from '../src/snippets/known-hosts.js';
import { describeWithTools, SSH_KEYGEN } from './helpers/tools.js';

const A = 'AAAAC3NzaC1lZDI1NTE5AAAAIHvthIf0g/1FHUe5cqS5lsAgFyHbLaghUgcT/kc8ngu7';
const B = 'AAAAC3NzaC1lZDI1NTE5AAAAINuD9f4LlbD8NP8faVmq8Dg25fMSyt5OCv9MisjgUK0e';
const blob = (k: string) => Buffer.from(k, 'base64');

describe('KnownHosts', () => {
  it('matches plain names and [host]:port, tells changed from unknown, honours @revoked and !negation', () => {
    const { hosts, problems } = KnownHosts.parse([
      '# a comment',
      `pve1,10.0.0.11 ssh-ed25519 ${A}`,
      `[10.0.0.12]:2222 ssh-ed25519 ${A}`,
      `*.lab,!bad.lab ssh-ed25519 ${A}`,
      `@revoked pve3 ssh-ed25519 ${B}`,
      `@cert-authority *.corp ssh-ed25519 ${B}`,
    ].join('\n'));
    expect(problems).toEqual([]);
    expect(hosts.verdict('pve1', 22, blob(A))).toBe('ok');
    expect(hosts.verdict('PVE1', 22, blob(A))).toBe('ok');
    expect(hosts.verdict('10.0.0.11', 22, blob(B))).toBe('changed');
    expect(hosts.verdict('10.0.0.11', 2222, blob(A))).toBe('unknown'); // another port is another host to ssh
    expect(hosts.verdict('10.0.0.12', 2222, blob(A))).toBe('ok');
    expect(hosts.verdict('10.0.0.12', 22, blob(A))).toBe('unknown');
    expect(hosts.verdict('x.lab', 22, blob(A))).toBe('ok');
    expect(hosts.verdict('bad.lab', 22, blob(A))).toBe('unknown');
    expect(hosts.verdict('pve3', 22, blob(B))).toBe('revoked');
    expect(hosts.verdict('a.corp', 22, blob(B))).toBe('unknown'); // no CA support: not trusted
  });

  it('names the lines it cannot read', () => {
    expect(KnownHosts.parse(`pve1 ssh-ed25519\n@foo pve1 ssh-ed25519 ${A}\n`).problems).toEqual([
      { line: 1, message: 'is not "host[,host…] key-type base64-key"' },
      { line: 2, message: 'unknown marker @foo' },
    ]);
  });
});

describeWithTools([SSH_KEYGEN], 'KnownHosts reads what ssh-keygen -H hashes', () => {
  it('matches hashed entries by name and [name]:port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvr-kh-'));
    const f = join(dir, 'known_hosts');
    writeFileSync(f, `pve1 ssh-ed25519 ${A}\n[pve2]:2201 ssh-ed25519 ${B}\n`);
    expect(spawnSync('ssh-keygen', ['-H', '-f', f], { encoding: 'utf8' }).status).toBe(0);
    const text = readFileSync(f, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    expect(text).not.toContain('pve1');
    const { hosts } = KnownHosts.parse(text);
    expect(hosts.verdict('pve1', 22, blob(A))).toBe('ok');
    expect(hosts.verdict('pve2', 2201, blob(B))).toBe('ok');
    expect(hosts.verdict('pve2', 2201, blob(A))).toBe('changed');
    expect(hosts.verdict('pve3', 22, blob(A))).toBe('unknown');
  });
});
