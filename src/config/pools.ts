/**
 * pools.yaml → a typed, frozen Config: YAML syntax, then the JSON Schema (schemas/pools.schema.json),
 * then `defaults` merged into each pool and user_data files read, then the checks no schema can
 * express (see pool-checks.ts). Every problem found is reported at once.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { ConfigError, ENVIRONMENT } from './errors.js';
import type { ConfigProblem } from './errors.js';
import { describeFsError, fsFix, MAX_CONFIG_BYTES, nodeFs } from './fs.js';
import { PoolBuilder, type PoolsFile, type PoolsOptions, type RawFile } from './pool-builder.js';
import { crossPoolProblems } from './pool-checks.js';
import { SchemaDescriber, schemaProblems } from './schema-problems.js';
import type { Config, PoolConfig } from './types.js';
import { totalTierProblem } from './tiers.js';
import { YamlSource } from './yaml-source.js';

export { DEFAULT_BOOT_TIMEOUT, DEFAULT_HOT_MAX_AGE, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_JOB_DURATION } from './pool-builder.js';
export type { PoolsFile, PoolsOptions } from './pool-builder.js';

const require = createRequire(import.meta.url);
const poolsSchema = require('../../schemas/pools.schema.json') as object;
const validate = new Ajv({ allErrors: true, verbose: true, strict: true }).compile(poolsSchema);
const describer = new SchemaDescriber(poolsSchema);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Checks pools.yaml text; returns the Config, or undefined with the problems. */
export function parsePoolsConfig(text: string, file: PoolsFile, opts: PoolsOptions = {}): { config: Config | undefined; problems: ConfigProblem[] } {
  const { source, data, problems } = YamlSource.parse(text, file.file);
  if (!source) return { config: undefined, problems };
  if (data === null || data === undefined) {
    return { config: undefined, problems: [{ file: file.file, path: '(top level)', message: 'the file is empty', fix: 'describe at least github and one pool; see pools.yaml in the pve-runners package for an example' }] };
  }
  if (!validate(data)) return { config: undefined, problems: schemaProblems(validate.errors ?? [], source, describer) };
  // validate() has just checked `data` against the schema RawFile mirrors.
  const raw = data as RawFile;

  const b = new PoolBuilder(source, raw, file, opts, opts.fs ?? nodeFs, describer);
  const github = b.github();
  const pools = raw.pools.map((_, i) => b.pool(i, github));
  b.defaultsProblems();
  const built = pools.filter((p): p is PoolConfig => p !== undefined);
  const all = [...b.problems, ...crossPoolProblems(raw.pools, source, raw.defaults?.template)];
  if (all.length > 0 || built.length !== pools.length) return { config: undefined, problems: all };

  const sum = built.reduce((n, p) => n + p.maxRunners, 0);
  const envCap = opts.maxTotalRunners;
  const maxTotalRunners = envCap !== undefined ? (envCap === 0 ? sum : envCap) : (raw.max_total_runners ?? sum);
  const over = totalTierProblem(built, maxTotalRunners);
  if (over) return { config: undefined, problems: [envCap !== undefined ? { file: ENVIRONMENT, path: 'MAX_TOTAL_RUNNERS', ...over } : source.problem(['max_total_runners'], over.message, over.fix)] };
  const config: Config = { file: file.file, path: file.path, github, maxTotalRunners, pools: built };
  return { config: deepFreeze(config), problems: [] };
}

/** Reads and checks pools.yaml; returns the Config, or undefined with the problems. */
export function readPoolsConfig(file: PoolsFile, opts: PoolsOptions = {}): { config: Config | undefined; problems: ConfigProblem[] } {
  let text: string;
  try {
    text = (opts.fs ?? nodeFs).readText(file.path, MAX_CONFIG_BYTES);
  } catch (e) {
    return {
      config: undefined,
      problems: [{ file: file.file, path: '(file)', message: `cannot read ${file.path}: ${describeFsError(e)}`, fix: fsFix(e, 'RUNNER_POOLS_CONFIG', 'create it (the pve-runners package ships an example pools.yaml), or point RUNNER_POOLS_CONFIG at it') }],
    };
  }
  return parsePoolsConfig(text, file, opts);
}

/** Reads and checks pools.yaml; throws ConfigError naming every problem. */
export function loadPoolsConfig(file: PoolsFile | string, opts: PoolsOptions = {}): Config {
  const f = typeof file === 'string' ? { file, path: resolve(file) } : file;
  const { config, problems } = readPoolsConfig(f, opts);
  if (!config) throw new ConfigError(problems);
  return config;
}
