/**
 * GitHub's rule for which runner a job can use, applied to pools: labels compare case-insensitively,
 * a pool fits a job when it has every one of the job's runs-on labels, and among fitting pools the
 * one with the fewest labels wins (the most specific runner), ties going to the earlier pool.
 */

/** The part of a pool that matching looks at. */
export interface LabelledPool {
  /** Lower-cased and distinct, so the count is the count GitHub would see. */
  readonly labelsLower: readonly string[];
}

export function normalizeLabels(labels: readonly string[]): string[] {
  return [...new Set(labels.map((l) => l.toLowerCase()))];
}

export function poolFits(pool: LabelledPool, jobLabels: readonly string[]): boolean {
  return jobLabels.every((l) => pool.labelsLower.includes(l.toLowerCase()));
}

/** `pools` in file order; returns the pool a job with these labels is served by, if any. */
export function selectPool<P extends LabelledPool>(pools: readonly P[], jobLabels: readonly string[]): P | undefined {
  let best: P | undefined;
  for (const pool of pools) {
    if (!poolFits(pool, jobLabels)) continue;
    // Strictly fewer, so an equal count keeps the earlier pool.
    if (best === undefined || pool.labelsLower.length < best.labelsLower.length) best = pool;
  }
  return best;
}

/**
 * The pool that takes every job `pool` could otherwise get, or undefined when `pool` can be chosen.
 *
 * Why testing one label set is enough: a job with labels L can only go to `pool` if L ⊆ labels(pool).
 * Of those sets, L = labels(pool) is the one the fewest other pools fit (any pool fitting it fits
 * every smaller L too), so if `pool` loses for L = labels(pool) it loses for every L. For that L a
 * rival must hold all of pool's labels, i.e. have at least as many, so it wins only with exactly the
 * same label set and an earlier place in the file: a rival with fewer labels (even a subset) never
 * fits that job, and a superset with more labels never beats it.
 */
export function shadowingPool<P extends LabelledPool>(pools: readonly P[], pool: P): P | undefined {
  const winner = selectPool(pools, pool.labelsLower);
  return winner === pool ? undefined : winner;
}
