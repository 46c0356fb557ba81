/**
 * What the running daemon leaves for `pve-runners status` in its runtime directory (systemd's
 * RuntimeDirectory=, /run/pve-runners): the outcome of the last reload, the last actions with their
 * reasons, and the table of its last tick. `status --watch` redraws from it, so watching costs no
 * API request; `status` adds its reload line to a table of its own. Written whole to a temp file and
 * renamed, so a reader never sees half of it. Holds no secret (and goes through the redactor).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { ReloadState } from './reload.js';

export const STATE_FILE = 'state.json';
const VERSION = 1;
const LAST_ACTIONS = 20;

export interface ActionLine {
  /** epoch ms the action finished */
  at: number;
  kind: string;
  pool?: string;
  vmid?: number;
  ok: boolean;
  reason: string;
  /** why it failed */
  detail?: string;
}

export interface DaemonState<Table = unknown> {
  version: number;
  pid: number;
  startedAt: number;
  updatedAt: number;
  /** the interval the daemon ticks at (real time): how often --watch redraws */
  pollIntervalMs: number;
  configFile: string;
  reload: ReloadState | null;
  /** the last tick's table, as `status --json` has it */
  lastTick: { at: number; table: Table } | null;
  /** newest last */
  lastActions: ActionLine[];
}

export class StateFile<Table> {
  private state: DaemonState<Table>;
  private failing = false;

  constructor(private readonly d: { dir: string; log: Logger; redact: (s: string) => string; init: Omit<DaemonState<Table>, 'version' | 'updatedAt' | 'reload' | 'lastTick' | 'lastActions'> }) {
    this.state = { version: VERSION, ...d.init, updatedAt: d.init.startedAt, reload: null, lastTick: null, lastActions: [] };
  }

  update(at: number, change: { reload?: ReloadState; configFile?: string; table?: Table; actions?: readonly ActionLine[] }): void {
    const s = this.state;
    this.state = {
      ...s,
      updatedAt: at,
      ...(change.reload ? { reload: change.reload } : {}),
      ...(change.configFile ? { configFile: change.configFile } : {}),
      ...(change.table !== undefined ? { lastTick: { at, table: change.table } } : {}),
      lastActions: [...s.lastActions, ...(change.actions ?? [])].slice(-LAST_ACTIONS),
    };
    this.write();
  }

  private write(): void {
    const path = join(this.d.dir, STATE_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, this.d.redact(JSON.stringify(this.state)), { mode: 0o600 });
      renameSync(tmp, path);
      if (this.failing) this.d.log.info(`daemon state is written to ${path} again`);
      this.failing = false;
    } catch (e) {
      // Only `status` misses it: never a reason to stop serving. Said once, not every tick.
      if (!this.failing) this.d.log.warn(`cannot write the daemon state for \`pve-runners status\` to ${path}: ${(e as Error).message}; set RuntimeDirectory=pve-runners in the unit (or RUNTIME_DIRECTORY to a writable directory)`);
      this.failing = true;
    }
  }
}

export type StateRead<Table> = { state: DaemonState<Table> } | { missing: string } | { unreadable: string };

/**
 * The daemon's state as it last wrote it. The file is this program's own (same version), so
 * beyond its version and the fields every reader needs, its shape is taken as written.
 */
export function readState<Table>(dir: string): StateRead<Table> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: path };
    return { unreadable: `${path}: ${(e as Error).message}` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { unreadable: `${path}: ${(e as Error).message}` };
  }
  if (!isState<Table>(v)) return { unreadable: `${path}: not a state file of this pve-runners version (want version ${VERSION})` };
  return { state: v };
}

function isState<Table>(v: unknown): v is DaemonState<Table> {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.version === VERSION && typeof o.pid === 'number' && typeof o.updatedAt === 'number' && typeof o.pollIntervalMs === 'number' && typeof o.configFile === 'string' && Array.isArray(o.lastActions) && (o.reload === null || typeof o.reload === 'object') && (o.lastTick === null || typeof o.lastTick === 'object');
}
