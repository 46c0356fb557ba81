/**
 * Bounded label values. A Prometheus series per distinct label set lives until the process ends, so
 * every value here comes from a small fixed set: the planner's free-text reasons, the caps' texts
 * and request paths are mapped to codes; a VMID, job id or runner name never becomes a label.
 */
import type { Action } from '../planner/actions.js';

const REMOVAL_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/^VM is stopped/, 'stopped'],
  [/^runner not registered within boot_timeout/, 'boot_timeout'],
  [/^its runner finished and unregistered/, 'runner_gone'],
  [/^warm VM is out of date/, 'warm_outdated'],
  [/^runner idle past idle_timeout/, 'idle_timeout'],
  [/^hot runner older than hot_max_age/, 'hot_max_age'],
  [/^running past max_job_duration/, 'max_job_duration'],
];

/** Why an action was taken, as one of a few codes (`other` for a reason not listed here). */
export function reasonCode(a: Action): string {
  switch (a.kind) {
    case 'create':
    case 'start-warm':
      return a.purpose;
    case 'remove-vm':
    case 'stop-vm':
      return REMOVAL_REASONS.find(([re]) => re.test(a.reason))?.[1] ?? 'other';
    case 'delete-runner':
      return /warm VM/.test(a.reason) ? 'warm_start_failed' : 'vm_gone';
    case 'delete-snippet':
      return /has started/.test(a.reason) ? 'vm_started' : /warm again/.test(a.reason) ? 'warm_start_failed' : 'vm_gone';
    case 'adopt-vm':
      return 'half_made';
  }
}

/** What kept a pool from creating (PoolSummary.limitedBy) as a code. */
export function capCode(limitedBy: string): string {
  if (limitedBy.startsWith('max_total_runners')) return 'max_total_runners';
  if (limitedBy.startsWith('max_runners')) return 'max_runners';
  if (limitedBy === 'PAUSE_ON_STOPPED') return 'pause_on_stopped';
  if (limitedBy.startsWith('no free VMID')) return 'vmid_range';
  // what placement said: no node with the memory, no online node with the template
  return 'placement';
}

/**
 * A Proxmox request path as its API template, e.g. `/nodes/{node}/qemu/{vmid}/status/start`: the
 * segment after `nodes`, `qemu`/`lxc`, `tasks` and `storage` is a name or id, never a label value.
 */
export function pveEndpoint(pathname: string): string {
  const parts = pathname.replace(/^\/api2\/json/, '').split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const prev = parts[i - 1];
    const p = parts[i]!;
    if (prev === 'nodes') out.push('{node}');
    else if ((prev === 'qemu' || prev === 'lxc') && /^\d+$/.test(p)) out.push('{vmid}');
    else if (prev === 'tasks' && p.startsWith('UPID')) out.push('{upid}');
    else if (prev === 'storage' && out[0] === 'nodes') out.push('{storage}');
    // anything else that looks like data (a number, a long token) is not kept either
    else if (/^\d+$/.test(p) || p.length > 40 || /[^A-Za-z0-9_.-]/.test(p)) out.push('{id}');
    else out.push(p);
  }
  return `/${out.join('/')}`;
}
