/** What one probe of `pve-runners check` found, and how it is printed. */

/**
 * `fail` means a `run` would not work (check exits 1); `warn` is worth knowing but the daemon copes
 * with it (e.g. a foreign VM inside a range, whose VMID is skipped).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckLine {
  status: CheckStatus;
  /** what was checked, e.g. `Proxmox reachable` or `pool ubuntu-2404: template on pve2` */
  what: string;
  /** what is wrong (warn/fail), or a detail worth showing (ok) */
  problem?: string;
  /** what to do about it */
  fix?: string;
}

export const ok = (what: string, detail?: string): CheckLine => ({ status: 'ok', what, problem: detail });
export const fail = (what: string, problem: string, fix: string): CheckLine => ({ status: 'fail', what, problem, fix });
export const warn = (what: string, problem: string, fix?: string): CheckLine => ({ status: 'warn', what, problem, fix });

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗' };

/** `✓ what (detail)`, `! what: problem — fix: …`, `✗ what: problem — fix: …`: one line each. */
export function formatCheckLine(l: CheckLine): string {
  const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');
  if (l.status === 'ok') return `${MARK.ok} ${oneLine(l.what)}${l.problem ? ` (${oneLine(l.problem)})` : ''}`;
  return `${MARK[l.status]} ${oneLine(l.what)}: ${oneLine(l.problem ?? 'failed')}${l.fix ? ` — fix: ${oneLine(l.fix)}` : ''}`;
}

/** Numbers as compact ranges: [200, 201, 202, 205] → `200-202,205`. */
export function compactIds(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const MAX_LISTED = 8;

/** The first few items, and how many more. */
export function listed<T>(items: readonly T[], show: (x: T) => string): string {
  const head = items.slice(0, MAX_LISTED).map(show).join(', ');
  return items.length > MAX_LISTED ? `${head} and ${items.length - MAX_LISTED} more` : head;
}
