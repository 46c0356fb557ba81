/**
 * The simulated Proxmox's user.cfg: users, API tokens, roles, ACLs and resource pools, and the
 * privilege evaluation of pve-access-control, followed line by line:
 * - AccessControl.pm `roles`: walk the path from `/` down; at each level the subject's entries that
 *   apply there (at the final level all of them, above it only propagating ones) replace what was
 *   found higher up; a NoAccess among the result leaves only NoAccess.
 * - RPCEnvironment.pm `compile_acl_path`: for `/vms/<id>`, the roles the subject holds on
 *   `/pool/<pool>` of the pool holding the VM are added (never propagating, never over a role
 *   already set, a NoAccess on the VM winning, a NoAccess from the pool trumping the rest).
 * - RPCEnvironment.pm `permissions`: a privilege-separated token holds the intersection of its own
 *   and its user's privileges on the path; a token with privsep 0 holds its user's.
 * Groups and root@pam are not modelled: the simulator never authenticates as root, and no scenario
 * grants through groups.
 */

/** pve-access-control AccessControl.pm $privgroups → create_roles, for the roles scenarios use. */
export const BUILTIN_ROLES: Readonly<Record<string, readonly string[]>> = {
  NoAccess: [],
  PVEVMAdmin: [
    'VM.Config.Disk', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.HWType', 'VM.Config.Options',
    'VM.Allocate', 'VM.Clone', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.Replicate', 'VM.Snapshot', 'VM.Snapshot.Rollback',
    'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.Backup', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt',
    'VM.GuestAgent.FileWrite', 'VM.PowerMgmt', 'VM.Audit', 'VM.GuestAgent.Audit',
  ],
  PVETemplateUser: ['VM.Clone', 'VM.Audit'],
  PVEDatastoreUser: ['Datastore.AllocateSpace', 'Datastore.Audit'],
  PVEDatastoreAdmin: ['Datastore.Allocate', 'Datastore.AllocateTemplate', 'Datastore.AllocateSpace', 'Datastore.Audit'],
  PVESDNUser: ['SDN.Use', 'SDN.Audit'],
  PVEAuditor: ['VM.Audit', 'VM.GuestAgent.Audit', 'Sys.Audit', 'Datastore.Audit', 'SDN.Audit', 'Pool.Audit', 'Mapping.Audit'],
};

/** Every privilege PVE knows ($valid_privs): what Administrator holds. */
export const ALL_PRIVILEGES: readonly string[] = [
  ...BUILTIN_ROLES.PVEVMAdmin!,
  'Sys.PowerMgmt', 'Sys.Modify', 'Sys.Incoming', 'Sys.AccessNetwork', 'Sys.Console', 'Sys.Syslog', 'Sys.Audit',
  'Datastore.Allocate', 'Datastore.AllocateTemplate', 'Datastore.AllocateSpace', 'Datastore.Audit',
  'SDN.Allocate', 'SDN.Audit', 'SDN.Use',
  'Realm.Allocate', 'User.Modify', 'Group.Allocate', 'Realm.AllocateUser',
  'Pool.Allocate', 'Pool.Audit', 'Mapping.Modify', 'Mapping.Use', 'Mapping.Audit', 'Permissions.Modify',
];

export interface AclEntry {
  path: string;
  role: string;
  /** `user@realm` or a token id `user@realm!name` */
  subject: string;
  propagate: boolean;
}

export interface AccessConfig {
  users: Map<string, { enabled: boolean }>;
  /** token id → privilege separation */
  tokens: Map<string, { privsep: boolean }>;
  /** custom roles (built-in ones are always there) */
  roles: Map<string, string[]>;
  acls: AclEntry[];
  /** pool → member VMIDs */
  pools: Map<string, Set<number>>;
}

/** privilege → propagate flag, as RPCEnvironment::permissions returns it */
export type PrivMap = Map<string, boolean>;
type RoleMap = Map<string, boolean>;

const isToken = (id: string) => id.includes('!');
const userOf = (id: string) => id.split('!')[0]!;

export class Access {
  constructor(readonly cfg: AccessConfig) {}

  rolePrivileges(role: string): readonly string[] {
    if (role === 'Administrator') return ALL_PRIVILEGES;
    return this.cfg.roles.get(role) ?? BUILTIN_ROLES[role] ?? [];
  }

  hasRole(role: string): boolean {
    return role === 'Administrator' || this.cfg.roles.has(role) || BUILTIN_ROLES[role] !== undefined;
  }

  /** The pool holding this VM (user.cfg `vms`), if any. */
  poolOf(vmid: number): string | undefined {
    for (const [pool, members] of this.cfg.pools) if (members.has(vmid)) return pool;
    return undefined;
  }

  addToPool(vmid: number, pool: string): void {
    // AccessControl::add_vm_to_pool does nothing for a pool that is gone by then.
    this.cfg.pools.get(pool)?.add(vmid);
  }

  /** AccessControl::remove_vm_access: the VM's own ACLs and its pool membership go. */
  removeVm(vmid: number): void {
    this.cfg.acls = this.cfg.acls.filter((a) => a.path !== `/vms/${vmid}`);
    for (const members of this.cfg.pools.values()) members.delete(vmid);
  }

  /** AccessControl::roles (without pools): the subject's roles on `path` with their propagate flag. */
  roles(subject: string, path: string): RoleMap {
    if (isToken(subject)) {
      const token = this.cfg.tokens.get(subject);
      if (!token) return new Map();
      if (!token.privsep) return this.roles(userOf(subject), path);
    }
    const levels = path === '/' ? ['/'] : ['/', ...path.split('/').filter(Boolean).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`)];
    let roles: RoleMap = new Map();
    levels.forEach((level, i) => {
      const final = i === levels.length - 1;
      const here = this.cfg.acls.filter((a) => a.path === level && a.subject === subject && (final || a.propagate));
      if (here.length) roles = new Map(here.map((a) => [a.role, a.propagate]));
    });
    const noAccess = roles.get('NoAccess');
    return noAccess === undefined ? roles : new Map([['NoAccess', noAccess]]);
  }

  /** RPCEnvironment::permissions: what `authid` (user or token) holds on `path`. */
  permissions(authid: string, path: string): PrivMap {
    if (isToken(authid)) {
      const token = this.cfg.tokens.get(authid);
      if (!token) return new Map();
      const user = this.permissions(userOf(authid), path);
      if (!token.privsep) return user;
      const own = this.compile(authid, path);
      return new Map([...own].filter(([p]) => user.has(p)).map(([p, prop]) => [p, prop && user.get(p)!]));
    }
    return this.compile(authid, path);
  }

  private compile(subject: string, path: string): PrivMap {
    let roles = this.roles(subject, path);
    const vm = /^\/vms\/(\d+)$/.exec(path);
    const pool = vm ? this.poolOf(Number(vm[1])) : undefined;
    if (pool !== undefined && !roles.has('NoAccess')) {
      const poolRoles = this.roles(subject, `/pool/${pool}`);
      if (poolRoles.has('NoAccess')) roles = new Map([['NoAccess', false]]);
      else for (const role of poolRoles.keys()) if (!roles.has(role)) roles.set(role, false);
    }
    const privs: PrivMap = new Map();
    for (const [role, propagate] of roles) for (const p of this.rolePrivileges(role)) privs.set(p, (privs.get(p) ?? false) || propagate);
    return privs;
  }

  /** RPCEnvironment::get_effective_permissions: the top-level paths, every ACL tree node and pool member, where anything is held. */
  effective(authid: string): Record<string, Record<string, 0 | 1>> {
    const paths = new Set(['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms']);
    for (const a of this.cfg.acls) {
      const parts = a.path.split('/').filter(Boolean);
      parts.forEach((_, i) => paths.add(`/${parts.slice(0, i + 1).join('/')}`));
    }
    for (const members of this.cfg.pools.values()) for (const id of members) paths.add(`/vms/${id}`);
    const out: Record<string, Record<string, 0 | 1>> = {};
    for (const path of [...paths].sort()) {
      const privs = this.permissions(authid, path);
      if (privs.size) out[path] = asFlags(privs);
    }
    return out;
  }
}

export function asFlags(privs: PrivMap): Record<string, 0 | 1> {
  return Object.fromEntries([...privs].sort(([a], [b]) => a.localeCompare(b)).map(([p, prop]) => [p, prop ? 1 : 0]));
}
