/**
 * Configuration in one call: the environment (handed in by the CLI entry, the one place that reads
 * process.env) and the pools.yaml it points at. Problems in both are reported together.
 */
import { parseEnv } from './env.js';
import { sftpProblems } from './env-sftp.js';
import type { Env, EnvSettings } from './env.js';
import { ConfigError } from './errors.js';
import type { ConfigFs } from './fs.js';
import { readPoolsConfig } from './pools.js';
import type { Config } from './types.js';

export interface Settings {
  readonly env: EnvSettings;
  readonly config: Config;
}

export interface LoadOptions {
  fs?: ConfigFs;
  /** Relative paths in the environment are resolved against this; default process.cwd(). */
  cwd?: string;
  /** A pools.yaml that wins over RUNNER_POOLS_CONFIG (e.g. `demo --pools FILE`). */
  poolsFile?: string;
}

/** Throws ConfigError (exit code EXIT_CONFIG) listing every problem in the environment and pools.yaml. */
export function loadSettings(env: Env, opts: LoadOptions = {}): Settings {
  const parsed = parseEnv(env, opts);
  const pools = readPools(parsed.forPools, opts.fs);
  const delivery = pools.config ? sftpProblems(parsed.settings?.sftp, pools.config.pools, parsed.forPools.poolsConfig.file) : [];
  if (!parsed.settings || !pools.config || delivery.length > 0) throw new ConfigError([...parsed.problems, ...pools.problems, ...delivery]);
  return Object.freeze({ env: parsed.settings, config: pools.config });
}

interface PoolsInputs {
  poolsConfig: { file: string; path: string };
  defaultNode: string | undefined;
  repo: string | undefined;
  maxTotalRunners: number | undefined;
}

function readPools(i: PoolsInputs, fs: ConfigFs | undefined): ReturnType<typeof readPoolsConfig> {
  return readPoolsConfig(i.poolsConfig, { fs, defaultNode: i.defaultNode, extraRepos: i.repo === undefined ? [] : [i.repo], maxTotalRunners: i.maxTotalRunners });
}

/**
 * pools.yaml (and its user_data templates) read and checked again, as at start, with what the
 * environment given at start says of it: a reload re-reads the file, never the environment.
 */
export function rereadPools(env: EnvSettings, fs?: ConfigFs): ReturnType<typeof readPoolsConfig> {
  return readPools({ poolsConfig: env.poolsConfig, defaultNode: env.proxmox.node, repo: env.repo, maxTotalRunners: env.maxTotalRunners }, fs);
}

export { CREDENTIAL_NAMES, DEFAULT_POOLS_CONFIG, DEFAULT_RUNTIME_DIR, DEFAULT_SNIPPETS_DIR, LOG_LEVELS, SECRET_VARIABLES, loadEnv, parseEnv, snippetsDirFor } from './env.js';
export type { Env, EnvSettings, SftpSettings, GithubAuth, LogFormat, LogLevel, ProxmoxSettings, SecretVariable } from './env.js';
export { ConfigError, EXIT_CONFIG, formatProblem } from './errors.js';
export type { ConfigProblem } from './errors.js';
export type { ConfigFs } from './fs.js';
export { poolFits, selectPool, shadowingPool } from './labels.js';
export { loadPoolsConfig, parsePoolsConfig, readPoolsConfig } from './pools.js';
export type { PoolsFile, PoolsOptions } from './pools.js';
export { nextRuleChange, sizesInForce } from './schedule.js';
export type { Scheduled, SizesInForce } from './schedule.js';
export { Secret } from './secret.js';
export { resolveTemplates } from './templates.js';
export type { ClusterVm, ResolvedTemplate, TemplateResolution } from './templates.js';
export { runnerGroupFor } from './types.js';
export type { Config, GithubScope, OrgScope, PoolConfig, TemplateRef } from './types.js';
