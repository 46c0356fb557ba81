/**
 * Bad tier config stops every command that loads pools.yaml with exit 78 and the fix, before any
 * request: `run`, `check` and `once --dry-run` (the URLs in validEnv lead nowhere).
 */
import { rmSync } from 'node:fs';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function pools(edit: (t: string) => string): string {
  const s = shippedPools(edit);
  dirs.push(s.dir);
  return s.pools;
}

const multiRepoBareHot = (t: string) => t.replace('repos: [acme/app]', 'repos: [acme/app, acme/api]').replace('    memory: 8192                             # MB\n', '    memory: 8192\n    hot: 2\n');

describe('tier config errors from the CLI', () => {
  it.each([{ args: ['run'] }, { args: ['check'] }, { args: ['once', '--dry-run'] }])('$args: a multi-repository pool with a bare hot: N exits 78 with the YAML to write', async ({ args }) => {
    const r = await runCli(args, validEnv(pools(multiRepoBareHot)));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/pools\.yaml: pools\[0\]\.hot \(line \d+\): a bare count of hot runners is ambiguous: pool 'ubuntu-2404' serves 2 repositories and organisations \(acme\/app, acme\/api\); it does not say where they register — fix: name the scopes: hot: \{count: 2, scopes: \[acme\/app\]\}/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toContain('127.0.0.1:1');
  });

  it('check: a bad cron and an unknown time zone exit 78, each at its path', async () => {
    const edit = (t: string) => t.replace('    memory: 8192                             # MB\n', '    memory: 8192\n    timezone: Europe/Atlantis\n    schedule:\n      - {cron: "0 8 * * 1-7x", warm: 2}\n');
    const r = await runCli(['check'], validEnv(pools(edit)));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/pools\.yaml: pools\[0\]\.schedule\[0\]\.cron \(line \d+\): '0 8 \* \* 1-7x' is not a valid cron expression: .+ — fix: when the rule takes effect: five fields/);
    expect(r.stderr).toMatch(/pools\.yaml: pools\[0\]\.timezone \(line \d+\): 'Europe\/Atlantis' is not a time zone this host knows — fix: the IANA time zone/);
  });

  it('once --dry-run: MAX_TOTAL_RUNNERS below the pools\' hot + warm exits 78', async () => {
    const edit = (t: string) => t.replace('    memory: 8192                             # MB\n', '    memory: 8192\n    hot: 2\n    warm: 2\n');
    const r = await runCli(['once', '--dry-run'], { ...validEnv(pools(edit)), MAX_TOTAL_RUNNERS: '3' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('environment: MAX_TOTAL_RUNNERS: the pools keep up to 4 hot and warm VMs together (ubuntu-2404: 4), more than the overall cap of 3 — fix: raise it to at least 4');
  });
});
