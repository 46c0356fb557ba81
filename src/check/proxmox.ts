/**
 * `pve-runners check`, Proxmox side: reachable, version, nodes, each pool's template on each of its
 * nodes, foreign VMs in the VMID ranges (and VMIDs taken by VMs the token cannot see), the snippet storage, and the token's privileges for every
 * call a `run` makes.
 */
import { resolveTemplates, type Config, type PoolConfig } from '../config/index.js';
import type { ProxmoxApi, PveNode, PveVm } from '../proxmox/api.js';
import { ProxmoxError } from '../proxmox/errors.js';
import { privilegeLines } from './privilege-lines.js';
import { rangeLines } from './range-lines.js';
import { hiddenVmidsInRanges } from './ranges.js';
import { fail, listed, ok, warn, type CheckLine } from './result.js';

export interface ProxmoxProbeDeps {
  proxmox: ProxmoxApi;
  config: Config;
  /** PROXMOX_URL, for messages */
  url: string;
  /** PROXMOX_TOKEN_ID (not a secret), for the `pveum` commands of fixes */
  tokenId: string;
  /** PROXMOX_STORAGE: the snippet storage */
  storage: string;
  /** PROXMOX_POOL: the resource pool new VMs are cloned into, whose ACLs they inherit */
  resourcePool?: string;
}

export interface ProxmoxProbeResult {
  lines: CheckLine[];
  /** false when Proxmox could not be reached or the token was refused: nothing else was probed */
  reachable: boolean;
  /** the pools' nodes that are online (all of them when Proxmox could not tell) */
  onlineNodes: string[];
}

const GIB = 1024 ** 3;

const problemOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

function unreachable(d: ProxmoxProbeDeps, e: unknown): CheckLine {
  const status = e instanceof ProxmoxError ? e.status : 0;
  if (status === 401) {
    return fail('Proxmox token accepted', `${d.url} refused the token ${d.tokenId} (401)`, 'check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET against `pveum user token list <user>`; a token whose user is disabled or expired is refused too');
  }
  const tls = /certificate|self[- ]signed|SSL|TLS/i.test(problemOf(e));
  return fail(
    'Proxmox reachable',
    `cannot read ${d.url}/version: ${problemOf(e)}`,
    tls
      ? 'point PROXMOX_CA_FILE at the cluster CA (/etc/pve/pve-root-ca.pem on any node), or set PROXMOX_VERIFY_SSL=false'
      : 'check PROXMOX_URL (https://<node>:8006/api2/json) and that this host can reach port 8006',
  );
}

function templateRef(pool: PoolConfig): string {
  return pool.template.kind === 'vmid' ? `VMID ${pool.template.vmid}` : `'${pool.template.name}'`;
}

function matchesTemplate(pool: PoolConfig, vm: PveVm): boolean {
  return pool.template.kind === 'vmid' ? vm.vmid === pool.template.vmid : vm.name === pool.template.name;
}

export interface TemplateCopy {
  node: string;
  vmid: number;
}

/** Per pool and node, the template copy the planner would clone there (it never clones across nodes). */
function templateLines(config: Config, vms: readonly PveVm[], onCluster: ReadonlySet<string>): { lines: CheckLine[]; copies: Map<string, TemplateCopy[]> } {
  const lines: CheckLine[] = [];
  const copies = new Map<string, TemplateCopy[]>();
  const clusterWide = resolveTemplates(config, vms);
  const byNode = new Map<string, ReturnType<typeof resolveTemplates>>();
  const resolvedOn = (node: string) => {
    if (!byNode.has(node)) byNode.set(node, resolveTemplates(config, vms.filter((v) => v.node === node)));
    return byNode.get(node)!;
  };
  for (const pool of config.pools) {
    const what = (node?: string) => `pool ${pool.name}: template ${templateRef(pool)}${node ? ` on ${node}` : ''}`;
    const path = `pools[${pool.index}].template`;
    const whole = clusterWide.problems.find((p) => p.path === path);
    // Absent everywhere, or not a template anywhere: one line says it all.
    if (whole && !vms.some((v) => v.template && matchesTemplate(pool, v))) {
      lines.push(fail(what(), whole.message, whole.fix));
      copies.set(pool.name, []);
      continue;
    }
    const found: TemplateCopy[] = [];
    for (const node of pool.nodes) {
      if (!onCluster.has(node)) continue; // reported by the node check
      const r = resolvedOn(node);
      const t = r.templates.get(pool.name);
      if (t) {
        found.push({ node, vmid: t.vmid });
        lines.push(ok(what(node), `VMID ${t.vmid}`));
        continue;
      }
      const problem = r.problems.find((p) => p.path === path);
      if (!vms.some((v) => v.node === node && matchesTemplate(pool, v)) || !problem) {
        const elsewhere = vms.filter((v) => v.template && matchesTemplate(pool, v));
        lines.push(fail(what(node), `${node} holds no copy of it (copies: ${listed(elsewhere, (v) => `${v.vmid} on ${v.node}`)}), so no VM of this pool is ever placed on ${node}`,
          `make a template named like the others on ${node} (build it there with runners/, or clone and convert it: \`qm clone ${elsewhere[0]?.vmid ?? '<vmid>'} <new vmid> --full --target ${node}\` then \`qm template <new vmid>\`), or remove ${node} from pools[${pool.index}].nodes`));
      } else {
        lines.push(fail(what(node), problem.message, problem.fix));
      }
    }
    copies.set(pool.name, found);
  }
  return { lines, copies };
}

function nodeLines(config: Config, nodes: readonly PveNode[]): CheckLine[] {
  const lines: CheckLine[] = [];
  const named = [...new Set(config.pools.flatMap((p) => p.nodes))];
  for (const name of named) {
    const pools = config.pools.filter((p) => p.nodes.includes(name)).map((p) => p.name).join(', ');
    const n = nodes.find((x) => x.node === name);
    const what = `node ${name}`;
    if (!n) {
      lines.push(fail(what, `pools ${pools} name it, but the cluster has no such node (nodes: ${nodes.map((x) => x.node).join(', ') || 'none visible'})`, 'use node names as `pvecm nodes` shows them in pools.yaml (node/nodes) or PROXMOX_NODE'));
    } else if (!n.online) {
      lines.push(warn(what, `offline: pools ${pools} place no VM there until it is back`, 'none needed if this is maintenance; otherwise bring the node back or remove it from the pools\' nodes'));
    } else if (n.maxmem <= 0) {
      lines.push(fail(what, 'Proxmox reports no memory figures for it, so placement sees no free memory and creates no VM there', 'grant Sys.Audit on /nodes to the token and its user (the PVERunnersObserver role of scripts/create-proxmox-token.sh, or PVEAuditor)'));
    } else {
      lines.push(ok(what, `online, ${Math.round((n.maxmem - n.mem) / GIB)} of ${Math.round(n.maxmem / GIB)} GiB memory free`));
    }
  }
  return lines;
}

async function snippetStorageLines(d: ProxmoxProbeDeps, nodes: readonly string[]): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const good: string[] = [];
  for (const node of nodes) {
    const what = `snippet storage '${d.storage}' on ${node}`;
    let storages: Awaited<ReturnType<ProxmoxApi['nodeStorages']>>;
    try {
      storages = await d.proxmox.nodeStorages(node);
    } catch (e) {
      lines.push(fail(what, `cannot list the storages of ${node}: ${problemOf(e)}`, `check that ${node} is up and the token may read it`));
      continue;
    }
    const s = storages.find((x) => x.storage === d.storage);
    if (!s) {
      lines.push(fail(what, `not listed on ${node} (it does not exist there, is limited to other nodes, or the token lacks Datastore.Audit on /storage/${d.storage}); storages seen: ${storages.map((x) => x.storage).join(', ') || 'none'}`,
        `set PROXMOX_STORAGE to a storage with content snippets on every node of the pools (\`pvesm status --content snippets\`), or grant Datastore.Audit on /storage/${d.storage}`));
    } else if (!s.content.includes('snippets')) {
      lines.push(fail(what, `its content types are ${s.content.join(',') || 'none'}, without snippets, so Proxmox cannot read the VMs' cloud-init user-data from it`,
        `enable snippets on it (file-based storages only): \`pvesm set ${d.storage} --content ${[...s.content, 'snippets'].join(',')}\`, or set PROXMOX_STORAGE to a storage that has it (\`pvesm status --content snippets\`)`));
    } else if (!s.active) {
      lines.push(fail(what, `not active on ${node}`, `check the storage on ${node} (\`pvesm status\`): a mount that failed leaves it inactive`));
    } else {
      good.push(node);
    }
  }
  if (good.length) lines.unshift(ok(`snippet storage '${d.storage}' holds snippets`, `on ${good.join(', ')}`));
  return lines;
}

const poolNodes = (config: Config) => [...new Set(config.pools.flatMap((p) => p.nodes))];

function majorVersion(version: string): number {
  return Number(/^(\d+)/.exec(version)?.[1] ?? 0);
}

export async function probeProxmox(d: ProxmoxProbeDeps): Promise<ProxmoxProbeResult> {
  let version: { version: string; release: string };
  try {
    version = await d.proxmox.version();
  } catch (e) {
    return { lines: [unreachable(d, e)], reachable: false, onlineNodes: poolNodes(d.config) };
  }
  const major = majorVersion(version.version);
  const lines: CheckLine[] = [
    major >= 8
      ? ok('Proxmox reachable', `${d.url}, Proxmox VE ${version.version}`)
      : warn('Proxmox reachable', `${d.url} runs Proxmox VE ${version.version}; pve-runners is made for 8.x and 9.x (tags and templates in /cluster/resources)`, 'upgrade the cluster to Proxmox VE 8 or later'),
  ];
  let nodes: PveNode[];
  let vms: PveVm[];
  try {
    [nodes, vms] = await Promise.all([d.proxmox.listNodes(), d.proxmox.listVms()]);
  } catch (e) {
    lines.push(fail('Proxmox cluster resources', `cannot list nodes and VMs: ${problemOf(e)}`, 'check the token (VM.Audit on /vms) and the cluster\'s health (`pvecm status`)'));
    return { lines, reachable: true, onlineNodes: poolNodes(d.config) };
  }
  lines.push(...nodeLines(d.config, nodes));
  const onCluster = new Set(nodes.map((n) => n.node));
  const { lines: tplLines, copies } = templateLines(d.config, vms, onCluster);
  lines.push(...tplLines);
  const hidden = await hiddenVmidsInRanges(d.config.pools, vms, (id) => d.proxmox.isVmidFree(id));
  lines.push(...rangeLines(d, vms, hidden));
  const online = poolNodes(d.config).filter((n) => nodes.some((x) => x.node === n && x.online));
  lines.push(...(await snippetStorageLines(d, online)));
  lines.push(...(await privilegeLines(d, copies, vms, major, hidden ?? [])));
  return { lines, reachable: true, onlineNodes: online };
}
