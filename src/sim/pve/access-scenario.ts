/**
 * A scenario's user.cfg. Unless it says otherwise it is exactly what scripts/create-proxmox-token.sh
 * makes for that scenario (scripts/grants.conf expanded for its templates, their storages, the
 * snippet storage and vmbr0): user pve-runners@pve, privilege-separated token pve-runners@pve!daemon,
 * pool pve-runners, every ACL granted to both the user and the token with propagation.
 * `proxmox.token.privileges` (older scenarios) instead grants one role with those privileges on `/`.
 */
import { applicableRoles, expandGrants, loadGrants, type GrantInputs } from '../../proxmox/grants.js';
import type { Scenario, ScenarioAccess } from '../scenario.js';
import { Access, ALL_PRIVILEGES, BUILTIN_ROLES, type AccessConfig } from './access.js';

export const DEFAULT_USER = 'pve-runners@pve';
export const DEFAULT_TOKEN = 'pve-runners@pve!daemon';
export const DEFAULT_POOL = 'pve-runners';
/** The bridge of the simulated templates' net0. */
const TEMPLATE_BRIDGE = 'vmbr0';

/** The script's options for a scenario: every template, each template's storage, the snippet storage. */
export function scenarioGrantInputs(scenario: Scenario): GrantInputs {
  const px = scenario.proxmox;
  return {
    pool: DEFAULT_POOL,
    templates: px.templates.map((t) => t.vmid),
    storages: [...new Set(px.templates.map((t) => t.storage))],
    snippetStorage: px.storage,
    bridges: [TEMPLATE_BRIDGE],
    pveMajor: Number(/^(\d+)/.exec(px.version)?.[1] ?? 0),
    guestAgent: px.access?.guestAgent === true,
  };
}

function defaults(scenario: Scenario): AccessConfig {
  const grants = loadGrants();
  const cfg: AccessConfig = {
    users: new Map([[DEFAULT_USER, { enabled: true }]]),
    tokens: new Map([[DEFAULT_TOKEN, { privsep: true }]]),
    roles: new Map(applicableRoles(grants, scenarioGrantInputs(scenario)).map((r) => [r.name, [...r.privileges]])),
    acls: [],
    pools: new Map([[DEFAULT_POOL, new Set<number>()]]),
  };
  const privileges = scenario.proxmox.tokenPrivileges;
  if (privileges) {
    cfg.roles.set('ScenarioToken', [...privileges]);
    for (const subject of [DEFAULT_USER, DEFAULT_TOKEN]) cfg.acls.push({ path: '/', role: 'ScenarioToken', subject, propagate: true });
    return cfg;
  }
  for (const acl of expandGrants(grants, scenarioGrantInputs(scenario))) {
    for (const subject of [DEFAULT_USER, DEFAULT_TOKEN]) cfg.acls.push({ path: acl.path, role: acl.role, subject, propagate: true });
  }
  return cfg;
}

function apply(cfg: AccessConfig, a: ScenarioAccess): void {
  for (const u of a.users) cfg.users.set(u.id, { enabled: u.enabled });
  for (const t of a.tokens) cfg.tokens.set(t.id, { privsep: t.privsep });
  for (const r of a.roles) cfg.roles.set(r.name, [...r.privs]);
  for (const x of a.acls) {
    for (const subject of [...x.users, ...x.tokens]) {
      for (const role of x.roles) {
        // pveum acl modify replaces the subject's entry for that role on that path
        cfg.acls = cfg.acls.filter((e) => !(e.path === x.path && e.subject === subject && e.role === role));
        cfg.acls.push({ path: x.path, role, subject, propagate: x.propagate });
      }
    }
  }
  for (const r of a.revoke) {
    const subjects = r.users || r.tokens ? new Set([...(r.users ?? []), ...(r.tokens ?? [])]) : undefined;
    cfg.acls = cfg.acls.filter((e) => !(e.path === r.path && (!subjects || subjects.has(e.subject)) && (!r.roles || r.roles.includes(e.role))));
  }
  for (const p of a.pools) {
    const members = cfg.pools.get(p.name) ?? new Set<number>();
    for (const id of p.vms) members.add(id);
    cfg.pools.set(p.name, members);
  }
}

export function scenarioAccess(scenario: Scenario): { access: Access; authid: string } {
  const a = scenario.proxmox.access;
  const cfg: AccessConfig = a && !a.defaults ? { users: new Map(), tokens: new Map(), roles: new Map(), acls: [], pools: new Map() } : defaults(scenario);
  if (a) apply(cfg, a);
  const authid = a?.authenticate ?? (cfg.tokens.has(DEFAULT_TOKEN) ? DEFAULT_TOKEN : [...cfg.tokens.keys()][0] ?? DEFAULT_TOKEN);
  return { access: new Access(cfg), authid };
}

/** pve-access-control check_path, for the paths scenarios may name. */
const ACL_PATH = /^\/(?:|access(?:\/groups(?:\/[\w.-]+)?)?|nodes(?:\/[\w.-]+)?|pool(?:\/[\w.-]+){0,3}|sdn(?:\/zones(?:\/[\w.-]+){0,2})?|storage(?:\/[\w.-]+)?|vms(?:\/[1-9]\d{2,})?|mapping(?:\/[\w.-]+){0,2})$/;

/** What the schema cannot say: references between users, tokens, roles and VMIDs. */
export function accessProblems(raw: Record<string, unknown>, vmids: readonly number[]): string[] {
  const a = raw as { defaults?: boolean; authenticate?: string; users?: Array<{ id: string }>; tokens?: Array<{ id: string }>; roles?: Array<{ name: string; privs: string[] }>; acls?: Array<{ path: string; roles: string[]; users?: string[]; tokens?: string[] }>; revoke?: Array<{ path: string }>; pools?: Array<{ name: string; vms?: number[] }> };
  const problems: string[] = [];
  const withDefaults = a.defaults !== false;
  const users = new Set([...(withDefaults ? [DEFAULT_USER] : []), ...(a.users ?? []).map((u) => u.id)]);
  const tokens = new Set([...(withDefaults ? [DEFAULT_TOKEN] : []), ...(a.tokens ?? []).map((t) => t.id)]);
  const roles = new Set([...Object.keys(BUILTIN_ROLES), 'Administrator', ...(withDefaults ? loadGrants().roles.map((r) => r.name) : []), ...(a.roles ?? []).map((r) => r.name)]);
  (a.roles ?? []).forEach((r, i) => r.privs.forEach((p) => {
    // AccessControl::add_role_privs: "invalid privilege"
    if (!ALL_PRIVILEGES.includes(p)) problems.push(`proxmox.access.roles[${i}].privs: invalid privilege '${p}'`);
  }));
  (a.tokens ?? []).forEach((t, i) => {
    if (!users.has(t.id.split('!')[0]!)) problems.push(`proxmox.access.tokens[${i}].id: user '${t.id.split('!')[0]}' is not in proxmox.access.users`);
  });
  if (a.authenticate !== undefined && !tokens.has(a.authenticate)) problems.push(`proxmox.access.authenticate: '${a.authenticate}' is not one of the tokens (${[...tokens].join(', ') || 'none'})`);
  if (a.authenticate === undefined && tokens.size === 0) problems.push('proxmox.access: no token to authenticate with; list one under tokens (or keep defaults)');
  (a.acls ?? []).forEach((x, i) => {
    const at = `proxmox.access.acls[${i}]`;
    if (!ACL_PATH.test(x.path)) problems.push(`${at}.path: '${x.path}' is not an ACL path Proxmox accepts (e.g. /, /vms/205, /pool/NAME, /storage/ID, /nodes, /sdn/zones/localnetwork/vmbr0)`);
    x.roles.forEach((r) => roles.has(r) || problems.push(`${at}.roles: role '${r}' is neither built in nor in proxmox.access.roles`));
    (x.users ?? []).forEach((u) => users.has(u) || problems.push(`${at}.users: '${u}' is not in proxmox.access.users`));
    (x.tokens ?? []).forEach((t) => tokens.has(t) || problems.push(`${at}.tokens: '${t}' is not in proxmox.access.tokens`));
    if (!(x.users ?? []).length && !(x.tokens ?? []).length) problems.push(`${at}: names no users or tokens`);
  });
  (a.revoke ?? []).forEach((x, i) => ACL_PATH.test(x.path) || problems.push(`proxmox.access.revoke[${i}].path: '${x.path}' is not an ACL path Proxmox accepts`));
  const member = new Map<number, string>();
  (a.pools ?? []).forEach((p, i) => (p.vms ?? []).forEach((id) => {
    if (!vmids.includes(id)) problems.push(`proxmox.access.pools[${i}].vms: VMID ${id} is not a template or foreign VM of the scenario`);
    const other = member.get(id);
    if (other !== undefined && other !== p.name) problems.push(`proxmox.access.pools[${i}].vms: VMID ${id} is already in pool ${other} (a VM belongs to at most one pool)`);
    member.set(id, p.name);
  }));
  return problems;
}
