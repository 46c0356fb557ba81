/**
 * LOG_LEVEL takes exactly the levels the README lists. winston's npm levels (http, verbose, silly)
 * are not syslog levels: accepting one used to silence every line, errors included.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { memoryLogger } from '../src/log.js';
import { CLI, runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pools(): string {
  const s = shippedPools();
  dirs.push(s.dir);
  return s.pools;
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** `run` until it logs a failed tick (then SIGTERM); the JSON lines it printed. Killed after 20 s. */
function runUntilTickFails(env: Record<string, string>): Promise<Array<{ level: string; message: string }>> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, 'run'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000, killSignal: 'SIGKILL' });
    let text = '';
    const onData = (b: Buffer) => {
      text += b.toString();
      if (text.includes('tick failed')) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', fail);
    child.on('close', () => done(text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; message: string })));
  });
}

describe('LOG_LEVEL', () => {
  it.each(['http', 'verbose', 'silly', 'trace', 'warning'])('refuses %s with exit 78 and the levels it takes', async (level) => {
    const r = await runCli(['run'], { ...validEnv(pools()), LOG_LEVEL: level });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`environment: LOG_LEVEL: '${level}' is not a log level — fix: set LOG_LEVEL to one of error, warn, info, debug`);
  });

  it.each([
    ['error', ['error']],
    ['warn', ['error', 'warning']],
    ['info', ['error', 'warning', 'info']],
    ['debug', ['error', 'warning', 'info', 'debug']],
  ])('%s logs exactly the levels at or above it', (level, shown) => {
    const { log, lines } = memoryLogger({ level: level as 'error' | 'warn' | 'info' | 'debug', format: 'json' });
    log.error('e');
    log.warn('w');
    log.info('i');
    log.debug('d');
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(shown);
  });

  it('refuses a level the logger does not know instead of logging nothing', () => {
    expect(() => memoryLogger({ level: 'silly' as 'info' })).toThrow("unknown log level 'silly' (error, warn, info, debug)");
  });

  it.each([
    ['error', false],
    ['warn', false],
    ['info', true],
    ['debug', true],
  ])('the daemon at LOG_LEVEL=%s reports an unreachable Proxmox (start-up line shown: %s)', async (level, startLine) => {
    const port = await closedPort();
    const lines = await runUntilTickFails({ ...validEnv(pools()), PROXMOX_URL: `http://127.0.0.1:${port}/api2/json`, GITHUB_API_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: level, LOG_FORMAT: 'json' });
    expect(lines.filter((l) => l.level === 'error' && l.message.startsWith('tick failed')).length).toBeGreaterThan(0);
    expect(lines.some((l) => l.message.startsWith('pve-runners starting'))).toBe(startLine);
  });
});
