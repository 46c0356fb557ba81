import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CREDENTIAL_NAMES, ConfigError, EXIT_CONFIG, loadEnv, snippetsDirFor } from '../src/config/index.js';
import type { ConfigFs, Env } from '../src/config/index.js';

const SECRET = '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f';
const TOKEN = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
const base: Env = {
  PROXMOX_URL: 'https://pve1:8006/api2/json',
  PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
  PROXMOX_TOKEN_SECRET: SECRET,
  GITHUB_TOKEN: TOKEN,
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** No /etc/pve-runners/pools.yaml, whatever the machine running the tests has. */
const noEtcFs: ConfigFs = {
  readText: (p) => readFileSync(p, 'utf8'),
  exists: (p) => !p.startsWith('/etc/pve-runners') && existsSync(p),
};

function load(env: Env) {
  return loadEnv(env, { cwd: dir, fs: noEtcFs });
}

function problemsOf(env: Env) {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe('environment: defaults', () => {
  it('fills in what DESIGN.md says when only the required variables are set', () => {
    const s = load(base);
    expect(s.proxmox).toMatchObject({ url: 'https://pve1:8006/api2/json', protocol: 'https', host: 'pve1', port: 8006, node: undefined, tokenId: 'pve-runners@pve!daemon', verifySsl: true, caFile: undefined, storage: 'local' });
    expect(s.proxmox.tokenSecret.reveal()).toBe(SECRET);
    expect(s.github.apiUrl).toBe('https://api.github.com');
    expect(s.github.auth.kind).toBe('token');
    expect(s.snippetsDir).toBe('/var/lib/vz/snippets');
    expect(s.poolsConfig).toEqual({ file: 'pools.yaml', path: join(dir, 'pools.yaml') });
    expect(s).toMatchObject({ pollIntervalMs: 15_000, maxTotalRunners: undefined, disableCleanup: false, pauseOnStopped: false, logLevel: 'info', logFormat: 'text', repo: undefined });
    expect(Object.isFrozen(s) && Object.isFrozen(s.proxmox)).toBe(true);
  });

  it('prefers /etc/pve-runners/pools.yaml when it exists, and RUNNER_POOLS_CONFIG over both', () => {
    const etcFs: ConfigFs = { readText: noEtcFs.readText, exists: (p) => p === '/etc/pve-runners/pools.yaml' };
    expect(loadEnv(base, { cwd: dir, fs: etcFs }).poolsConfig.path).toBe('/etc/pve-runners/pools.yaml');
    expect(loadEnv({ ...base, RUNNER_POOLS_CONFIG: 'conf/p.yaml' }, { cwd: dir, fs: etcFs }).poolsConfig).toEqual({ file: 'conf/p.yaml', path: join(dir, 'conf/p.yaml') });
  });

  it('reads every optional variable', () => {
    const ca = write('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const s = load({
      ...base, PROXMOX_URL: 'http://127.0.0.1:39001', PROXMOX_NODE: 'pve2', PROXMOX_VERIFY_SSL: 'no', PROXMOX_CA_FILE: ca, PROXMOX_STORAGE: 'cephfs', PROXMOX_POOL: 'pve-runners',
      SNIPPETS_DIR: '/mnt/pve-snippets/{node}', GITHUB_API_URL: 'http://127.0.0.1:39002/', POLL_INTERVAL: '5', MAX_TOTAL_RUNNERS: '12',
      DISABLE_CLEANUP: 'TRUE', PAUSE_ON_STOPPED: '1', LOG_LEVEL: 'DEBUG', LOG_FORMAT: 'json', REPO_OWNER: 'NREL', REPO_NAME: 'EnergyPlus',
    });
    expect(s.proxmox).toMatchObject({ url: 'http://127.0.0.1:39001/api2/json', protocol: 'http', host: '127.0.0.1', port: 39001, node: 'pve2', verifySsl: false, caFile: ca, storage: 'cephfs', pool: 'pve-runners' });
    expect(s.proxmox.ca).toContain('BEGIN CERTIFICATE');
    expect(snippetsDirFor(s.snippetsDir, 'pve2')).toBe('/mnt/pve-snippets/pve2');
    expect(s.github.apiUrl).toBe('http://127.0.0.1:39002');
    expect(s).toMatchObject({ pollIntervalMs: 5000, maxTotalRunners: 12, disableCleanup: true, pauseOnStopped: true, logLevel: 'debug', logFormat: 'json', repo: 'NREL/EnergyPlus' });
  });

  it.each([
    ['https://pve1:8006', 'https://pve1:8006/api2/json'],
    ['https://pve1:8006/', 'https://pve1:8006/api2/json'],
    ['https://pve1:8006/api2/json/', 'https://pve1:8006/api2/json'],
    ['https://proxy.example.com/pve', 'https://proxy.example.com/pve/api2/json'],
    ['https://[fd00::1]:8006/api2/json', 'https://[fd00::1]:8006/api2/json'],
  ])('PROXMOX_URL %s becomes %s', (given, url) => {
    expect(load({ ...base, PROXMOX_URL: given }).proxmox.url).toBe(url);
  });

  it.each([['1', true], ['0', false], ['true', true], ['False', false], ['yes', true], ['NO', false], ['', true]])('PROXMOX_VERIFY_SSL=%s is %s', (v, b) => {
    expect(load({ ...base, PROXMOX_VERIFY_SSL: v }).proxmox.verifySsl).toBe(b);
  });

  it('takes POLL_INTERVAL as seconds or a duration, and MAX_TOTAL_RUNNERS=0 as "no overall cap"', () => {
    expect(load({ ...base, POLL_INTERVAL: '2.5' }).pollIntervalMs).toBe(2500);
    expect(load({ ...base, POLL_INTERVAL: '1m' }).pollIntervalMs).toBe(60_000);
    expect(load({ ...base, MAX_TOTAL_RUNNERS: '0' }).maxTotalRunners).toBe(0);
  });
});

describe('environment: errors name the variable and a fix', () => {
  it.each([
    ['PROXMOX_URL', { PROXMOX_URL: undefined }, 'environment: PROXMOX_URL: is not set — fix: set PROXMOX_URL to the API base of a cluster node, e.g. https://pve1:8006/api2/json'],
    ['PROXMOX_URL', { PROXMOX_URL: 'pve1:8006' }, "environment: PROXMOX_URL: 'pve1:8006' is not an http(s) URL — fix: set PROXMOX_URL to the API base"],
    ['PROXMOX_URL', { PROXMOX_URL: 'not a url' }, "environment: PROXMOX_URL: 'not a url' is not a URL — fix:"],
    ['PROXMOX_TOKEN_ID', { PROXMOX_TOKEN_ID: 'root@pam' }, "environment: PROXMOX_TOKEN_ID: 'root@pam' is not of the form user@realm!tokenid — fix: set PROXMOX_TOKEN_ID to the full token id"],
    ['PROXMOX_TOKEN_ID', { PROXMOX_TOKEN_ID: undefined }, 'environment: PROXMOX_TOKEN_ID: is not set — fix: set PROXMOX_TOKEN_ID to the API token id, user@realm!tokenid'],
    ['PROXMOX_TOKEN_SECRET', { PROXMOX_TOKEN_SECRET: undefined }, 'environment: PROXMOX_TOKEN_SECRET: is not set — fix: set PROXMOX_TOKEN_SECRET, or PROXMOX_TOKEN_SECRET_FILE to a file holding it, or provide the systemd credential proxmox_token_secret'],
    ['PROXMOX_VERIFY_SSL', { PROXMOX_VERIFY_SSL: 'maybe' }, "environment: PROXMOX_VERIFY_SSL: 'maybe' is not a boolean — fix: set PROXMOX_VERIFY_SSL to one of 1, 0, true, false, yes, no"],
    ['PROXMOX_CA_FILE', { PROXMOX_CA_FILE: '/nonexistent/ca.pem' }, 'environment: PROXMOX_CA_FILE: cannot read /nonexistent/ca.pem: no such file or directory (ENOENT) — fix:'],
    ['PROXMOX_STORAGE', { PROXMOX_STORAGE: 'local lvm' }, "environment: PROXMOX_STORAGE: 'local lvm' is not a storage id — fix:"],
    ['PROXMOX_POOL', { PROXMOX_POOL: 'ci pool' }, "environment: PROXMOX_POOL: 'ci pool' is not a resource pool id — fix: set PROXMOX_POOL to the pool scripts/create-proxmox-token.sh made"],
    ['PROXMOX_NODE', { PROXMOX_NODE: 'pve_1' }, "environment: PROXMOX_NODE: 'pve_1' is not a node name — fix:"],
    ['SNIPPETS_DIR', { SNIPPETS_DIR: 'snippets' }, "environment: SNIPPETS_DIR: 'snippets' is not an absolute path — fix:"],
    ['SNIPPETS_DIR', { SNIPPETS_DIR: '/mnt/{host}' }, 'environment: SNIPPETS_DIR: unknown placeholder {host} — fix:'],
    ['GITHUB_API_URL', { GITHUB_API_URL: 'ftp://ghe' }, "environment: GITHUB_API_URL: 'ftp://ghe' is not an http(s) URL — fix:"],
    ['GITHUB_TOKEN', { GITHUB_TOKEN: undefined }, 'environment: GITHUB_TOKEN: no GitHub credentials are set — fix: either set GITHUB_TOKEN (or GITHUB_TOKEN_FILE'],
    ['GITHUB_APP_ID', { GITHUB_TOKEN: undefined, GITHUB_APP_INSTALLATION_ID: '42' }, 'environment: GITHUB_APP_ID: is not set, but other GITHUB_APP_* variables are — fix:'],
    ['GITHUB_APP_INSTALLATION_ID', { GITHUB_APP_INSTALLATION_ID: 'abc' }, "environment: GITHUB_APP_INSTALLATION_ID: 'abc' is not a whole number >= 1 — fix:"],
    ['POLL_INTERVAL', { POLL_INTERVAL: 'often' }, "environment: POLL_INTERVAL: 'often' is not a positive number of seconds — fix: set POLL_INTERVAL to seconds between ticks"],
    ['POLL_INTERVAL', { POLL_INTERVAL: '0' }, "environment: POLL_INTERVAL: '0' is not a positive number of seconds"],
    ['MAX_TOTAL_RUNNERS', { MAX_TOTAL_RUNNERS: '-1' }, "environment: MAX_TOTAL_RUNNERS: '-1' is not a whole number >= 0 — fix:"],
    ['MAX_TOTAL_RUNNERS', { MAX_TOTAL_RUNNERS: '2.5' }, "environment: MAX_TOTAL_RUNNERS: '2.5' is not a whole number >= 0"],
    ['DISABLE_CLEANUP', { DISABLE_CLEANUP: 'on' }, "environment: DISABLE_CLEANUP: 'on' is not a boolean"],
    ['PAUSE_ON_STOPPED', { PAUSE_ON_STOPPED: '2' }, "environment: PAUSE_ON_STOPPED: '2' is not a boolean"],
    ['LOG_LEVEL', { LOG_LEVEL: 'trace' }, "environment: LOG_LEVEL: 'trace' is not a log level — fix: set LOG_LEVEL to one of error, warn, info, debug"],
    ['LOG_FORMAT', { LOG_FORMAT: 'xml' }, "environment: LOG_FORMAT: 'xml' is not a log format — fix: set LOG_FORMAT to json or text"],
    ['REPO_NAME', { REPO_OWNER: 'acme' }, 'environment: REPO_NAME: is not set, but REPO_OWNER is — fix:'],
    ['REPO_OWNER', { REPO_OWNER: 'ac me', REPO_NAME: 'app' }, "environment: REPO_OWNER: 'ac me' is not a GitHub user or organisation name"],
  ])('%s (case %#)', (variable, change, line) => {
    const err = problemsOf({ ...base, ...change });
    expect(err.exitCode).toBe(EXIT_CONFIG);
    expect(EXIT_CONFIG).toBe(78);
    expect(err.message.split('\n')).toContainEqual(expect.stringContaining(line));
    expect(err.problems.map((p) => p.path)).toContain(variable);
  });

  it('reports every bad variable at once', () => {
    const err = problemsOf({ PROXMOX_URL: 'x', LOG_FORMAT: 'xml', POLL_INTERVAL: 'often' });
    expect(err.problems.map((p) => p.path).sort()).toEqual(['GITHUB_TOKEN', 'LOG_FORMAT', 'POLL_INTERVAL', 'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET', 'PROXMOX_URL']);
    expect(err.problems.every((p) => p.file === 'environment' && p.fix.length > 0)).toBe(true);
  });

  it('rejects a token and GitHub App settings together, and a half-configured App', () => {
    expect(problemsOf({ ...base, GITHUB_APP_ID: '1' }).message).toContain('GITHUB_TOKEN: both a token and GitHub App settings are given');
    const half = problemsOf({ ...base, GITHUB_TOKEN: undefined, GITHUB_APP_ID: '123' });
    expect(half.problems.map((p) => p.path).sort()).toEqual(['GITHUB_APP_INSTALLATION_ID', 'GITHUB_APP_PRIVATE_KEY']);
  });
});

describe('environment: GitHub App', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const app = { ...base, GITHUB_TOKEN: undefined, GITHUB_APP_ID: '123456', GITHUB_APP_INSTALLATION_ID: '7890' };

  it('takes App ID, installation ID and a PEM key', () => {
    const s = load({ ...app, GITHUB_APP_PRIVATE_KEY: pem });
    expect(s.github.auth).toMatchObject({ kind: 'app', appId: 123456, installationId: 7890 });
    expect(s.github.auth.kind === 'app' && s.github.auth.privateKey.reveal()).toBe(pem.trim());
  });

  it('accepts a client ID as the App ID, and a key with literal \\n as env files carry it', () => {
    const s = load({ ...app, GITHUB_APP_ID: 'Iv23liAbCdEf', GITHUB_APP_PRIVATE_KEY: pem.trim().replaceAll('\n', '\\n') });
    expect(s.github.auth).toMatchObject({ kind: 'app', appId: 'Iv23liAbCdEf' });
    expect(s.github.auth.kind === 'app' && s.github.auth.privateKey.reveal()).toBe(pem.trim());
  });

  it('reads the key from GITHUB_APP_PRIVATE_KEY_FILE, keeping its inner newlines', () => {
    const s = load({ ...app, GITHUB_APP_PRIVATE_KEY_FILE: write('app.pem', pem + '\n\n') });
    expect(s.github.auth.kind === 'app' && s.github.auth.privateKey.reveal()).toBe(pem.replace(/\n+$/, ''));
  });
});

describe('secrets: variable, NAME_FILE, $CREDENTIALS_DIRECTORY', () => {
  const fromEnv = (env: Env) => {
    const s = load(env);
    return { px: s.proxmox.tokenSecret, gh: s.github.auth.kind === 'token' ? s.github.auth.token : undefined };
  };

  it('reads NAME_FILE (relative to the working directory) without its trailing newline', () => {
    write('secrets/px', `${SECRET}\n`);
    write('secrets/gh', `${TOKEN}\r\n`);
    const { px, gh } = fromEnv({ ...base, PROXMOX_TOKEN_SECRET: undefined, PROXMOX_TOKEN_SECRET_FILE: 'secrets/px', GITHUB_TOKEN: '', GITHUB_TOKEN_FILE: join(dir, 'secrets/gh') });
    expect(px.reveal()).toBe(SECRET);
    expect(px.source).toBe('PROXMOX_TOKEN_SECRET_FILE=secrets/px');
    expect(gh?.reveal()).toBe(TOKEN);
  });

  it('reads $CREDENTIALS_DIRECTORY/<credential name>', () => {
    expect(CREDENTIAL_NAMES).toEqual({ PROXMOX_TOKEN_SECRET: 'proxmox_token_secret', GITHUB_TOKEN: 'github_token', GITHUB_APP_PRIVATE_KEY: 'github_app_private_key', WEBHOOK_SECRET: 'webhook_secret', SFTP_PRIVATE_KEY: 'sftp_private_key' });
    write('creds/proxmox_token_secret', `${SECRET}\n`);
    write('creds/github_token', `${TOKEN}\n`);
    const { px, gh } = fromEnv({ ...base, PROXMOX_TOKEN_SECRET: undefined, GITHUB_TOKEN: undefined, CREDENTIALS_DIRECTORY: join(dir, 'creds') });
    expect(px.reveal()).toBe(SECRET);
    expect(px.source).toBe('$CREDENTIALS_DIRECTORY/proxmox_token_secret');
    expect(gh?.reveal()).toBe(TOKEN);
  });

  it('takes the variable first, then NAME_FILE, then the credentials directory', () => {
    const other = (c: string) => SECRET.replace(/^0/, c);
    write('file', other('1'));
    write('creds/proxmox_token_secret', other('2'));
    const all = { ...base, PROXMOX_TOKEN_SECRET: other('3'), PROXMOX_TOKEN_SECRET_FILE: join(dir, 'file'), CREDENTIALS_DIRECTORY: join(dir, 'creds') };
    expect(fromEnv(all).px.reveal()).toBe(other('3'));
    expect(fromEnv({ ...all, PROXMOX_TOKEN_SECRET: undefined }).px.reveal()).toBe(other('1'));
    expect(fromEnv({ ...all, PROXMOX_TOKEN_SECRET: undefined, PROXMOX_TOKEN_SECRET_FILE: undefined }).px.reveal()).toBe(other('2'));
  });

  it('names the _FILE variable when its file is missing or empty', () => {
    write('empty', '\n');
    const err = problemsOf({ ...base, GITHUB_TOKEN: undefined, GITHUB_TOKEN_FILE: join(dir, 'nope'), PROXMOX_TOKEN_SECRET: undefined, PROXMOX_TOKEN_SECRET_FILE: join(dir, 'empty') });
    expect(err.message).toContain(`environment: GITHUB_TOKEN_FILE: cannot read ${join(dir, 'nope')} for GITHUB_TOKEN: no such file or directory (ENOENT) — fix:`);
    expect(err.message).toContain(`environment: PROXMOX_TOKEN_SECRET_FILE: ${join(dir, 'empty')} is empty, so PROXMOX_TOKEN_SECRET has no value — fix:`);
  });

  it('never puts a secret value into an error, even an invalid one from any source', () => {
    const badSecret = 'Hunter2-Not-A-Uuid-d4e5f6';
    const badToken = 'ghp_leak me please';
    const badKey = '-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----';
    write('creds/github_app_private_key', badKey);
    write('px', badSecret);
    const cases: Env[] = [
      { ...base, PROXMOX_TOKEN_SECRET: badSecret, GITHUB_TOKEN: badToken },
      { ...base, PROXMOX_TOKEN_SECRET: undefined, PROXMOX_TOKEN_SECRET_FILE: join(dir, 'px'), GITHUB_TOKEN: undefined, GITHUB_APP_ID: 'x', GITHUB_APP_INSTALLATION_ID: '1', GITHUB_APP_PRIVATE_KEY: badKey },
      { ...base, GITHUB_TOKEN: undefined, GITHUB_APP_ID: '1', GITHUB_APP_INSTALLATION_ID: '1', CREDENTIALS_DIRECTORY: join(dir, 'creds') },
      { ...base, GITHUB_APP_ID: '1', PROXMOX_URL: `https://root:${badSecret}@pve1:8006` },
      { ...base, WEBHOOK_LISTEN: 'nowhere', WEBHOOK_SECRET: badSecret.slice(0, 12) },
      { ...base, WEBHOOK_LISTEN: '0.0.0.0:8080', WEBHOOK_SECRET_FILE: join(dir, 'px'), WEBHOOK_SECRET: undefined, PROXMOX_TOKEN_SECRET: 'nope' },
    ];
    for (const env of cases) {
      const err = problemsOf(env);
      const everything = `${err.message}\n${JSON.stringify(err.problems)}\n${inspect(err)}`;
      for (const secret of [badSecret, badSecret.slice(0, 12), badToken, 'c2VjcmV0LWtleS1tYXRlcmlhbA', 'leak me']) expect(everything).not.toContain(secret);
    }
    const messages = cases.map((env) => problemsOf(env).message).join('\n');
    expect(messages).toContain('PROXMOX_TOKEN_SECRET: the value from PROXMOX_TOKEN_SECRET is not a Proxmox token secret');
    expect(messages).toContain('GITHUB_TOKEN: the token from GITHUB_TOKEN contains whitespace');
    expect(messages).toContain('GITHUB_APP_PRIVATE_KEY: the value from $CREDENTIALS_DIRECTORY/github_app_private_key is not a PEM private key');
    expect(messages).toContain('PROXMOX_URL: contains a user name or password');
  });

  it('prints a loaded secret as [redacted] however it is printed', () => {
    const s = load(base);
    const secret = s.proxmox.tokenSecret;
    const printed = [String(secret), `${secret}`, JSON.stringify(s), inspect(s, { depth: 10 }), inspect(secret)].join('\n');
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(TOKEN);
    expect(printed).toContain('[redacted]');
    expect(inspect(secret)).toBe('Secret([redacted] from PROXMOX_TOKEN_SECRET)');
  });
});
