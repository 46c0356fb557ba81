/**
 * Durations as users write them in pools.yaml and scenarios: `90s`, `10m`, `6h`, `1d`, `500ms`,
 * or a bare number of seconds. Returned in milliseconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$';

export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid duration ${value}: must be a non-negative number of seconds`);
    return value * 1000;
  }
  const m = DURATION_RE.exec(value);
  if (!m) throw new Error(`invalid duration '${value}': use a number with a unit, e.g. 90s, 10m, 6h, 1d`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
