import { spawnSync } from 'node:child_process';
import { ConfigError, loadEnv, type ConfigFs, type Env } from '../src/config/index.js';
import { CLI } from './helpers/e2e.js';

const base: Env = {
  PROXMOX_URL: 'https://pve1:8006/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
  GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
};

/** A machine whose /etc/machine-id holds `id` (undefined: none). */
const machine = (id: string | undefined): ConfigFs => ({
  readText: (p) => {
    if (p === '/etc/machine-id' && id !== undefined) return `${id}\n`;
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  },
  exists: (p) => p === '/etc/machine-id' && id !== undefined,
});

const problems = (env: Env) => {
  try {
    loadEnv(env, { fs: machine(undefined) });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('config: the instance id', () => {
  it('INSTANCE_ID wins; without it, a keyed hash of /etc/machine-id (stable, never the id itself); without either, "default"', () => {
    expect(loadEnv({ ...base, INSTANCE_ID: 'ci-runners' }, { fs: machine('3d1219c7c4c5404aaa1f6d2a48adfda4') }).instance).toEqual({ id: 'ci-runners', source: 'INSTANCE_ID', takeoverAfterMs: 20 * 60_000 });
    const a = loadEnv(base, { fs: machine('3d1219c7c4c5404aaa1f6d2a48adfda4') }).instance;
    expect(a.source).toBe('machine-id');
    expect(a.id).toMatch(/^host-[0-9a-f]{12}$/);
    expect(a.id).not.toContain('3d1219c7c4c5');
    expect(loadEnv(base, { fs: machine('3d1219c7c4c5404aaa1f6d2a48adfda4') }).instance.id).toBe(a.id);
    // another container has another machine id, so another instance id
    expect(loadEnv(base, { fs: machine('0123456789abcdef0123456789abcdef') }).instance.id).not.toBe(a.id);
    expect(loadEnv(base, { fs: machine(undefined) }).instance).toMatchObject({ id: 'default', source: 'none' });
    expect(loadEnv(base, { fs: machine('not a machine id') }).instance.source).toBe('none');
  });

  it('a bad INSTANCE_ID or INSTANCE_TAKEOVER_AFTER is a configuration error naming the variable and the fix', () => {
    expect(problems({ ...base, INSTANCE_ID: 'two words' })).toEqual([expect.objectContaining({ path: 'INSTANCE_ID', message: "'two words' is not an instance id", fix: expect.stringContaining('pvr-$(openssl rand -hex 4)') })]);
    expect(problems({ ...base, INSTANCE_ID: 'x'.repeat(64) })[0]!.path).toBe('INSTANCE_ID');
    expect(problems({ ...base, INSTANCE_TAKEOVER_AFTER: '30s' })).toEqual([expect.objectContaining({ path: 'INSTANCE_TAKEOVER_AFTER', message: "'30s' is not a duration from 1m to 24h", fix: expect.stringContaining('clone timeout') })]);
    expect(problems({ ...base, INSTANCE_TAKEOVER_AFTER: '2d' })[0]!.path).toBe('INSTANCE_TAKEOVER_AFTER');
    expect(loadEnv({ ...base, INSTANCE_TAKEOVER_AFTER: '45m' }, { fs: machine(undefined) }).instance.takeoverAfterMs).toBe(45 * 60_000);
  });

  it('the CLI exits 78 on a bad INSTANCE_ID, before touching anything', () => {
    const r = spawnSync(process.execPath, [CLI, 'once', '--dry-run'], { env: { PATH: process.env.PATH, ...base, RUNNER_POOLS_CONFIG: 'pools.yaml', INSTANCE_ID: '-bad' }, encoding: 'utf8' });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/INSTANCE_ID: '-bad' is not an instance id/);
  });
});
