import type { Config, PoolConfig } from '../config/types.js';
import type { GithubApi } from '../github/api.js';
import { compareVersions } from '../github/octokit-api.js';
import type { Scope } from '../github/scope.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { ok, warn, type CheckLine } from './result.js';

const RUNNER_VERSION = /actions\/runner v?(\d+\.\d+\.\d+)/;

export interface RunnerVersionDeps {
  proxmox: ProxmoxApi;
  github: GithubApi;
  config: Config;
}

function firstScope(config: Config): Scope | undefined {
  const repo = config.github.repos[0];
  if (repo) {
    const [owner, name] = repo.split('/') as [string, string];
    return { kind: 'repo', owner, repo: name };
  }
  const org = config.github.orgs[0];
  return org ? { kind: 'org', org: org.name } : undefined;
}

const templateOf = (p: PoolConfig) => (p.template.kind === 'vmid' ? `VMID ${p.template.vmid}` : `'${p.template.name}'`);

/**
 * GitHub stops giving jobs to runners that lag a release by more than 30 days, and the templates'
 * runners do not update themselves (run-once.sh starts them with updates disabled, so that a job
 * never waits for one). The Packer templates record the runner version in the template's
 * description; this compares it with the version GitHub offers now. Only warnings: the 30-day clock
 * starts at GitHub's release, which the API does not say.
 */
export async function probeRunnerVersions(d: RunnerVersionDeps): Promise<CheckLine[]> {
  const scope = firstScope(d.config);
  if (!scope) return [];
  let latest: string | undefined;
  try {
    latest = await d.github.latestRunnerVersion(scope);
  } catch (e) {
    return [warn('actions/runner version', `cannot read the runner versions GitHub offers: ${(e as Error).message}`)];
  }
  if (!latest) return [warn('actions/runner version', 'GitHub listed no runner downloads')];
  const templates = (await d.proxmox.listVms()).filter((v) => v.template);
  const lines: CheckLine[] = [];
  const seen = new Set<number>();
  for (const pool of d.config.pools) {
    const copies = templates.filter((t) => (pool.template.kind === 'vmid' ? t.vmid === pool.template.vmid : t.name === pool.template.name) && pool.nodes.includes(t.node));
    for (const t of copies) {
      if (seen.has(t.vmid)) continue;
      seen.add(t.vmid);
      const what = `template ${templateOf(pool)} on ${t.node} (VMID ${t.vmid}): actions/runner`;
      let description: string;
      try {
        const cfg = await d.proxmox.getConfig(t.node, t.vmid);
        description = typeof cfg.description === 'string' ? cfg.description : '';
      } catch (e) {
        lines.push(warn(what, `cannot read its description: ${(e as Error).message}`));
        continue;
      }
      const have = RUNNER_VERSION.exec(description)?.[1];
      if (!have) {
        lines.push(warn(what, "its description names no 'actions/runner X.Y.Z', so its runner version is unknown", 'templates built from runners/ record it; add it to the description by hand otherwise'));
      } else if (compareVersions(have, latest) < 0) {
        lines.push(warn(what, `${have} is older than ${latest}, the version GitHub offers; GitHub stops giving jobs to runners that lag a release by more than 30 days`, `rebuild the template with runner_version = "${latest}" (runners/README.md)`));
      } else {
        lines.push(ok(what, `${have}, GitHub's current`));
      }
    }
  }
  return lines;
}
