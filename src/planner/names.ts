import type { PoolConfig } from '../config/types.js';

/** Tag on every VM pve-runners creates. */
export const OWNER_TAG = 'pve-runners';

/** Snippet files are `pvr-<runner name>.yaml`: the prefix marks them ours. */
export const SNIPPET_PREFIX = 'pvr-';

/** `<prefix>-<vmid>-<4 random [a-z0-9]>`: VM name and GitHub runner name alike. */
export function runnerName(pool: PoolConfig, vmid: number, suffix: string): string {
  return `${pool.prefix}-${vmid}-${suffix}`;
}

/**
 * The pool and VMID a runner or VM name belongs to — only for names of our exact shape whose prefix
 * is a pool's and whose VMID lies in that pool's range. A prefix alone never makes a name ours.
 */
export function parseRunnerName(pools: readonly PoolConfig[], name: string): { pool: PoolConfig; vmid: number } | undefined {
  const m = /^(.+)-([1-9]\d{2,8})-([a-z0-9]{4})$/.exec(name);
  if (!m) return undefined;
  const vmid = Number(m[2]);
  const pool = pools.find((p) => p.prefix === m[1]);
  if (!pool || vmid < pool.vmidRange.lo || vmid > pool.vmidRange.hi) return undefined;
  return { pool, vmid };
}

export function snippetFile(name: string): string {
  return `${SNIPPET_PREFIX}${name}.yaml`;
}

/**
 * The runner name of a snippet file, or of the temp file a write killed before its rename leaves
 * (`.pvr-<name>.yaml.<8 hex>.tmp`, see snippets/store.ts): both hold that runner's credentials.
 */
export function runnerNameOfSnippet(file: string): string | undefined {
  const m = /^pvr-(.+)\.yaml$/.exec(file) ?? /^\.pvr-(.+)\.yaml\.[0-9a-f]{8}\.tmp$/.exec(file);
  return m?.[1];
}
