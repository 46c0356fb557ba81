/**
 * scripts/grants.conf, the one definition of what pve-runners' Proxmox identity is granted: read
 * by scripts/create-proxmox-token.sh at run time, and here for the simulator's default scenario
 * grants and for `pve-runners check`. Expanding it for the same inputs gives exactly the ACLs the
 * script issues (test/grants.test.ts runs the script to hold the two together).
 */
import { readFileSync } from 'node:fs';

export const GRANTS_FILE = new URL('../../scripts/grants.conf', import.meta.url);

export interface GrantRole {
  name: string;
  privileges: string[];
}

export interface GrantAcl {
  /** with placeholders, e.g. `/vms/{template}` */
  path: string;
  role: string;
  minPveMajor?: number;
  /** `pve<N`: only before Proxmox VE N (a privilege that later versions renamed) */
  belowPveMajor?: number;
  /** `guest-agent`: only when a pool uses delivery: guest-agent (the script's --guest-agent) */
  guestAgent?: boolean;
  /** the comment after the line: what the grant buys (and what its absence costs) */
  why: string;
}

export interface Grants {
  roles: GrantRole[];
  acls: GrantAcl[];
}

/** What the script is told: its options, with the same defaults. */
export interface GrantInputs {
  pool: string;
  templates: readonly number[];
  storages: readonly string[];
  snippetStorage: string;
  bridges: readonly string[];
  pveMajor: number;
  /** some pool uses delivery: guest-agent */
  guestAgent?: boolean;
}

export interface ExpandedAcl {
  path: string;
  role: string;
  privileges: string[];
  why: string;
  /** the placeholder value this ACL was made for (template VMID, storage id, bridge), if any */
  value?: string;
}

/** Proxmox's built-in roles the grants use (pve-access-control AccessControl.pm create_roles). */
export const BUILTIN_GRANT_ROLES: Readonly<Record<string, readonly string[]>> = {
  PVETemplateUser: ['VM.Clone', 'VM.Audit'],
  PVEDatastoreUser: ['Datastore.AllocateSpace', 'Datastore.Audit'],
  PVESDNUser: ['SDN.Use', 'SDN.Audit'],
};

export class GrantsError extends Error {}

export function parseGrants(text: string, file = 'grants.conf'): Grants {
  const roles: GrantRole[] = [];
  const acls: GrantAcl[] = [];
  text.split('\n').forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    const why = hash >= 0 ? raw.slice(hash + 1).trim() : '';
    if (body === '') return;
    const [kind, a, ...rest] = body.split(/\s+/);
    const where = `${file}:${i + 1}`;
    if (kind === 'role' && a && rest.length) roles.push({ name: a, privileges: rest });
    else if (kind === 'acl' && a && rest.length >= 1) {
      const acl: GrantAcl = { path: a, role: rest[0]!, why };
      for (const cond of rest.slice(1)) {
        const m = /^pve(>=|<)(\d+)$/.exec(cond);
        if (m?.[1] === '>=') acl.minPveMajor = Number(m[2]);
        else if (m?.[1] === '<') acl.belowPveMajor = Number(m[2]);
        else if (cond === 'guest-agent') acl.guestAgent = true;
        else throw new GrantsError(`${where}: unknown condition '${cond}'`);
      }
      acls.push(acl);
    } else throw new GrantsError(`${where}: expected 'role NAME PRIV...' or 'acl PATH ROLE [pve>=N|pve<N|guest-agent]...', got '${body}'`);
  });
  for (const acl of acls) {
    if (!roles.some((r) => r.name === acl.role) && !BUILTIN_GRANT_ROLES[acl.role]) throw new GrantsError(`${file}: acl ${acl.path} names role ${acl.role}, which is neither defined there nor a built-in role`);
  }
  return { roles, acls };
}

let cached: Grants | undefined;

export function loadGrants(): Grants {
  cached ??= parseGrants(readFileSync(GRANTS_FILE, 'utf8'), 'scripts/grants.conf');
  return cached;
}

export function rolePrivileges(grants: Grants, role: string): string[] {
  return grants.roles.find((r) => r.name === role)?.privileges ?? [...(BUILTIN_GRANT_ROLES[role] ?? [])];
}

const LISTS: Array<[string, (i: GrantInputs) => readonly (string | number)[]]> = [
  ['{template}', (i) => i.templates],
  ['{storage}', (i) => i.storages],
  ['{bridge}', (i) => i.bridges],
];

/** Whether an acl line's conditions hold for these inputs. */
export function applies(acl: GrantAcl, inputs: Pick<GrantInputs, 'pveMajor' | 'guestAgent'>): boolean {
  if (acl.minPveMajor !== undefined && inputs.pveMajor < acl.minPveMajor) return false;
  if (acl.belowPveMajor !== undefined && inputs.pveMajor >= acl.belowPveMajor) return false;
  return !acl.guestAgent || inputs.guestAgent === true;
}

/**
 * The custom roles the script creates for these inputs: those an applying acl line names (a role
 * for another PVE version may hold privileges this one does not know, and pveum would refuse it).
 */
export function applicableRoles(grants: Grants, inputs: Pick<GrantInputs, 'pveMajor' | 'guestAgent'>): GrantRole[] {
  const used = new Set(grants.acls.filter((a) => applies(a, inputs)).map((a) => a.role));
  return grants.roles.filter((r) => used.has(r.name));
}

/** The ACLs the script grants for these inputs, in its order. */
export function expandGrants(grants: Grants, inputs: GrantInputs): ExpandedAcl[] {
  const out: ExpandedAcl[] = [];
  for (const acl of grants.acls) {
    if (!applies(acl, inputs)) continue;
    const list = LISTS.find(([ph]) => acl.path.includes(ph));
    const values = list ? list[1](inputs).map(String) : [undefined];
    for (const value of values) {
      let path = list && value !== undefined ? acl.path.split(list[0]).join(value) : acl.path;
      path = path.split('{pool}').join(inputs.pool).split('{snippet_storage}').join(inputs.snippetStorage);
      if (path.includes('{')) throw new GrantsError(`grants.conf: unknown placeholder in '${acl.path}'`);
      out.push({ path, role: acl.role, privileges: rolePrivileges(grants, acl.role), why: acl.why, ...(value !== undefined ? { value } : {}) });
    }
  }
  return out;
}
