/**
 * Every duration and interval setting has a range that makes sense for it, well below Node's
 * setTimeout limit (2^31-1 ms): a value outside is exit 78 with the range in the message.
 */
import { rmSync } from 'node:fs';
import { loadSettings } from '../src/config/index.js';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pools(edit: (t: string) => string = (t) => t): string {
  const s = shippedPools(edit);
  dirs.push(s.dir);
  return s.pools;
}

describe('POLL_INTERVAL', () => {
  it.each([
    ['3000000', "environment: POLL_INTERVAL: '3000000' is longer than POLL_INTERVAL allows (1s to 1h) — fix: set POLL_INTERVAL (the time between ticks) to a duration from 1s to 1h, e.g. 15"],
    ['25d', "environment: POLL_INTERVAL: '25d' is longer than POLL_INTERVAL allows (1s to 1h)"],
    ['0.5', "environment: POLL_INTERVAL: '0.5' is shorter than POLL_INTERVAL allows (1s to 1h)"],
  ])('refuses %s with exit 78, before a timer could overflow', async (value, expected) => {
    const r = await runCli(['run'], { ...validEnv(pools()), POLL_INTERVAL: value });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(expected);
    expect(r.stderr).not.toContain('TimeoutOverflowWarning');
  });

  it.each([['1', 1000], ['3600', 3_600_000], ['1h', 3_600_000], ['15', 15_000]])('accepts %s', (value, ms) => {
    expect(loadSettings({ ...validEnv(pools()), POLL_INTERVAL: value }).env.pollIntervalMs).toBe(ms);
  });
});

describe('durations in pools.yaml', () => {
  it.each([
    ['boot_timeout: 10m ', 'boot_timeout: 30d ', 'defaults.boot_timeout', "'30d' is longer than boot_timeout allows (30s to 1d) — fix: set boot_timeout (how long a new VM may take to register its runner) to a duration from 30s to 1d, e.g. 10m"],
    ['boot_timeout: 10m ', 'boot_timeout: 5s ', 'defaults.boot_timeout', "'5s' is shorter than boot_timeout allows (30s to 1d)"],
    ['idle_timeout: 15m ', 'idle_timeout: 0 ', 'defaults.idle_timeout', "'0' is shorter than idle_timeout allows (10s to 1d)"],
    ['max_job_duration: 6h ', 'max_job_duration: 3000000 ', 'defaults.max_job_duration', "'3000000' is longer than max_job_duration allows (1m to 6d) — fix: set max_job_duration (the longest a runner VM lives) to a duration from 1m to 6d, e.g. 6h"],
    ['boot_timeout: 20m ', 'boot_timeout: 2d ', 'pools[2].boot_timeout', "'2d' is longer than boot_timeout allows (30s to 1d)"],
  ])('refuses %s → %s', async (from, to, path, expected) => {
    const r = await runCli(['check'], validEnv(pools((t) => t.replace(from, to))));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`pools\\.yaml: ${path.replace(/[[\].]/g, '\\$&')} \\(line \\d+\\): `));
    expect(r.stderr).toContain(expected);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('accepts each bound itself', () => {
    const file = pools((t) => t.replace('boot_timeout: 10m ', 'boot_timeout: 1d ').replace('idle_timeout: 15m ', 'idle_timeout: 10s ').replace('max_job_duration: 6h ', 'max_job_duration: 6d '));
    const p = loadSettings(validEnv(file)).config.pools[0]!;
    expect([p.bootTimeoutMs, p.idleTimeoutMs, p.maxJobDurationMs]).toEqual([86_400_000, 10_000, 518_400_000]);
  });
});
