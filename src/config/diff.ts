/**
 * What a reload of pools.yaml changes, for its one log line: pools added, removed, and changed —
 * with the keys that changed, named as pools.yaml writes them.
 */
import type { Config, PoolConfig } from './types.js';

/** PoolConfig fields as pools.yaml names them; a field not listed is shown by its own name. */
const YAML_KEY: Readonly<Record<string, string>> = {
  prefix: 'prefix',
  template: 'template',
  labels: 'labels',
  vmidRange: 'vmid_range',
  maxRunners: 'max_runners',
  nodes: 'nodes',
  userData: 'user_data',
  cores: 'cores',
  memoryMb: 'memory',
  registration: 'registration',
  clone: 'clone',
  storage: 'storage',
  bootTimeoutMs: 'boot_timeout',
  idleTimeoutMs: 'idle_timeout',
  maxJobDurationMs: 'max_job_duration',
  runnerGroup: 'runner_group',
  sizes: 'hot/warm',
  hotScopes: 'hot.scopes',
  hotMaxAgeMs: 'hot_max_age',
  schedule: 'schedule',
  timezone: 'timezone',
};

/** Derived from other fields, or only the pool's place in the file: never a change of their own. */
const DERIVED = new Set(['index', 'name', 'tag', 'labelsLower']);

export interface ConfigChanges {
  added: string[];
  removed: string[];
  changed: Array<{ pool: string; keys: string[] }>;
  /** settings outside the pools: github.repos, github.orgs, max_total_runners */
  other: string[];
}

export function diffConfigs(before: Config, after: Config): ConfigChanges {
  const key = (p: PoolConfig) => p.name.toLowerCase();
  const old = new Map(before.pools.map((p) => [key(p), p]));
  const now = new Map(after.pools.map((p) => [key(p), p]));
  const changed: ConfigChanges['changed'] = [];
  for (const [k, p] of now) {
    const was = old.get(k);
    if (!was) continue;
    const keys = poolKeys(was, p);
    if (keys.length) changed.push({ pool: p.name, keys });
  }
  const other: string[] = [];
  if (!same(before.github.repos, after.github.repos)) other.push('github.repos');
  if (!same(before.github.orgs, after.github.orgs)) other.push('github.orgs');
  if (before.maxTotalRunners !== after.maxTotalRunners) other.push(`max_total_runners (${before.maxTotalRunners} → ${after.maxTotalRunners})`);
  return {
    added: after.pools.filter((p) => !old.has(key(p))).map((p) => p.name),
    removed: before.pools.filter((p) => !now.has(key(p))).map((p) => p.name),
    changed,
    other,
  };
}

function poolKeys(was: PoolConfig, now: PoolConfig): string[] {
  const before = new Map<string, unknown>(Object.entries(was));
  const after = new Map<string, unknown>(Object.entries(now));
  const out: string[] = [];
  for (const f of new Set([...before.keys(), ...after.keys()])) {
    if (DERIVED.has(f) || same(before.get(f), after.get(f))) continue;
    const name = YAML_KEY[f] ?? f;
    if (f === 'userData' && was.userData && now.userData && was.userData.path === now.userData.path) out.push(`${name} (${now.userData.path} edited)`);
    else if (f === 'vmidRange') out.push(`${name} (${was.vmidRange.lo}-${was.vmidRange.hi} → ${now.vmidRange.lo}-${now.vmidRange.hi})`);
    else if (!out.includes(name)) out.push(name);
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The one line a reload logs: what changed, or that nothing did. */
export function describeChanges(c: ConfigChanges): string {
  const parts: string[] = [];
  if (c.added.length) parts.push(`pools added: ${c.added.join(', ')}`);
  if (c.removed.length) parts.push(`pools removed: ${c.removed.join(', ')} (their VMs are drained: no new work, removed once stopped or idle)`);
  if (c.changed.length) parts.push(`pools changed: ${c.changed.map((x) => `${x.pool} [${x.keys.join(', ')}]`).join('; ')}`);
  if (c.other.length) parts.push(`also changed: ${c.other.join(', ')}`);
  return parts.length ? parts.join('; ') : 'nothing changed';
}
