/**
 * The token's privileges and PVE's permission checks (pve-access-control RPCEnvironment.pm
 * exec_api2_perm_check). The scenario grants one privilege set on every path, so a check only
 * decides whether the privileges are held; the path is still substituted for PVE's 403 text.
 */
import { PvePermError } from './errors.js';
import type { PermCheck } from './schema.js';

/** What pve-runners needs (reference apis.md §3.3): template clone, pool VM admin, storage, bridges. */
export const DEFAULT_PRIVILEGES = [
  'VM.Allocate', 'VM.Audit', 'VM.Clone', 'VM.PowerMgmt',
  'VM.Config.Cloudinit', 'VM.Config.Options', 'VM.Config.HWType', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Disk',
  'VM.GuestAgent.Audit',
  'Datastore.AllocateSpace', 'Datastore.Audit',
  'SDN.Use',
];

export class Privileges {
  private readonly held: Set<string>;

  constructor(privileges: string[] | undefined) {
    this.held = new Set(privileges ?? DEFAULT_PRIVILEGES);
  }

  has(priv: string): boolean {
    return this.held.has(priv);
  }

  list(): string[] {
    return [...this.held].sort();
  }

  /** RPCEnvironment::check: every privilege, else 403 naming the first missing one. */
  require(path: string, privs: string[]): void {
    const missing = privs.find((p) => !this.held.has(p));
    if (missing) throw new PvePermError(`${path}, ${missing}`);
  }

  /** RPCEnvironment::check_any: at least one of them. */
  requireAny(path: string, privs: string[]): void {
    if (!privs.some((p) => this.held.has(p))) throw new PvePermError(`${path}, ${privs.join('|')}`);
  }

  /** Evaluates a schema `permissions.check` expression; throws PvePermError when it fails. */
  check(expr: PermCheck, params: Record<string, string>): void {
    if (!this.eval(expr, params)) throw new PvePermError();
  }

  private eval(expr: PermCheck, params: Record<string, string>, noerr = false): boolean {
    const [op, ...rest] = expr;
    switch (op) {
      case 'and':
        return (rest as PermCheck[]).every((sub) => this.eval(sub, params, noerr));
      case 'or':
        return (rest as PermCheck[]).some((sub) => this.eval(sub, params, true));
      case 'perm': {
        const [rawPath, privs, ...opts] = rest as [string, string[], ...unknown[]];
        const opt = (name: string) => {
          const i = opts.indexOf(name);
          return i >= 0 ? opts[i + 1] : undefined;
        };
        const needed = opt('require_param');
        if (typeof needed === 'string' && params[needed] === undefined) return false;
        const path = rawPath.replace(/\{(\w+)\}/g, (_, k: string) => params[k] ?? `{${k}}`);
        try {
          if (opt('any')) this.requireAny(path, privs);
          else this.require(path, privs);
          return true;
        } catch (e) {
          if (noerr) return false;
          throw e;
        }
      }
      case 'userid-param':
      case 'userid-group':
        return true; // only on /access endpoints we do not serve with user params
      default:
        return false;
    }
  }
}
