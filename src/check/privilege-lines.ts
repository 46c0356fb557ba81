/**
 * `check`'s token privilege lines: per pool, the privileges its VMID range needs (inherited from
 * the resource pool new VMs join, else from /vms); then, per path scripts/grants.conf grants, what
 * is missing there (grant-lines.ts). Role names and privilege sets come from scripts/grants.conf.
 */
import type { PoolConfig } from '../config/index.js';
import { loadGrants, rolePrivileges } from '../proxmox/grants.js';
import type { PveVm } from '../proxmox/api.js';
import { agentLines } from './agent-lines.js';
import { grantLines, meaningfulPrivileges } from './grant-lines.js';
import { describeShortfalls, shortfalls, type PermissionDump, type Requirement } from './privileges.js';
import type { ProxmoxProbeDeps, TemplateCopy } from './proxmox.js';
import { foreignVmsInRanges } from './ranges.js';
import type { Hidden } from './range-lines.js';
import { fail, listed, ok, type CheckLine } from './result.js';

const DRIVE = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;
const problemOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Storage ids the clone of `template` allocates disks on: its disks' (and cloud-init drive's), or the pool's full-clone target. */
function cloneStorages(pool: PoolConfig, templateConfig: Record<string, string | number>): string[] {
  if (pool.clone === 'full' && pool.storage) return [pool.storage];
  const out = new Set<string>();
  for (const [key, value] of Object.entries(templateConfig)) {
    if (!DRIVE.test(key)) continue;
    const v = String(value);
    const volume = v.split(',')[0] ?? '';
    // CD-ROM images are referenced, not copied; the cloud-init drive is created anew for the clone.
    if (volume === 'none' || (/(^|,)media=cdrom(,|$)/.test(v) && !volume.includes('cloudinit'))) continue;
    const m = /^([A-Za-z][A-Za-z0-9._-]*):/.exec(volume);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

function bridgesOf(templateConfig: Record<string, string | number>): string[] {
  const out = new Set<string>();
  for (const [key, value] of Object.entries(templateConfig)) {
    const m = /^net\d+$/.test(key) ? /(?:^|,)bridge=([^,]+)/.exec(String(value)) : null;
    if (m) out.add(m[1]!);
  }
  return [...out];
}

interface PoolNeeds {
  pool: PoolConfig;
  reqs: Requirement[];
  /** the range's VMIDs the daemon may create, and the templates' configs (for the guest agent lines) */
  vmids: number[];
  templates: Map<number, Record<string, string | number> | undefined>;
  storages: Set<string>;
  bridges: Set<string>;
}

/** The role scripts/grants.conf grants on a path pattern such as `/vms/{template}`. */
function grantedRole(pattern: string): string | undefined {
  return loadGrants().acls.find((a) => a.path === pattern)?.role;
}

/** What that grant holds that means something on `path` (e.g. VM.Clone VM.Audit on a template). */
function grantedOn(pattern: string, path: string): string[] {
  const role = grantedRole(pattern);
  return role ? meaningfulPrivileges({ path, privileges: rolePrivileges(loadGrants(), role) }) : [];
}

async function poolRequirements(d: ProxmoxProbeDeps, copies: ReadonlyMap<string, TemplateCopy[]>, vms: readonly PveVm[], pveMajor: number, hidden: Hidden): Promise<PoolNeeds[]> {
  // VMIDs someone else holds are never the daemon's to create, so no privilege is needed on them.
  const foreign = new Set([...foreignVmsInRanges(d.config.pools, vms).map((f) => f.vmid), ...hidden.map((h) => h.vmid)]);
  const templateConfigs = new Map<number, Record<string, string | number> | undefined>();
  const out: PoolNeeds[] = [];
  for (const pool of d.config.pools) {
    const reqs: Requirement[] = [];
    const vmids: number[] = [];
    const templates = new Map<number, Record<string, string | number> | undefined>();
    const storages = new Set<string>();
    const bridges = new Set<string>();
    for (const c of copies.get(pool.name) ?? []) {
      reqs.push({ path: `/vms/${c.vmid}`, privileges: grantedOn('/vms/{template}', `/vms/${c.vmid}`) });
      if (!templateConfigs.has(c.vmid)) templateConfigs.set(c.vmid, await d.proxmox.getConfig(c.node, c.vmid).catch(() => undefined));
      const cfg = templateConfigs.get(c.vmid);
      templates.set(c.vmid, cfg);
      // Without VM.Audit on the template its disks are unknown; that shortfall is reported anyway.
      if (!cfg) continue;
      for (const s of cloneStorages(pool, cfg)) storages.add(s);
      for (const b of bridgesOf(cfg)) bridges.add(b);
    }
    // A new VMID inherits from /vms and / only, unless it is cloned into a resource pool.
    const vmPrivileges = grantedOn('/pool/{pool}', '/vms');
    const inheritsFrom = d.resourcePool ? [`/pool/${d.resourcePool}`] : [];
    for (let id = pool.vmidRange.lo; id <= pool.vmidRange.hi; id++) if (!foreign.has(id)) vmids.push(id);
    for (const id of vmids) reqs.push({ path: `/vms/${id}`, privileges: vmPrivileges, inheritsFrom });
    for (const s of storages) reqs.push({ path: `/storage/${s}`, privileges: grantedOn('/storage/{storage}', `/storage/${s}`) });
    // PVE 8 checks SDN.Use on the bridge of every network device of a clone (plain Linux bridges live in the localnetwork zone).
    if (pveMajor >= 8) for (const b of bridges) reqs.push({ path: `/sdn/zones/localnetwork/${b}`, privileges: grantedOn('/sdn/zones/localnetwork/{bridge}', `/sdn/zones/localnetwork/${b}`) });
    out.push({ pool, reqs, vmids, templates, storages, bridges });
  }
  return out;
}

/** `pveum` commands granting what is missing: range VMIDs via /vms, the rest on their own paths. */
function grantFix(d: ProxmoxProbeDeps, rangeMissing: boolean, otherPaths: readonly string[]): string {
  const user = d.tokenId.split('!')[0]!;
  const who = `--users ${user} --tokens '${d.tokenId}'`;
  const fixes: string[] = [];
  if (rangeMissing) {
    const role = grantedRole('/pool/{pool}');
    fixes.push(d.resourcePool
      ? `\`pveum acl modify /pool/${d.resourcePool} --roles ${role} ${who}\` (${role}: a role holding the privileges above; VMs cloned into resource pool ${d.resourcePool} inherit its ACLs)`
      : `\`pveum acl modify /vms --roles ${role} ${who}\` (${role}: a role holding the privileges above; without PROXMOX_POOL the daemon clones into no resource pool, so the range's VMIDs inherit only from /vms)`);
  }
  for (const p of otherPaths) {
    const pattern = p.startsWith('/storage/') ? (p === `/storage/${d.storage}` ? '/storage/{snippet_storage}' : '/storage/{storage}') : p.startsWith('/sdn/') ? '/sdn/zones/localnetwork/{bridge}' : '/vms/{template}';
    const role = grantedRole(pattern);
    fixes.push(`\`pveum acl modify ${p} --roles ${role} ${who}\``);
  }
  return `grant to both the user and the token (a privilege-separated token needs both): ${fixes.join('; ')}`;
}

export async function privilegeLines(d: ProxmoxProbeDeps, copies: ReadonlyMap<string, TemplateCopy[]>, vms: readonly PveVm[], pveMajor: number, hidden: Hidden): Promise<CheckLine[]> {
  let dump: PermissionDump;
  try {
    dump = await d.proxmox.permissions();
  } catch (e) {
    return [fail('Proxmox token privileges', `cannot read /access/permissions: ${problemOf(e)}`, 'any token may read its own permissions; check the Proxmox version and PROXMOX_TOKEN_ID')];
  }
  const lines: CheckLine[] = [];
  const needs = await poolRequirements(d, copies, vms, pveMajor, hidden);
  for (const { pool, reqs } of needs) {
    const what = `pool ${pool.name}: token privileges`;
    const short = shortfalls(dump, reqs);
    if (short.length === 0) {
      lines.push(ok(what, `clone ${listed(copies.get(pool.name) ?? [], (c) => String(c.vmid)) || 'no template'}, create/configure/start/stop/destroy ${pool.vmidRange.lo}-${pool.vmidRange.hi}`));
      continue;
    }
    const templatePaths = new Set((copies.get(pool.name) ?? []).map((c) => `/vms/${c.vmid}`));
    const inRange = (p: string) => /^\/vms\/\d+$/.test(p) && !templatePaths.has(p);
    const paths = [...new Set(short.map((s) => s.path))];
    lines.push(fail(what, `missing ${describeShortfalls(short)}`, grantFix(d, paths.some(inRange), paths.filter((p) => !inRange(p)))));
  }
  for (const n of needs) {
    lines.push(...agentLines(dump, { pool: n.pool, vmids: n.vmids, inheritsFrom: d.resourcePool ? [`/pool/${d.resourcePool}`] : [], templates: n.templates, pveMajor, tokenId: d.tokenId, ...(d.resourcePool ? { resourcePool: d.resourcePool } : {}) }));
  }
  const snippetNeed: Requirement = { path: `/storage/${d.storage}`, privileges: grantedOn('/storage/{snippet_storage}', `/storage/${d.storage}`) };
  const snippetShort = shortfalls(dump, [snippetNeed]);
  lines.push(snippetShort.length === 0
    ? ok(`snippet storage '${d.storage}': token privileges`, snippetNeed.privileges.join(' '))
    : fail(`snippet storage '${d.storage}': token privileges`, `missing ${describeShortfalls(snippetShort)}`, grantFix(d, false, [snippetNeed.path])));
  // Per granted path, what is missing there and what that costs.
  lines.push(...grantLines(d, dump, {
    templates: [...new Set([...copies.values()].flat().map((c) => c.vmid))].sort((a, b) => a - b),
    storages: [...new Set(needs.flatMap((n) => [...n.storages]))].sort(),
    snippetStorage: d.storage,
    bridges: [...new Set(needs.flatMap((n) => [...n.bridges]))].sort(),
    pveMajor,
    guestAgent: d.config.pools.some((p) => p.delivery === 'guest-agent'),
  }));
  return lines;
}

