/**
 * URL-valued variables. A query, fragment or credentials in an API base are refused rather than
 * redacted: an API base never needs them, and a refused value cannot leak through an HTTP client's
 * error text later.
 */
import type { EnvReader } from './env-reader.js';

/** Where ProxmoxSettings keeps the parsed PROXMOX_URL. */
export interface ProxmoxUrl {
  /** Always ends in `/api2/json`, no trailing slash. */
  readonly url: string;
  readonly protocol: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

/**
 * A URL as it may be quoted back: without user info, query or fragment, any of which may hold a
 * credential (`?access_token=…`). Applied even to values that do not parse as URLs.
 */
export function shownUrl(raw: string): string {
  return raw.replace(/^([^/?#]*\/\/)[^/?#]*@/, '$1…@').replace(/[?#][\s\S]*$/, (m) => `${m[0]}…`);
}

/** An API base URL, or undefined after reporting why not. */
function apiUrl(r: EnvReader, name: string, raw: string, fix: string, credentialsGo: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    r.problem(name, `'${shownUrl(raw)}' is not a URL`, fix);
    return undefined;
  }
  if (u.username || u.password) {
    r.problem(name, 'contains a user name or password', `${fix}; ${credentialsGo}`);
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    r.problem(name, `'${shownUrl(raw)}' is not an http(s) URL`, fix);
    return undefined;
  }
  if (u.search || raw.includes('?')) {
    r.problem(name, 'has a query string (?…), which an API base never needs and which may hold a credential', `${fix}, without the ?… part; ${credentialsGo}`);
    return undefined;
  }
  if (u.hash || raw.includes('#')) {
    r.problem(name, 'has a fragment (#…), which an API base never needs', `${fix}, without the #… part`);
    return undefined;
  }
  return u;
}

export function proxmoxUrl(r: EnvReader): ProxmoxUrl | undefined {
  const name = 'PROXMOX_URL';
  const raw = r.raw(name);
  const fix = 'set PROXMOX_URL to the API base of a cluster node, e.g. https://pve1:8006/api2/json';
  if (raw === undefined) {
    r.problem(name, 'is not set', fix);
    return undefined;
  }
  const u = apiUrl(r, name, raw, fix, 'the token goes in PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET');
  if (!u) return undefined;
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/api2/json')) path += '/api2/json';
  const protocol = u.protocol === 'https:' ? 'https' : 'http';
  return {
    url: `${u.protocol}//${u.host}${path}`,
    protocol,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : protocol === 'https' ? 443 : 80,
  };
}

export function githubApiUrl(r: EnvReader): string {
  const name = 'GITHUB_API_URL';
  const raw = r.raw(name) ?? 'https://api.github.com';
  const fix = 'set GITHUB_API_URL to the REST API root, e.g. https://api.github.com or https://ghe.example.com/api/v3';
  const u = apiUrl(r, name, raw, fix, 'credentials go in GITHUB_TOKEN or GITHUB_APP_*');
  return u ? `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}` : shownUrl(raw);
}
