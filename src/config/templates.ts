/**
 * Resolves each pool's template against the cluster's VM list (GET /cluster/resources?type=vm), for
 * `pve-runners check` and for the daemon's start-up: pools.yaml can only say a name or VMID, whether
 * that is really a template only Proxmox knows.
 */
import type { ConfigProblem } from './errors.js';
import type { Config, PoolConfig } from './types.js';

/** The fields of a /cluster/resources VM this needs (src/proxmox's PveVm has them). */
export interface ClusterVm {
  readonly vmid: number;
  readonly node: string;
  readonly name: string;
  readonly template: boolean;
}

export interface ResolvedTemplate {
  readonly vmid: number;
  readonly node: string;
}

export interface TemplateResolution {
  /** Pool name → its template, for pools whose template was found. */
  readonly templates: ReadonlyMap<string, ResolvedTemplate>;
  readonly problems: readonly ConfigProblem[];
}

function resolveOne(config: Config, pool: PoolConfig, vms: readonly ClusterVm[]): ResolvedTemplate | ConfigProblem {
  const at = { file: config.file, path: `pools[${pool.index}].template` };
  const t = pool.template;
  const found = t.kind === 'vmid' ? vms.filter((v) => v.vmid === t.vmid) : vms.filter((v) => v.name === t.name);
  const shown = t.kind === 'vmid' ? `VMID ${t.vmid}` : `'${t.name}'`;
  const templates = found.filter((v) => v.template);
  if (found.length === 0) {
    return { ...at, message: `no VM ${shown} exists on the cluster`, fix: `build the template (see runners/ in the pve-runners package), or name an existing template; \`qm list\` on a node shows them` };
  }
  if (templates.length === 0) {
    const v = found[0]!;
    return { ...at, message: `${shown} is VM ${v.vmid} on ${v.node}, which is not a template`, fix: `convert it with \`qm template ${v.vmid}\` on ${v.node} (it must be shut down), or name the template instead` };
  }
  if (templates.length > 1) {
    return { ...at, message: `${templates.length} templates are named ${shown} (VMIDs ${templates.map((v) => v.vmid).join(', ')})`, fix: `name the template by its VMID, e.g. template: ${templates[0]!.vmid}, or rename the others` };
  }
  const tpl = templates[0]!;
  return { vmid: tpl.vmid, node: tpl.node };
}

export function resolveTemplates(config: Config, vms: readonly ClusterVm[]): TemplateResolution {
  const templates = new Map<string, ResolvedTemplate>();
  const problems: ConfigProblem[] = [];
  for (const pool of config.pools) {
    const r = resolveOne(config, pool, vms);
    if ('message' in r) problems.push(r);
    else templates.set(pool.name, Object.freeze(r));
  }
  return Object.freeze({ templates, problems: Object.freeze(problems) });
}
