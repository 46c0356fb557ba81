/**
 * wire() with WEBHOOK_LISTEN: the listener is built (not bound until started), its secret joins the
 * log redactor like every other credential, and a bind that cannot work is a config error (exit 78).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { probeWebhook } from '../src/check/webhook.js';
import { systemClock } from '../src/clock.js';
import { ConfigError, loadSettings } from '../src/config/index.js';
import { wire } from '../src/daemon/wire.js';
import { memoryLogger, Redactor } from '../src/log.js';
import { ROOT } from './helpers/e2e.js';
import { join } from 'node:path';

const HOOK_SECRET = 'whsec_5f1e9a3c7b2d4e6f8091a2b3c4d5e6f7';
const env = (listen: string) => ({
  PROXMOX_URL: 'https://pve1:8006/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
  GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  RUNNER_POOLS_CONFIG: join(ROOT, 'pools.yaml'),
  WEBHOOK_LISTEN: listen,
  WEBHOOK_SECRET: HOOK_SECRET,
});

describe('wire: the webhook listener', () => {
  it('registers WEBHOOK_SECRET with the redactor: a log line never shows it', async () => {
    const redactor = new Redactor();
    const { log, lines } = memoryLogger({ format: 'json', secrets: redactor });
    const w = wire(loadSettings(env('127.0.0.1:0'), { cwd: ROOT }), { clock: systemClock, log, redactor });
    expect(w.webhook).toBeDefined();
    log.warn(`something quoted the secret: ${HOOK_SECRET}`, { value: HOOK_SECRET });
    expect(lines.join('\n')).not.toContain(HOOK_SECRET);
    expect(lines.join('\n')).toContain('[REDACTED]');
    const at = await w.webhook!.start();
    expect(at.port).toBeGreaterThan(0);
    expect(at.url).toBe(`http://127.0.0.1:${at.port}`);
    expect(w.webhook!.listener.address()).toEqual(at);
    await w.webhook!.stop();
    expect(await probeWebhook(w.webhook!)).toMatchObject({ status: 'ok', problem: expect.stringMatching(/^can listen on http:\/\/127\.0\.0\.1:\d+\/webhook/) });
  });

  it('no WEBHOOK_LISTEN: no listener', () => {
    const { WEBHOOK_LISTEN: _l, WEBHOOK_SECRET: _s, ...rest } = env('x');
    const redactor = new Redactor();
    const w = wire(loadSettings(rest, { cwd: ROOT }), { clock: systemClock, log: memoryLogger({ format: 'json' }).log, redactor });
    expect(w.webhook).toBeUndefined();
  });

  it('a port in use: ConfigError (exit 78) naming WEBHOOK_LISTEN and the fix', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const redactor = new Redactor();
      const w = wire(loadSettings(env(`127.0.0.1:${port}`), { cwd: ROOT }), { clock: systemClock, log: memoryLogger({ format: 'json' }).log, redactor });
      const err = await w.webhook!.start().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(78);
      expect((err as ConfigError).message).toBe(`environment: WEBHOOK_LISTEN: cannot listen on 127.0.0.1:${port}: the port is in use — fix: set WEBHOOK_LISTEN to an address of this host and a free port of 1024 or above, e.g. 0.0.0.0:8080`);
      // check: a warning (the running daemon may hold it), not a failure
      expect(await probeWebhook(w.webhook!)).toMatchObject({ status: 'warn', problem: expect.stringContaining('the port is in use (by the running daemon?)') });
    } finally {
      holder.close();
    }
  });
});
