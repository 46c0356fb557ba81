import type { VmMeta } from '../planner/observation.js';

const MARKER = 'pve-runners-meta: ';

/** What an instance id may be (INSTANCE_ID): short, and safe in a log line and a JSON string. */
export const INSTANCE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The VM description pve-runners writes at clone time: a line for people, and one JSON line for
 * itself (Proxmox's own ctime is not reliable on clones). The clone call carries it, so even a VM
 * whose tags were never set can be recognised as ours.
 */
export function formatVmDescription(meta: VmMeta): string {
  const json = JSON.stringify({ pool: meta.pool, scope: meta.scope, runner: meta.runner, created: new Date(meta.createdAt).toISOString(), ...(meta.warm ? { warm: meta.warm } : {}), ...(meta.instance !== undefined ? { instance: meta.instance } : {}) });
  if (meta.warm) return `Warm GitHub Actions runner VM managed by pve-runners: kept stopped until a job wants it. Do not edit.\n${MARKER}${json}`;
  return `Ephemeral GitHub Actions runner managed by pve-runners: destroyed when its job ends. Do not edit.\n${MARKER}${json}`;
}

export function parseVmDescription(description: string | undefined): VmMeta | undefined {
  if (!description) return undefined;
  const line = description.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) return undefined;
  try {
    const v = JSON.parse(line.slice(MARKER.length)) as Record<string, unknown>;
    const createdAt = typeof v.created === 'string' ? Date.parse(v.created) : NaN;
    if (typeof v.pool !== 'string' || typeof v.scope !== 'string' || typeof v.runner !== 'string' || !Number.isFinite(createdAt)) return undefined;
    const meta: VmMeta = { pool: v.pool, scope: v.scope, runner: v.runner, createdAt };
    const warm = v.warm as { template?: unknown; stamp?: unknown } | undefined;
    if (warm !== undefined) {
      if (typeof warm !== 'object' || warm === null || typeof warm.template !== 'number' || (warm.stamp !== undefined && typeof warm.stamp !== 'string')) return undefined;
      meta.warm = { template: warm.template, ...(typeof warm.stamp === 'string' ? { stamp: warm.stamp } : {}) };
    }
    if (v.instance !== undefined) {
      if (typeof v.instance !== 'string' || !INSTANCE_ID_RE.test(v.instance)) return undefined;
      meta.instance = v.instance;
    }
    return meta;
  } catch {
    return undefined;
  }
}
