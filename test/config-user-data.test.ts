/**
 * user_data is checked when the configuration loads — by `check` and at the daemon's start-up —
 * with a trial render through the real renderer, so a template that cannot become a snippet Proxmox
 * starts a VM with is exit 78 (file, pools[i].user_data, fix) before any VM is cloned.
 */
import { existsSync, openSync, closeSync, ftruncateSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_SNIPPET_BYTES } from '../src/cloudinit/render.js';
import { formatProblem, readPoolsConfig } from '../src/config/index.js';
import { ROOT, runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The shipped pools.yaml with ubuntu-2204's user_data replaced by `path` (relative to the temp dir, or absolute). */
function withUserData(path: string) {
  const s = shippedPools((t) => t.replace('user_data: cloud-init/ubuntu-2204.yaml', `user_data: ${path}`));
  dirs.push(s.dir);
  return s;
}

const SHIPPED = readFileSync(join(ROOT, 'cloud-init/ubuntu-2204.yaml'), 'utf8');
/** The shipped template plus a comment-free string value of `n` characters (kept by the renderer). */
const padded = (n: number) => `${SHIPPED}\nfinal_message: "${'x'.repeat(n)}"\n`;
const lineOf = (file: string, text: string) => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

describe('user_data checked at load', () => {
  const hostname = existsSync('/etc/hostname') ? '/etc/hostname' : undefined;

  (hostname ? it : it.skip)('refuses user_data: /etc/hostname in check and at start-up, before any VM is made', async () => {
    const { pools } = withUserData('/etc/hostname');
    const line = lineOf(pools, 'user_data: /etc/hostname');
    const expected = `${pools}: pools[1].user_data (line ${line}): /etc/hostname: must start with a "#cloud-config" line (cloud-init ignores anything else as cloud-config) — fix: correct the template (cloud-init/README.md in the pve-runners package says what it must hold), or point user_data at one of the shipped cloud-init/*.yaml`;
    for (const command of ['check', 'once', 'run']) {
      const r = await runCli([command], validEnv(pools), { timeoutMs: 15_000 });
      expect({ command, code: r.code }).toEqual({ command, code: 78 });
      expect(r.stderr).toContain(expected);
      expect(r.stdout).toBe('');
    }
  });

  it.each([
    ['an unknown placeholder', SHIPPED.replace('"{{ runner_name }}"', '"{{ name }}"'), 'hostname: unknown placeholder {{ name }}'],
    ['no runner.env entry', SHIPPED.replace('/etc/pve-runners/runner.env', '/etc/pve-runners/other.env'), 'write_files must have exactly one entry whose path ends in runner.env (found 0)'],
    ['no run-once', SHIPPED.replace('[/opt/actions-runner/run-once.sh]', '[/bin/true]'), "runcmd must run the template's run-once script"],
    ['invalid YAML', `${SHIPPED}\nbad: [unclosed\n`, 'not valid YAML'],
  ])('refuses a template with %s', async (_what, text, detail) => {
    const { dir, pools } = withUserData('bad.yaml');
    writeFileSync(join(dir, 'bad.yaml'), text);
    const r = await runCli(['check'], validEnv(pools));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`pools[1].user_data (line ${lineOf(pools, 'user_data: bad.yaml')}): ${join(dir, 'bad.yaml')}: `);
    expect(r.stderr).toContain(detail);
  });

  it.each([
    ['2 MB', 2 * 1024 * 1024],
    ['50 MB', 50 * 1024 * 1024],
  ])('refuses a %s template by its size, without reading it', async (_what, bytes) => {
    const { dir, pools } = withUserData('huge.yaml');
    // Sparse: its size is what stat says, and reading it whole would take the time the defect showed.
    const fd = openSync(join(dir, 'huge.yaml'), 'w');
    ftruncateSync(fd, bytes);
    closeSync(fd);
    const r = await runCli(['check'], validEnv(pools));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`pools[1].user_data (line ${lineOf(pools, 'user_data: huge.yaml')}): cannot read ${join(dir, 'huge.yaml')}: it is ${bytes} bytes, more than the 1 MiB allowed — fix: keep the template well under 1048576 bytes (1 MiB)`);
  });

  it('refuses a template of exactly 1 MiB, which leaves no room for the rendered values', async () => {
    const { dir, pools } = withUserData('full.yaml');
    const text = padded(0);
    writeFileSync(join(dir, 'full.yaml'), padded(MAX_SNIPPET_BYTES - Buffer.byteLength(text)));
    expect(Buffer.byteLength(readFileSync(join(dir, 'full.yaml')))).toBe(MAX_SNIPPET_BYTES);
    const r = await runCli(['check'], validEnv(pools));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/pools\[1\]\.user_data \(line \d+\): .*full\.yaml: renders to \d+ bytes, more than the 1048576 bytes \(1 MiB\) Proxmox reads of a snippet; the VM would not start — fix: keep the template well under/);
  });

  it('accepts a large template whose rendered snippet still fits', async () => {
    const { dir, pools } = withUserData('large.yaml');
    writeFileSync(join(dir, 'large.yaml'), padded(MAX_SNIPPET_BYTES - 64 * 1024));
    const r = await runCli(['check'], validEnv(pools));
    expect(r.stderr).not.toContain('configuration error');
    expect(r.stdout).toContain('✓ configuration');
    expect(r.code).toBe(1); // nothing listens at the environment's URLs
  });
});

describe('a shared template', () => {
  it('that cannot render is reported once, where it is written', () => {
    const { dir } = withUserData('x.yaml');
    writeFileSync(join(dir, 'bad.yaml'), '#cloud-config\nruncmd: []\n');
    writeFileSync(join(dir, 'p.yaml'), 'github: {repos: [acme/app]}\ndefaults: {node: pve1, template: 9000, user_data: bad.yaml}\npools:\n  - {name: a, labels: [a], vmid_range: [200, 209]}\n  - {name: b, labels: [b], vmid_range: [210, 219]}\n');
    const { problems } = readPoolsConfig({ file: 'p.yaml', path: join(dir, 'p.yaml') });
    expect(problems.map(formatProblem)).toEqual([
      `p.yaml: defaults.user_data (line 2): ${join(dir, 'bad.yaml')}: write_files must be a list with the runner.env entry — fix: correct the template (cloud-init/README.md in the pve-runners package says what it must hold), or point user_data at one of the shipped cloud-init/*.yaml`,
    ]);
  });
});
