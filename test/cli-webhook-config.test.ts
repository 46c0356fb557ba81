/**
 * `pve-runners run` with a webhook configuration it cannot use stops at start-up with exit 78 (no
 * restart by systemd), naming the variable and the fix, before any tick.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT } from './helpers/e2e.js';

const run = promisify(execFile);
const base = {
  PATH: process.env.PATH,
  PROXMOX_URL: 'http://127.0.0.1:9/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
  GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  GITHUB_API_URL: 'http://127.0.0.1:9',
  RUNNER_POOLS_CONFIG: join(ROOT, 'pools.yaml'),
};

async function exitOf(env: Record<string, string | undefined>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [CLI, 'run'], { env, timeout: 30_000 });
    return { code: 0, stderr: '' };
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
}

describe('pve-runners run: webhook configuration errors', () => {
  it('WEBHOOK_LISTEN without WEBHOOK_SECRET: exit 78 with the fix', async () => {
    const r = await exitOf({ ...base, WEBHOOK_LISTEN: '127.0.0.1:0' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('WEBHOOK_SECRET: is not set, but WEBHOOK_LISTEN is');
    expect(r.stderr).toContain('fix: set WEBHOOK_SECRET, or WEBHOOK_SECRET_FILE');
  });

  it('a port in use: exit 78 at start, before any tick, without the secret in the output', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    const secret = 'whsec_0a1b2c3d4e5f60718293a4b5c6d7e8f9';
    try {
      const r = await exitOf({ ...base, WEBHOOK_LISTEN: `127.0.0.1:${port}`, WEBHOOK_SECRET: secret });
      expect(r.code).toBe(78);
      expect(r.stderr).toContain(`WEBHOOK_LISTEN: cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect(r.stderr).not.toContain('tick:');
      expect(r.stderr).not.toContain(secret);
    } finally {
      holder.close();
    }
  });
});
