/**
 * `check`'s report of the grants in scripts/grants.conf (the one source the token script and the
 * simulator read too): for this configuration's pool, template copies, clone storages, snippet
 * storage and bridges, one line per granted path saying which privileges the token lacks there,
 * what that costs, and the command that grants them.
 */
import { expandGrants, loadGrants, type ExpandedAcl, type GrantInputs } from '../proxmox/grants.js';
import { effectivePrivileges, type PermissionDump } from './privileges.js';
import { fail, ok, type CheckLine } from './result.js';

/**
 * The privileges of a role that mean something on a path, by its top level (RPCEnvironment.pm
 * compute_api_permission's map): a role may carry more (PVERunnersObserver's Sys.Audit on a storage).
 */
const MEANINGFUL: Record<string, RegExp> = { vms: /^VM\./, pool: /^(VM|Datastore)\./, storage: /^Datastore\./, nodes: /^Sys\./, sdn: /^SDN\./ };

export function meaningfulPrivileges(acl: Pick<ExpandedAcl, 'path' | 'privileges'>): string[] {
  const top = /^\/(\w+)/.exec(acl.path)?.[1] ?? '';
  const re = MEANINGFUL[top];
  return re ? acl.privileges.filter((p) => re.test(p)) : acl.privileges;
}

export interface GrantReportDeps {
  tokenId: string;
  /** PROXMOX_POOL; without it new VMs are in no pool and the pool grant is needed on /vms instead */
  resourcePool?: string;
}

/** `scripts/create-proxmox-token.sh …` with the options that make exactly these grants. */
export function scriptCommand(inputs: GrantInputs, user: string, token: string): string {
  const args = [
    ...inputs.templates.map((t) => `--template ${t}`), ...inputs.storages.map((s) => `--storage ${s}`),
    `--snippet-storage ${inputs.snippetStorage}`, ...inputs.bridges.map((b) => `--bridge ${b}`), `--pool ${inputs.pool}`, ...(inputs.guestAgent ? ['--guest-agent'] : []),
    ...(user !== 'pve-runners@pve' ? [`--user ${user}`] : []), ...(token !== 'daemon' ? [`--token ${token}`] : []),
  ];
  return `scripts/create-proxmox-token.sh ${args.join(' ')}`;
}

export function grantLines(d: GrantReportDeps, dump: PermissionDump, inputs: Omit<GrantInputs, 'pool'>): CheckLine[] {
  const [user, token] = d.tokenId.split('!') as [string, string];
  const pool = d.resourcePool ?? 'pve-runners';
  const acls = expandGrants(loadGrants(), { ...inputs, pool }).map((a) =>
    // Without PROXMOX_POOL the clones join no pool, so only an ACL on /vms reaches them.
    d.resourcePool === undefined && a.path === `/pool/${pool}` ? { ...a, path: '/vms', why: `${a.why} (PROXMOX_POOL is not set: new VMs join no pool, so this is needed on /vms, which reaches every VM; set PROXMOX_POOL=pve-runners to keep it on the pool)` } : a);
  const rerun = scriptCommand({ ...inputs, pool }, user, token);
  return acls.map((a) => {
    const what = `token grant ${a.path} (${a.role})`;
    const held = effectivePrivileges(dump, a.path);
    const need = meaningfulPrivileges(a);
    const missing = need.filter((p) => !held.has(p));
    if (missing.length === 0) return ok(what, need.join(' '));
    return fail(what, `missing ${missing.join(', ')}; without ${missing.length > 1 ? 'them' : 'it'} the daemon cannot ${a.why}`,
      `\`pveum acl modify ${a.path} --roles ${a.role} --users ${user} --tokens '${d.tokenId}' --propagate 1\` (to both the user and the token: a privilege-separated token holds only what both hold)${d.resourcePool !== undefined ? `, or run \`${rerun}\` on a node: it grants all of scripts/grants.conf and keeps the token` : ''}`);
  });
}
