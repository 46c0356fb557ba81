/**
 * The token's privileges as `GET /access/permissions` (no `path`) reports them, and what pve-runners
 * needs where (reference apis.md §3.3; the PVE schema's `permissions.check` of each call it makes).
 *
 * Without `path`, PVE dumps the effective privileges of every path that has an ACL or is a pool
 * member, plus the top-level paths (RPCEnvironment::get_effective_permissions), each privilege
 * mapped to its propagate flag. A path that is not listed has no ACL of its own, so it holds what its
 * nearest listed ancestor propagates. (An ACL granting NoAccess leaves its path out of the dump, so it
 * reads as inherited here; that one case shows up as a 403 at run time instead.)
 */
import { compactIds } from './result.js';

export type PermissionDump = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Every entry must be held; an array entry is satisfied by any one of its privileges. */
export type Privilege = string | readonly string[];

export interface Requirement {
  path: string;
  privileges: readonly Privilege[];
  /**
   * Paths whose propagating privileges also count: the resource pool a VM is cloned into, whose
   * ACLs its members inherit (pveum.adoc, "Pools"). Read as a union with the VM's own path.
   */
  inheritsFrom?: readonly string[];
}

export function parentPath(path: string): string | undefined {
  if (path === '/') return undefined;
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

const propagates = (flag: unknown) => flag === 1 || flag === true || flag === '1';

const propagating = (entry: Readonly<Record<string, unknown>>) => Object.entries(entry).filter(([, flag]) => propagates(flag)).map(([priv]) => priv);

export function effectivePrivileges(dump: PermissionDump, path: string): Set<string> {
  const own = dump[path];
  if (own) return new Set(Object.keys(own));
  return inheritedFrom(dump, path);
}

/** What `path` passes on to the paths below it. */
export function inheritedFrom(dump: PermissionDump, path: string): Set<string> {
  for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
    const entry = dump[p];
    if (entry) return new Set(propagating(entry));
  }
  return new Set();
}

/** The privileges of `req` the token lacks, any-of groups shown as `A|B`. */
export function missingPrivileges(dump: PermissionDump, req: Requirement): string[] {
  const held = effectivePrivileges(dump, req.path);
  for (const via of req.inheritsFrom ?? []) for (const p of inheritedFrom(dump, via)) held.add(p);
  const missing: string[] = [];
  for (const p of req.privileges) {
    if (typeof p === 'string') {
      if (!held.has(p)) missing.push(p);
    } else if (!p.some((x) => held.has(x))) {
      missing.push(p.join('|'));
    }
  }
  return missing;
}

export interface Shortfall {
  path: string;
  missing: string[];
}

export function shortfalls(dump: PermissionDump, reqs: readonly Requirement[]): Shortfall[] {
  return reqs.map((r) => ({ path: r.path, missing: missingPrivileges(dump, r) })).filter((s) => s.missing.length > 0);
}

/** `VM.PowerMgmt on /vms/200-229; Datastore.AllocateSpace on /storage/local-lvm`. */
export function describeShortfalls(list: readonly Shortfall[]): string {
  const groups = new Map<string, { vmids: number[]; paths: string[] }>();
  for (const s of list) {
    const key = s.missing.join(', ');
    const g = groups.get(key) ?? { vmids: [], paths: [] };
    groups.set(key, g);
    const vm = /^\/vms\/(\d+)$/.exec(s.path);
    if (vm) g.vmids.push(Number(vm[1]));
    else if (!g.paths.includes(s.path)) g.paths.push(s.path);
  }
  return [...groups]
    .map(([privs, g]) => {
      const vmPaths = g.vmids.length ? compactIds(g.vmids).split(',').map((r) => `/vms/${r}`) : [];
      return `${privs} on ${[...vmPaths, ...g.paths].join(', ')}`;
    })
    .join('; ');
}
