/**
 * Files the configuration names that are not regular files: a FIFO or a device must be refused
 * (exit 78, the setting and the fix) without being read, and never hang start-up. Run through the
 * binary; each child has a time limit and no FIFO ever gets a writer, so a regression fails the test
 * instead of hanging it.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(edit?: (t: string) => string) {
  const s = shippedPools(edit);
  dirs.push(s.dir);
  return s;
}

function fifo(dir: string, name: string): string {
  const p = join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

describe('files that are not regular files', () => {
  it('refuses a FIFO as GITHUB_TOKEN_FILE with exit 78 instead of waiting for a writer', async () => {
    const { dir, pools } = setup();
    const env = { ...validEnv(pools), GITHUB_TOKEN: undefined, GITHUB_TOKEN_FILE: fifo(dir, 'token') };
    const r = await runCli(['check'], env);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`environment: GITHUB_TOKEN_FILE: cannot read ${join(dir, 'token')} for GITHUB_TOKEN: it is a FIFO (named pipe), not a regular file — fix: point GITHUB_TOKEN_FILE at a regular file (not a pipe, device or directory)`);
  });

  it('refuses a FIFO as a systemd credential', async () => {
    const { dir, pools } = setup();
    fifo(dir, 'proxmox_token_secret');
    const env = { ...validEnv(pools), PROXMOX_TOKEN_SECRET: undefined, CREDENTIALS_DIRECTORY: dir };
    const r = await runCli(['check'], env);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('environment: CREDENTIALS_DIRECTORY: cannot read');
    expect(r.stderr).toContain('it is a FIFO (named pipe), not a regular file — fix: point LoadCredential=proxmox_token_secret: at a regular file');
  });

  it('refuses a FIFO as user_data', async () => {
    const { dir, pools } = setup((t) => t.replace('user_data: cloud-init/ubuntu-2204.yaml', 'user_data: pipe.yaml'));
    fifo(dir, 'pipe.yaml');
    const r = await runCli(['check'], validEnv(pools));
    expect(r.signal).toBeNull();
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`pools\\[1\\]\\.user_data \\(line \\d+\\): cannot read ${join(dir, 'pipe.yaml')}: it is a FIFO \\(named pipe\\), not a regular file — fix: point user_data at a regular file`));
  });

  it('refuses RUNNER_POOLS_CONFIG=/dev/zero instead of reading forever', async () => {
    const { pools } = setup();
    const r = await runCli(['check'], { ...validEnv(pools), RUNNER_POOLS_CONFIG: '/dev/zero' });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('/dev/zero: (file): cannot read /dev/zero: it is a character device, not a regular file — fix: point RUNNER_POOLS_CONFIG at a regular file');
  });

  it('refuses a directory as PROXMOX_CA_FILE and a pools.yaml over 1 MiB, naming the limit', async () => {
    const { dir, pools } = setup();
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await runCli(['check'], { ...validEnv(pools), PROXMOX_CA_FILE: dir, RUNNER_POOLS_CONFIG: big });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`environment: PROXMOX_CA_FILE: cannot read ${dir}: it is a directory, not a regular file`);
    expect(r.stderr).toContain(`cannot read ${big}: it is 1048579 bytes, more than the 1 MiB allowed`);
  });
});
