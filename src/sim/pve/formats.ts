/**
 * PVE's named formats used by our endpoints, with pve-common/qemu-server's error texts
 * (PVE/JSONSchema.pm register_format callers). A checker throws the text PVE `die`s with;
 * params.ts prefixes it with `invalid format - `. Unknown names are accepted (their rules are
 * outside the endpoints we serve).
 */
import type { PveSchema } from './schema.js';

const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?';
const DNS_RE = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`);
export const TAG_RE = /^[a-z0-9_][a-z0-9_+.-]*$/i;
const STORAGE_ID_RE = /^[a-z][a-z0-9._-]*[a-z0-9]$/i;
const VOLUME_ID_RE = /^([a-z][a-z0-9._-]*[a-z0-9]):(.+)$/i;
const STORAGE_CONTENT = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import', 'none'];

/** pve-common PVE/Tools.pm split_list: `;`, `,` or whitespace (also NUL). */
export function splitList(value: string): string[] {
  return value.split(/[;,\s\0]+/).filter((x) => x !== '');
}

const fail = (msg: string): never => {
  throw new Error(`${msg}\n`);
};

const named: Record<string, (v: string) => void> = {
  'pve-vmid': (v) => void (/^[1-9][0-9]{2,8}$/.test(v) || fail('value does not look like a valid VM ID')),
  'pve-node': (v) => void (NODE_RE.test(v) || fail('value does not look like a valid node name')),
  'dns-name': (v) => void (DNS_RE.test(v) || fail('value does not look like a valid DNS name')),
  'pve-configid': (v) => void (/^[a-z][a-z0-9_-]+$/i.test(v) || fail(`invalid configuration ID '${v}'`)),
  'pve-poolid': (v) => void (/^[A-Za-z0-9_-]+$/.test(v) || fail(`invalid pool ID '${v}'`)),
  'pve-storage-id': (v) => void (STORAGE_ID_RE.test(v) || fail(`storage ID '${v}' contains illegal characters`)),
  'pve-volume-id': (v) => void (VOLUME_ID_RE.test(v) || fail(`unable to parse volume ID '${v}'`)),
  'pve-tag': (v) => void (TAG_RE.test(v) || fail('invalid characters in tag')),
  'pve-storage-content': (v) => void (STORAGE_CONTENT.includes(v) || fail(`invalid content type '${v}'`)),
  'pve-task-status-type': (v) => void (/^(ok|error|warning|unknown)$/i.test(v) || fail(`invalid status '${v}'`)),
};

/** qemu-server's cicustom format: each part names a volume. */
const cicustom: Record<string, PveSchema> = Object.fromEntries(
  ['meta', 'network', 'user', 'vendor'].map((k) => [k, { type: 'string', format: 'pve-volume-id', optional: 1 }]),
);
const smbios1: Record<string, PveSchema> = {
  uuid: { type: 'string', pattern: '[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}', optional: 1 },
  base64: { type: 'boolean', optional: 1 },
  ...Object.fromEntries(['version', 'serial', 'manufacturer', 'product', 'sku', 'family'].map((k) => [k, { type: 'string', pattern: '[A-Za-z0-9+/]+={0,2}', optional: 1 }])),
};
const ipconfig: Record<string, PveSchema> = Object.fromEntries(['ip', 'gw', 'ip6', 'gw6'].map((k) => [k, { type: 'string', optional: 1 }]));

/** Named formats that are property strings (`key=value,...`). */
export const propertyStringFormats: Record<string, Record<string, PveSchema>> = {
  'pve-qm-cicustom': cicustom,
  'pve-qm-smbios1': smbios1,
  'pve-qm-ipconfig': ipconfig,
};

/** Throws PVE's text if `value` violates the named format; `-list` formats check every list item. */
export function checkNamedFormat(format: string, value: string): void {
  const list = /^(.*)-a?list$/.exec(format);
  if (list && named[list[1]!]) {
    for (const item of splitList(value)) named[list[1]!]!(item);
    return;
  }
  named[format]?.(value);
}

/**
 * Parses a PVE property string (`[default=]v,key=v,...`) into its parts. Throws on a repeated key
 * or a bare value without a default key, as PVE's parse_property_string does.
 */
export function parsePropertyString(format: Record<string, PveSchema>, value: string): Record<string, string> {
  const defaultKey = Object.entries(format).find(([, s]) => s.default_key)?.[0];
  const res: Record<string, string> = {};
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key: string;
    let v: string;
    if (eq >= 0) {
      key = part.slice(0, eq);
      v = part.slice(eq + 1);
    } else if (defaultKey !== undefined && res[defaultKey] === undefined) {
      key = defaultKey;
      v = part;
    } else {
      throw new Error(`value without key, but schema does not define a default key\n`);
    }
    const sub = format[key];
    // `virtio=<mac>` in net[n]: the key names the model, the value is the MAC (alias + keyAlias).
    if (sub?.alias !== undefined) {
      if (typeof sub.keyAlias === 'string') res[sub.keyAlias] = key;
      key = sub.alias;
    }
    if (Object.hasOwn(res, key)) throw new Error(`duplicate key in comma-separated list property: ${key}\n`);
    res[key] = v;
  }
  return res;
}

/** Perl regex syntax found in the PVE schema → JavaScript: `(?^:` and atomic `(?>` groups, `{,n}`. */
export function perlToJsRegex(pattern: string): string {
  return pattern.replaceAll('(?^:', '(?:').replaceAll('(?>', '(?:').replace(/\{,(\d+)\}/g, '{0,$1}');
}
