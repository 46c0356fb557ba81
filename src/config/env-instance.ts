/**
 * The installation's instance id (INSTANCE_ID) and how long another instance must be quiet before
 * its VMs are taken over (INSTANCE_TAKEOVER_AFTER); see planner/instance.ts for what they decide.
 * The id must stay the same across restarts and across an HA failover (ha-manager starts the same
 * container, same disk, elsewhere) and differ for a second container: install.sh writes a random one
 * into the env file. Without it, one is derived from /etc/machine-id, which is per container — but
 * a container copied with `pct clone` or from a backup may carry its source's, so set INSTANCE_ID.
 */
import { createHash } from 'node:crypto';
import { INSTANCE_ID_RE } from '../proxmox/vm-meta.js';
import { parseDuration } from '../util/duration.js';
import type { EnvReader } from './env-reader.js';

export const MACHINE_ID_FILE = '/etc/machine-id';
/** Longer than the clone timeout (15m) plus the start timeout (3m): the longest a live instance's VM stays half-made. */
export const DEFAULT_TAKEOVER_AFTER_MS = 20 * 60_000;
// Under a minute, an instance busy cloning would be taken for gone; over a day, a replacement with a
// new id would leave the pools unserved that long.
const TAKEOVER_MIN_MS = 60_000;
const TAKEOVER_MAX_MS = 24 * 3_600_000;

export interface InstanceSettings {
  readonly id: string;
  /** where the id came from, for the start-up line */
  readonly source: 'INSTANCE_ID' | 'machine-id' | 'none';
  readonly takeoverAfterMs: number;
}

export function instanceSettings(r: EnvReader): InstanceSettings {
  const takeoverAfterMs = takeoverAfter(r);
  const given = r.raw('INSTANCE_ID');
  if (given !== undefined) {
    if (!INSTANCE_ID_RE.test(given)) r.problem('INSTANCE_ID', `'${given}' is not an instance id`, 'set INSTANCE_ID to 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit, e.g. pvr-3f9c2a71 (`echo pvr-$(openssl rand -hex 4)`), and keep it when the container moves');
    return { id: given, source: 'INSTANCE_ID', takeoverAfterMs };
  }
  let machineId: string | undefined;
  try {
    machineId = /^[0-9a-f]{32}$/.exec(r.fsRead(MACHINE_ID_FILE, 4096).trim())?.[0];
  } catch {
    machineId = undefined;
  }
  // machine-id(5) asks that the id itself not be exposed: only a keyed hash of it is.
  if (machineId) return { id: `host-${createHash('sha256').update(`pve-runners\n${machineId}`).digest('hex').slice(0, 12)}`, source: 'machine-id', takeoverAfterMs };
  return { id: 'default', source: 'none', takeoverAfterMs };
}

function takeoverAfter(r: EnvReader): number {
  const raw = r.raw('INSTANCE_TAKEOVER_AFTER');
  if (raw === undefined) return DEFAULT_TAKEOVER_AFTER_MS;
  let ms: number | undefined;
  try {
    ms = parseDuration(/^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
  } catch {
    ms = undefined;
  }
  if (ms === undefined || ms < TAKEOVER_MIN_MS || ms > TAKEOVER_MAX_MS) {
    r.problem('INSTANCE_TAKEOVER_AFTER', `'${raw}' is not a duration from 1m to 24h`, 'set INSTANCE_TAKEOVER_AFTER to how long another pve-runners instance must make no VM before this one takes its VMs over, e.g. 20m (more than the clone timeout, 15m, plus the start timeout, 3m)');
    return DEFAULT_TAKEOVER_AFTER_MS;
  }
  return ms;
}
