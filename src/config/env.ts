/**
 * The daemon's environment, as DESIGN.md names it (names kept from the Python predecessor so its
 * users can move over). Parsed once from a plain record the CLI entry hands in; nothing else reads
 * process.env.
 */
import { isAbsolute, join } from 'node:path';
import { parseDuration } from '../util/duration.js';
import { durationProblem } from './durations.js';
import { EnvReader, type Env } from './env-reader.js';
import { githubAuth, type GithubAuth } from './env-github.js';
import { readSecret, secretHowTo } from './env-secrets.js';
import { githubApiUrl, proxmoxUrl, type ProxmoxUrl } from './env-urls.js';
import { sftpSettings, type SftpSettings } from './env-sftp.js';
import { webhookSettings, type WebhookSettings } from './env-webhook.js';
import { metricsListen, type ListenAddress } from './env-metrics.js';
import { instanceSettings, type InstanceSettings } from './env-instance.js';
import { ConfigError } from './errors.js';
import type { ConfigProblem } from './errors.js';
import { describeFsError, fsFix, MAX_CONFIG_BYTES, nodeFs } from './fs.js';
import type { ConfigFs } from './fs.js';
import { Secret } from './secret.js';

export type { Env } from './env-reader.js';
export type { GithubAuth } from './env-github.js';
export { CREDENTIAL_NAMES, SECRET_VARIABLES, type SecretVariable } from './env-secrets.js';
export type { WebhookSettings } from './env-webhook.js';
export type { ListenAddress } from './env-metrics.js';
export type { InstanceSettings } from './env-instance.js';
export type { SftpSettings } from './env-sftp.js';

/** The README's levels. The logger uses syslog levels, so winston's npm ones (http, verbose, silly) would silence it. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'text';

export const DEFAULT_POOLS_CONFIG = '/etc/pve-runners/pools.yaml';
export const DEFAULT_SNIPPETS_DIR = '/var/lib/vz/snippets';

export interface ProxmoxSettings extends ProxmoxUrl {
  /** Default node for pools that name none. */
  readonly node: string | undefined;
  /** `user@realm!tokenid` */
  readonly tokenId: string;
  readonly tokenSecret: Secret;
  readonly verifySsl: boolean;
  readonly caFile: string | undefined;
  /** PEM text of caFile. */
  readonly ca: string | undefined;
  /** Snippet storage id. */
  readonly storage: string;
  /** Resource pool runner VMs are cloned into (PROXMOX_POOL); the least-privilege token's ACLs live on it. */
  readonly pool: string | undefined;
}

export interface EnvSettings {
  readonly proxmox: ProxmoxSettings;
  readonly github: { readonly apiUrl: string; readonly auth: GithubAuth };
  /** Where snippets are written; may contain `{node}` (see snippetsDirFor). */
  readonly snippetsDir: string;
  /** pools.yaml as the user named it (for messages) and as an absolute path. */
  readonly poolsConfig: { readonly file: string; readonly path: string };
  readonly pollIntervalMs: number;
  /** MAX_TOTAL_RUNNERS: undefined when unset; 0 means no overall cap (as in the predecessor). */
  readonly maxTotalRunners: number | undefined;
  readonly disableCleanup: boolean;
  readonly pauseOnStopped: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** REPO_OWNER/REPO_NAME, the single-repo shorthand added to github.repos. */
  readonly repo: string | undefined;
  /** WEBHOOK_LISTEN and WEBHOOK_SECRET; undefined: no listener, polling alone */
  readonly webhook: WebhookSettings | undefined;
  /** METRICS_LISTEN; undefined: no /metrics */
  readonly metrics: ListenAddress | undefined;
  /** INSTANCE_ID (or one derived from the machine id) and INSTANCE_TAKEOVER_AFTER */
  readonly instance: InstanceSettings;
  /** SFTP_*: used by pools with delivery: sftp */
  readonly sftp: SftpSettings;
  /**
   * systemd's RUNTIME_DIRECTORY (RuntimeDirectory=pve-runners), default /run/pve-runners: where the
   * daemon leaves its state for `status` (reload outcome, last actions, its last tick's table).
   */
  readonly runtimeDir: string;
}

export interface EnvOptions {
  fs?: ConfigFs;
  /** Relative paths (RUNNER_POOLS_CONFIG, *_FILE) are resolved against this; default process.cwd(). */
  cwd?: string;
}

export function snippetsDirFor(snippetsDir: string, node: string): string {
  return snippetsDir.replaceAll('{node}', node);
}

const TOKEN_ID_RE = /^[^\s:/@!]+@[A-Za-z][A-Za-z0-9._-]+![A-Za-z][A-Za-z0-9._-]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STORAGE_RE = /^[a-zA-Z][a-zA-Z0-9._-]*[a-zA-Z0-9]$/;
const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const REPO_NAME_RE = /^[A-Za-z0-9_.-]+$/;

function proxmox(r: EnvReader): ProxmoxSettings | undefined {
  const url = proxmoxUrl(r);
  const node = r.raw('PROXMOX_NODE');
  if (node !== undefined && !NODE_RE.test(node)) r.problem('PROXMOX_NODE', `'${node}' is not a node name`, 'set PROXMOX_NODE to a node name as `pvecm nodes` shows it, e.g. pve1');

  const tokenId = r.raw('PROXMOX_TOKEN_ID');
  if (tokenId === undefined) r.problem('PROXMOX_TOKEN_ID', 'is not set', 'set PROXMOX_TOKEN_ID to the API token id, user@realm!tokenid, e.g. pve-runners@pve!daemon');
  else if (!TOKEN_ID_RE.test(tokenId)) r.problem('PROXMOX_TOKEN_ID', `'${tokenId}' is not of the form user@realm!tokenid`, 'set PROXMOX_TOKEN_ID to the full token id as `pveum user token list` shows it, e.g. pve-runners@pve!daemon');

  const secret = readSecret(r, 'PROXMOX_TOKEN_SECRET');
  if (secret === undefined) r.problem('PROXMOX_TOKEN_SECRET', 'is not set', secretHowTo('PROXMOX_TOKEN_SECRET'));
  else if (!UUID_RE.test(secret.reveal()))
    r.problem('PROXMOX_TOKEN_SECRET', `the value from ${secret.source} is not a Proxmox token secret`, 'use the secret `pveum user token add` printed: a lower-case UUID like 12345678-9abc-def0-1234-56789abcdef0');

  const verifySsl = r.bool('PROXMOX_VERIFY_SSL', true);
  const caFileRaw = r.raw('PROXMOX_CA_FILE');
  let ca: string | undefined;
  let caFile: string | undefined;
  if (caFileRaw !== undefined) {
    caFile = r.path(caFileRaw);
    try {
      ca = r.fsRead(caFile, MAX_CONFIG_BYTES);
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
        r.problem('PROXMOX_CA_FILE', `${caFileRaw} holds no PEM certificate`, 'point PROXMOX_CA_FILE at the cluster CA, /etc/pve/pve-root-ca.pem on any node');
        ca = undefined;
      }
    } catch (e) {
      r.problem('PROXMOX_CA_FILE', `cannot read ${caFileRaw}: ${describeFsError(e)}`, fsFix(e, 'PROXMOX_CA_FILE', 'point PROXMOX_CA_FILE at a readable copy of /etc/pve/pve-root-ca.pem'));
    }
  }

  const storage = r.raw('PROXMOX_STORAGE') ?? 'local';
  if (!STORAGE_RE.test(storage)) r.problem('PROXMOX_STORAGE', `'${storage}' is not a storage id`, 'set PROXMOX_STORAGE to the id of a storage with content type snippets, e.g. local');

  const pool = r.raw('PROXMOX_POOL');
  if (pool !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(pool))
    r.problem('PROXMOX_POOL', `'${pool}' is not a resource pool id`, 'set PROXMOX_POOL to the pool scripts/create-proxmox-token.sh made (default pve-runners), or leave it unset');

  if (!url || tokenId === undefined || !TOKEN_ID_RE.test(tokenId) || !secret || !UUID_RE.test(secret.reveal())) return undefined;
  return { ...url, node, tokenId, tokenSecret: secret, verifySsl, caFile, ca, storage, pool };
}

function snippetsDir(r: EnvReader): string {
  const dir = r.raw('SNIPPETS_DIR') ?? DEFAULT_SNIPPETS_DIR;
  const fix = 'set SNIPPETS_DIR to an absolute directory, optionally with {node} for per-node mounts, e.g. /var/lib/vz/snippets or /mnt/pve-snippets/{node}';
  if (!isAbsolute(dir)) r.problem('SNIPPETS_DIR', `'${dir}' is not an absolute path`, fix);
  const placeholders = [...dir.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((p) => p !== 'node');
  if (placeholders.length) r.problem('SNIPPETS_DIR', `unknown placeholder {${placeholders[0]}}`, fix);
  return dir;
}

export const DEFAULT_RUNTIME_DIR = '/run/pve-runners';

function runtimeDir(r: EnvReader): string {
  // systemd may list several directories (RuntimeDirectory=a b): the first is ours.
  const dir = r.raw('RUNTIME_DIRECTORY')?.split(':')[0] ?? DEFAULT_RUNTIME_DIR;
  if (!isAbsolute(dir)) r.problem('RUNTIME_DIRECTORY', `'${dir}' is not an absolute path`, 'leave it to systemd (RuntimeDirectory=pve-runners in the unit), or set an absolute directory');
  return dir;
}

function poolsConfig(r: EnvReader, fs: ConfigFs, cwd: string, override: string | undefined): { file: string; path: string } {
  const given = override ?? r.raw('RUNNER_POOLS_CONFIG');
  if (given !== undefined) return { file: given, path: r.path(given) };
  if (fs.exists(DEFAULT_POOLS_CONFIG)) return { file: DEFAULT_POOLS_CONFIG, path: DEFAULT_POOLS_CONFIG };
  return { file: 'pools.yaml', path: join(cwd, 'pools.yaml') };
}

export interface ParsedEnv {
  /** Undefined when any problem was found. */
  readonly settings: EnvSettings | undefined;
  readonly problems: readonly ConfigProblem[];
  /** What loading pools.yaml needs from the environment, available even when other variables are bad. */
  readonly forPools: {
    readonly poolsConfig: { readonly file: string; readonly path: string };
    readonly defaultNode: string | undefined;
    readonly repo: string | undefined;
    readonly maxTotalRunners: number | undefined;
  };
}

/** Parses without throwing, so loadSettings can report environment and pools.yaml problems together. */
export function parseEnv(env: Env, opts: EnvOptions & { poolsFile?: string } = {}): ParsedEnv {
  const fs = opts.fs ?? nodeFs;
  const cwd = opts.cwd ?? process.cwd();
  const r = new EnvReader(env, fs, cwd);

  const px = proxmox(r);
  const apiUrl = githubApiUrl(r);
  const auth = githubAuth(r);
  const dir = snippetsDir(r);
  const pools = poolsConfig(r, fs, cwd, opts.poolsFile);

  let pollIntervalMs = 15_000;
  const poll = r.raw('POLL_INTERVAL');
  if (poll !== undefined) {
    let ms: number | undefined;
    try {
      ms = parseDuration(/^\d+(\.\d+)?$/.test(poll) ? Number(poll) : poll);
    } catch {
      ms = undefined;
    }
    const wrong = ms === undefined || ms <= 0 ? undefined : durationProblem('POLL_INTERVAL', `'${poll}'`, ms);
    if (ms === undefined || ms <= 0) r.problem('POLL_INTERVAL', `'${poll}' is not a positive number of seconds`, 'set POLL_INTERVAL to seconds between ticks, e.g. 15 (or a duration such as 30s)');
    else if (wrong) r.problem('POLL_INTERVAL', wrong.message, wrong.fix);
    else pollIntervalMs = ms;
  }
  const maxTotalRunners = r.int('MAX_TOTAL_RUNNERS', 0, 'set MAX_TOTAL_RUNNERS to the most runner VMs at once, e.g. 8 (0: no overall cap), or unset it to use max_total_runners from pools.yaml');

  const logLevelRaw = r.raw('LOG_LEVEL')?.toLowerCase() ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw) ? (logLevelRaw as LogLevel) : undefined;
  if (!logLevel) r.problem('LOG_LEVEL', `'${logLevelRaw}' is not a log level`, `set LOG_LEVEL to one of ${LOG_LEVELS.join(', ')}`);
  const logFormatRaw = r.raw('LOG_FORMAT')?.toLowerCase() ?? 'text';
  if (logFormatRaw !== 'json' && logFormatRaw !== 'text') r.problem('LOG_FORMAT', `'${logFormatRaw}' is not a log format`, 'set LOG_FORMAT to json or text');

  const owner = r.raw('REPO_OWNER');
  const name = r.raw('REPO_NAME');
  let repo: string | undefined;
  if (owner !== undefined || name !== undefined) {
    if (owner === undefined) r.problem('REPO_OWNER', 'is not set, but REPO_NAME is', 'set REPO_OWNER to the repository owner (e.g. acme for acme/app), or unset REPO_NAME');
    else if (!OWNER_RE.test(owner)) r.problem('REPO_OWNER', `'${owner}' is not a GitHub user or organisation name`, 'set REPO_OWNER to the owner part of owner/name, e.g. acme');
    if (name === undefined) r.problem('REPO_NAME', 'is not set, but REPO_OWNER is', 'set REPO_NAME to the repository name (e.g. app for acme/app), or unset REPO_OWNER');
    else if (!REPO_NAME_RE.test(name)) r.problem('REPO_NAME', `'${name}' is not a repository name`, 'set REPO_NAME to the name part of owner/name, e.g. app');
    if (owner !== undefined && name !== undefined) repo = `${owner}/${name}`;
  }

  const disableCleanup = r.bool('DISABLE_CLEANUP', false);
  const pauseOnStopped = r.bool('PAUSE_ON_STOPPED', false);
  const webhook = webhookSettings(r);
  const metrics = metricsListen(r);
  const instance = instanceSettings(r);
  const sftp = sftpSettings(r);

  const node = r.raw('PROXMOX_NODE');
  const forPools = Object.freeze({ poolsConfig: pools, defaultNode: node !== undefined && NODE_RE.test(node) ? node : undefined, repo, maxTotalRunners });
  if (r.problems.length > 0 || !px || !auth || !logLevel) return { settings: undefined, problems: r.problems, forPools };
  const settings: EnvSettings = {
    proxmox: Object.freeze(px),
    github: Object.freeze({ apiUrl, auth: Object.freeze(auth) }),
    snippetsDir: dir,
    poolsConfig: Object.freeze(pools),
    pollIntervalMs,
    maxTotalRunners,
    disableCleanup,
    pauseOnStopped,
    logLevel,
    logFormat: logFormatRaw as LogFormat,
    repo,
    webhook,
    metrics,
    instance: Object.freeze(instance),
    sftp: Object.freeze(sftp),
    runtimeDir: runtimeDir(r),
  };
  return { settings: Object.freeze(settings), problems: [], forPools };
}

/** The environment as typed settings; throws ConfigError naming every bad variable. */
export function loadEnv(env: Env, opts: EnvOptions & { poolsFile?: string } = {}): EnvSettings {
  const { settings, problems } = parseEnv(env, opts);
  if (!settings) throw new ConfigError(problems);
  return settings;
}
