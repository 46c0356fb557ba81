/**
 * User-data as cloud-init reads it (cloudinit/handlers, cc_write_files, cc_runcmd, cc_bootcmd,
 * cc_power_state_change): a `#cloud-config` YAML document (YAML 1.1, as PyYAML reads it) or a `#!`
 * shell script; anything else is ignored. Only the keys a runner bootstrap uses are modelled; the
 * rest (users, packages, ...) are accepted and have no effect.
 */
import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';

/** Why cloud-init runs nothing from this user-data; the VM then boots and idles, as a real one would. */
export class UserDataProblem extends Error {}

/** One runcmd/bootcmd item: a string goes to sh as a line, a list is quoted word by word (util.shellify). */
export type ShellItem = string | string[];

export interface WriteFile {
  path: string;
  content: string;
  /** undefined: cloud-init's default 0o644; NaN: undecodable (cloud-init warns and uses the default) */
  permissions?: number;
  owner: string;
  append: boolean;
  defer: boolean;
}

export interface PowerState {
  mode: 'poweroff' | 'halt' | 'reboot';
  /** seconds cloud-init waits for itself to finish before acting (default 30) */
  timeoutS: number;
  /** `condition: false` (or a failing command) skips the power change */
  condition: boolean | ShellItem;
}

export interface CloudConfig {
  hostname?: string;
  bootcmd: ShellItem[];
  writeFiles: WriteFile[];
  runcmd: ShellItem[];
  /** a `#!` user-data script, run by scripts_user */
  userScript?: string;
  powerState?: PowerState;
}

const text = (v: unknown, what: string): string => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new UserDataProblem(`${what} is not a string`);
};

function shellItems(v: unknown, key: string): ShellItem[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new UserDataProblem(`${key} is not a list`);
  // YAML comments inside a list read as null and are skipped, as util.shellify does.
  return v.filter((item) => item !== null).map((item, i) => (Array.isArray(item) ? item.map((a) => text(a, `${key}[${i}] item`)) : text(item, `${key}[${i}]`)));
}

/** cc_write_files.canonicalize_extraction + read_url_or_decode for inline content. */
function decode(content: unknown, encoding: unknown, where: string): string {
  if (content === undefined || content === null) return '';
  if (content instanceof Uint8Array) return Buffer.from(content).toString('utf8'); // !!binary
  const raw = text(content, `${where}.content`);
  const enc = typeof encoding === 'string' ? encoding.toLowerCase().trim() : '';
  try {
    if (['gz', 'gzip'].includes(enc)) return gunzipSync(Buffer.from(raw, 'latin1')).toString('utf8');
    if (['gz+base64', 'gzip+base64', 'gz+b64', 'gzip+b64'].includes(enc)) return gunzipSync(Buffer.from(raw, 'base64')).toString('utf8');
  } catch {
    throw new UserDataProblem(`${where}: content is not ${enc} data`);
  }
  if (enc === 'b64' || enc === 'base64') return Buffer.from(raw, 'base64').toString('utf8');
  return raw; // text/plain, and unknown encodings (cloud-init warns and assumes text/plain)
}

/** cc_write_files.decode_perms: numbers as they are, strings as octal; undecodable → default with a warning. */
function perms(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Math.trunc(v);
  const s = String(v);
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

function writeFiles(v: unknown): WriteFile[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new UserDataProblem('write_files is not a list');
  return v.flatMap((f: unknown, i) => {
    const where = `write_files[${i}]`;
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw new UserDataProblem(`${where} is not a mapping`);
    const e = f as Record<string, unknown>;
    if (!e.path) return []; // "No path provided to write": skipped with a warning
    return [{
      path: text(e.path, `${where}.path`),
      content: decode(e.content, e.encoding, where),
      permissions: perms(e.permissions),
      owner: e.owner === undefined ? 'root:root' : text(e.owner, `${where}.owner`),
      append: e.append === true,
      defer: e.defer === true,
    }];
  });
}

function powerState(v: unknown): PowerState | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new UserDataProblem('power_state is not a mapping');
  const p = v as Record<string, unknown>;
  if (p.mode !== 'poweroff' && p.mode !== 'halt' && p.mode !== 'reboot') throw new UserDataProblem(`power_state.mode '${String(p.mode)}' is not poweroff, halt or reboot`);
  const timeoutS = p.timeout === undefined ? 30 : Number(p.timeout);
  const c = p.condition;
  const condition = c === undefined ? true : typeof c === 'boolean' ? c : Array.isArray(c) ? c.map((a) => text(a, 'power_state.condition item')) : text(c, 'power_state.condition');
  return { mode: p.mode, timeoutS: Number.isFinite(timeoutS) ? timeoutS : 30, condition };
}

export function parseUserData(userData: string | undefined): CloudConfig {
  if (userData === undefined) throw new UserDataProblem('no cicustom user-data: cloud-init has nothing to run');
  if (/^#!/.test(userData)) return { bootcmd: [], writeFiles: [], runcmd: [], userScript: userData };
  if (!/^#cloud-config[ \t]*\r?\n/.test(userData)) throw new UserDataProblem('user-data starts with neither #cloud-config nor #!: cloud-init ignores it');
  const doc = YAML.parseDocument(userData, { version: '1.1' });
  if (doc.errors.length) throw new UserDataProblem(`user-data is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const cfg: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new UserDataProblem('user-data is not a YAML mapping');
  const c = cfg as Record<string, unknown>;
  return {
    hostname: c.hostname === undefined ? undefined : text(c.hostname, 'hostname'),
    bootcmd: shellItems(c.bootcmd, 'bootcmd'),
    writeFiles: writeFiles(c.write_files),
    runcmd: shellItems(c.runcmd, 'runcmd'),
    powerState: powerState(c.power_state),
  };
}

/** util.shellify: the one `#!/bin/sh` script cloud-init writes for runcmd/bootcmd (no `set -e`). */
export function shellify(items: ShellItem[]): string {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n${items.map((i) => (Array.isArray(i) ? i.map(quote).join(' ') : i)).join('\n')}\n`;
}
