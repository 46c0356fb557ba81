/**
 * The running daemon's side of `status`, from the state file it keeps (daemon/state-file.ts): its
 * last reload (ok with what changed, or failed with every problem) and its last actions with reasons.
 */
import type { DaemonState, StateRead } from '../daemon/state-file.js';

const ago = (ms: number) => (ms < 120_000 ? `${Math.max(0, Math.round(ms / 1000))}s` : `${Math.round(ms / 60_000)}m`);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The daemon line and the reload lines. */
export function formatReload(read: StateRead<unknown>, now: number): string[] {
  if ('missing' in read) return [`daemon: no state at ${read.missing} (is \`pve-runners run\` running here? its unit sets RuntimeDirectory=pve-runners): last reload unknown`];
  if ('unreadable' in read) return [`daemon: cannot read its state: ${read.unreadable}`];
  const s = read.state;
  const out = [`daemon: pid ${s.pid}, ${s.configFile}, state written ${ago(now - s.updatedAt)} ago`];
  const r = s.reload;
  if (!r) out.push('reload: none since the daemon started (`systemctl reload pve-runners` re-reads pools.yaml)');
  else if (r.ok) out.push(`reload: ok at ${iso(r.at)}: ${r.changes ?? 'nothing changed'}`);
  else {
    out.push(`reload: FAILED at ${iso(r.at)}, still running on the configuration loaded before; ${r.errors.length} problem(s):`);
    for (const e of r.errors) out.push(`  ${e}`);
  }
  return out;
}

/** The last actions, newest last, each with its reason (and why it failed). */
export function formatActions(s: DaemonState<unknown>, max = 10): string[] {
  const last = s.lastActions.slice(-max);
  if (last.length === 0) return ['last actions: none yet'];
  return [
    'last actions:',
    ...last.map((a) => `  ${iso(a.at).slice(11, 19)} ${a.kind}${a.pool ? ` ${a.pool}` : ''}${a.vmid !== undefined ? ` VM ${a.vmid}` : ''}: ${a.ok ? 'ok' : `FAILED${a.detail ? ` (${a.detail})` : ''}`} — ${a.reason}`),
  ];
}
