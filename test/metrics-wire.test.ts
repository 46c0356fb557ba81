/**
 * wire() with METRICS_LISTEN: the same address as WEBHOOK_LISTEN is one listener serving all four
 * paths; another address is a listener of its own (/metrics, /healthz, /readyz, no /webhook); a
 * malformed or taken address is a configuration error naming METRICS_LISTEN (exit 78).
 */
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { probeMetricsListener } from '../src/check/metrics-listen.js';
import { systemClock } from '../src/clock.js';
import { ConfigError, loadSettings } from '../src/config/index.js';
import { wire } from '../src/daemon/wire.js';
import { memoryLogger, Redactor } from '../src/log.js';
import { ROOT } from './helpers/e2e.js';

const base = {
  PROXMOX_URL: 'https://pve1:8006/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
  GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  RUNNER_POOLS_CONFIG: join(ROOT, 'pools.yaml'),
};
const hook = { WEBHOOK_SECRET: 'whsec_5f1e9a3c7b2d4e6f8091a2b3c4d5e6f7' };
const build = (env: Record<string, string>) => wire(loadSettings({ ...base, ...env }, { cwd: ROOT }), { clock: systemClock, log: memoryLogger({ format: 'json' }).log, redactor: new Redactor() });
const status = async (url: string) => (await fetch(url, { method: 'GET' })).status;

describe('wire: METRICS_LISTEN', () => {
  it('the same address as WEBHOOK_LISTEN: one listener serves /webhook, /metrics, /healthz, /readyz', async () => {
    const w = build({ ...hook, WEBHOOK_LISTEN: '127.0.0.1:0', METRICS_LISTEN: '127.0.0.1:0' });
    expect(w.metrics).toBeDefined();
    expect(w.metricsListener).toBeUndefined();
    const at = await w.webhook!.start();
    try {
      expect(await status(`${at.url}/metrics`)).toBe(200);
      expect(await status(`${at.url}/healthz`)).toBe(200);
      expect(await status(`${at.url}/readyz`)).toBe(503); // no tick yet
      expect(await status(`${at.url}/webhook`)).toBe(405); // POST only: the route is there
    } finally {
      await w.webhook!.stop();
    }
  });

  it('another address: a listener of its own without /webhook; the webhook listener has no /metrics', async () => {
    const w = build({ ...hook, WEBHOOK_LISTEN: '127.0.0.1:0', METRICS_LISTEN: '[::1]:0' });
    const hookAt = await w.webhook!.start();
    const at = await w.metricsListener!.start();
    try {
      expect(at.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const text = await (await fetch(`${at.url}/metrics`)).text();
      expect(text).toContain('# TYPE pve_runners_job_pickup_seconds histogram');
      expect(await status(`${at.url}/webhook`)).toBe(404);
      expect(await status(`${hookAt.url}/metrics`)).toBe(404);
      expect(await status(`${hookAt.url}/healthz`)).toBe(200);
    } finally {
      await w.metricsListener!.stop();
      await w.webhook!.stop();
    }
    expect(await probeMetricsListener(w.metricsListener!)).toMatchObject({ status: 'ok', problem: expect.stringMatching(/^can listen on http:\/\/\[::1\]:\d+: \/metrics/) });
  });

  it('unset: no metrics at all', () => {
    const w = build({});
    expect(w.metrics).toBeUndefined();
    expect(w.metricsListener).toBeUndefined();
  });

  it('not host:port: ConfigError (exit 78) naming METRICS_LISTEN and the fix', () => {
    const err = (() => {
      try {
        build({ METRICS_LISTEN: '9464' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(78);
    expect((err as ConfigError).message).toContain("METRICS_LISTEN: '9464' is not of the form host:port — fix: set METRICS_LISTEN to host:port, e.g. 127.0.0.1:9464");
  });

  it('a port in use: ConfigError (exit 78) naming METRICS_LISTEN', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const w = build({ METRICS_LISTEN: `127.0.0.1:${port}` });
      expect(await probeMetricsListener(w.metricsListener!)).toMatchObject({ status: 'warn', problem: `cannot listen on 127.0.0.1:${port}: the port is in use (by the running daemon?)` });
      const err = await w.metricsListener!.start().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(`environment: METRICS_LISTEN: cannot listen on 127.0.0.1:${port}: the port is in use — fix: set METRICS_LISTEN to an address of this host and a free port of 1024 or above, e.g. 127.0.0.1:9464`);
    } finally {
      holder.close();
    }
  });
});
