/**
 * Permission checks of the authenticated token, path by path (pve-access-control RPCEnvironment.pm
 * check, check_any, exec_api2_perm_check) over the access model in access.ts.
 */
import type { Access, PrivMap } from './access.js';
import { PvePermError } from './errors.js';
import type { PermCheck } from './schema.js';

export class Privileges {
  constructor(private readonly access: Access, private readonly authid: string) {}

  on(path: string): PrivMap {
    return this.access.permissions(this.authid, path);
  }

  has(path: string, priv: string): boolean {
    return this.on(path).has(priv);
  }

  hasAny(path: string, privs: readonly string[]): boolean {
    const held = this.on(path);
    return privs.some((p) => held.has(p));
  }

  /** RPCEnvironment::check: every privilege, else 403 naming the first missing one. */
  require(path: string, privs: readonly string[]): void {
    const held = this.on(path);
    const missing = privs.find((p) => !held.has(p));
    if (missing) throw new PvePermError(`${path}, ${missing}`);
  }

  /** RPCEnvironment::check_any: at least one of them. */
  requireAny(path: string, privs: readonly string[]): void {
    if (!this.hasAny(path, privs)) throw new PvePermError(`${path}, ${privs.join('|')}`);
  }

  /** Evaluates a schema `permissions.check` expression; throws PvePermError when it fails. */
  check(expr: PermCheck, params: Record<string, string>): void {
    this.eval(expr, params, false);
  }

  /** exec_api2_perm_check: `and` runs its parts fatally (even inside an `or`), `or` quietly, then fails bare. */
  private eval(expr: PermCheck, params: Record<string, string>, noerr: boolean): boolean {
    const [op, ...rest] = expr;
    switch (op) {
      case 'and':
        for (const sub of rest as PermCheck[]) this.eval(sub, params, false);
        return true;
      case 'or':
        for (const sub of rest as PermCheck[]) if (this.eval(sub, params, true)) return true;
        if (noerr) return false;
        throw new PvePermError();
      case 'perm': {
        const [rawPath, privs, ...opts] = rest as [string, string[], ...unknown[]];
        const opt = (name: string) => {
          const i = opts.indexOf(name);
          return i >= 0 ? opts[i + 1] : undefined;
        };
        const needed = opt('require_param');
        if (typeof needed === 'string' && params[needed] === undefined) {
          if (noerr) return false;
          throw new PvePermError();
        }
        const path = rawPath.replace(/\{(\w+)\}/g, (_, k: string) => params[k] ?? '');
        const ok = opt('any') ? this.hasAny(path, privs) : privs.every((p) => this.has(path, p));
        if (ok || noerr) return ok;
        if (opt('any')) this.requireAny(path, privs);
        else this.require(path, privs);
        return true;
      }
      case 'userid-param':
      case 'userid-group':
        return true; // only on /access endpoints we do not serve with user params
      default:
        return false;
    }
  }
}
