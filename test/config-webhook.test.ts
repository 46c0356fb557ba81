import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, EXIT_CONFIG, loadEnv } from '../src/config/index.js';
import type { ConfigFs, Env } from '../src/config/index.js';

const HOOK_SECRET = 'wh-7f3a9c1e5b2d8046af19c3e7d5b0a2f4';
const base: Env = {
  PROXMOX_URL: 'https://pve1:8006/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
  GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-webhook-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const fs: ConfigFs = { readText: (p) => readFileSync(p, 'utf8'), exists: (p) => !p.startsWith('/etc/pve-runners') && existsSync(p) };
const load = (env: Env) => loadEnv(env, { cwd: dir, fs });
function problemsOf(env: Env): ConfigError {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('WEBHOOK_LISTEN and WEBHOOK_SECRET', () => {
  it('are off by default: no listener, and a lone WEBHOOK_SECRET changes nothing', () => {
    expect(load(base).webhook).toBeUndefined();
    expect(load({ ...base, WEBHOOK_SECRET: HOOK_SECRET }).webhook).toBeUndefined();
  });

  it.each([
    ['0.0.0.0:8080', '0.0.0.0', 8080],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['[::]:8443', '::', 8443],
    ['hooks.example.com:9000', 'hooks.example.com', 9000],
  ])('parses %s', (listen, host, port) => {
    const w = load({ ...base, WEBHOOK_LISTEN: listen, WEBHOOK_SECRET: HOOK_SECRET }).webhook!;
    expect({ host: w.host, port: w.port }).toEqual({ host, port });
    expect(w.secret.reveal()).toBe(HOOK_SECRET);
  });

  it.each([
    ['8080', "'8080' is not of the form host:port"],
    ['0.0.0.0:99999', 'port 99999 is not between 0 and 65535'],
    ['::1:8080', 'an IPv6 address needs brackets'],
    ['0.0.0.0:http', 'is not of the form host:port'],
    ['bad_host!:80', "'bad_host!' is not an IP address or host name"],
  ])('refuses WEBHOOK_LISTEN=%s with exit 78 and the fix', (listen, message) => {
    const err = problemsOf({ ...base, WEBHOOK_LISTEN: listen, WEBHOOK_SECRET: HOOK_SECRET });
    expect(err.exitCode).toBe(EXIT_CONFIG);
    const line = err.message.split('\n').find((l) => l.includes('WEBHOOK_LISTEN'));
    expect(line).toContain(message);
    expect(line).toContain('fix: set WEBHOOK_LISTEN to host:port, e.g. 0.0.0.0:8080');
  });

  it('needs WEBHOOK_SECRET once WEBHOOK_LISTEN is set, naming every way to give it', () => {
    const err = problemsOf({ ...base, WEBHOOK_LISTEN: '0.0.0.0:8080' });
    expect(err.exitCode).toBe(78);
    expect(err.problems.map((p) => p.path)).toEqual(['WEBHOOK_SECRET']);
    expect(err.message).toContain('WEBHOOK_SECRET: is not set, but WEBHOOK_LISTEN is');
    expect(err.message).toContain('WEBHOOK_SECRET_FILE');
    expect(err.message).toContain('LoadCredential=webhook_secret:');
    expect(err.message).toContain('openssl rand -hex 32');
  });

  it('refuses a short secret without quoting it', () => {
    const err = problemsOf({ ...base, WEBHOOK_LISTEN: '0.0.0.0:8080', WEBHOOK_SECRET: 'hunter2hunter' });
    expect(err.message).toContain('WEBHOOK_SECRET: the value from WEBHOOK_SECRET is shorter than 16 characters');
    expect(err.message).not.toContain('hunter2hunter');
  });

  it('reads the secret from WEBHOOK_SECRET_FILE and from $CREDENTIALS_DIRECTORY/webhook_secret, trailing newline dropped', () => {
    writeFileSync(join(dir, 'hook'), `${HOOK_SECRET}\n`);
    const viaFile = load({ ...base, WEBHOOK_LISTEN: '127.0.0.1:0', WEBHOOK_SECRET_FILE: 'hook' }).webhook!;
    expect(viaFile.secret.reveal()).toBe(HOOK_SECRET);
    expect(viaFile.secret.source).toBe('WEBHOOK_SECRET_FILE=hook');
    mkdirSync(join(dir, 'creds'));
    writeFileSync(join(dir, 'creds', 'webhook_secret'), HOOK_SECRET);
    const viaCred = load({ ...base, WEBHOOK_LISTEN: '127.0.0.1:0', CREDENTIALS_DIRECTORY: join(dir, 'creds') }).webhook!;
    expect(viaCred.secret.reveal()).toBe(HOOK_SECRET);
    expect(viaCred.secret.source).toBe('$CREDENTIALS_DIRECTORY/webhook_secret');
    // the settings never print the secret
    expect(inspect(viaCred, { depth: 5 })).not.toContain(HOOK_SECRET);
    expect(JSON.stringify(viaCred)).not.toContain(HOOK_SECRET);
  });
});
