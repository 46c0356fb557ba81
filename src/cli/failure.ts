/**
 * One line for a command that failed talking to Proxmox or GitHub: what failed, against which URL
 * (never with a query or credentials) and what to check. A stack trace says nothing to someone whose
 * firewall blocks port 8006; it is kept only for errors this cannot name, which are bugs.
 */
import { ProxmoxError, TaskFailedError, TaskTimeoutError } from '../proxmox/errors.js';

export interface Endpoints {
  readonly proxmoxUrl: string;
  readonly githubUrl: string;
}

/** A failure already described in one line; the CLI prints its message and exits 1. */
export class CommandFailure extends Error {
  constructor(line: string) {
    super(line);
    this.name = 'CommandFailure';
  }
}

/** Scheme, host and path only: a query or user info may hold a credential. */
export function bareUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.replace(/[?#][\s\S]*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}

const TLS = /certificate|self[- ]signed|CERT_|UNABLE_TO_VERIFY|SSL|TLS/i;
const NETWORK_ERROR = /^network error calling (\w+) (\S+) cause by:\s*([\s\S]*)$/;

function proxmoxLine(e: ProxmoxError, ep: Endpoints): string {
  const net = e.status === 0 ? NETWORK_ERROR.exec(e.pveMessage) : null;
  if (e.status === 0) {
    const [, method, url, cause] = net ?? [undefined, undefined, ep.proxmoxUrl, e.pveMessage];
    const target = `${method ? `${method} ` : ''}${bareUrl(url ?? ep.proxmoxUrl)}`;
    const check = TLS.test(cause ?? '')
      ? 'check PROXMOX_CA_FILE (the cluster CA, /etc/pve/pve-root-ca.pem on any node) or that PROXMOX_URL names the host its certificate is for'
      : `check PROXMOX_URL (${ep.proxmoxUrl}), that the node is up, and that this host can reach its port (firewall, proxy, DNS)`;
    return `cannot reach Proxmox: ${target} failed (${(cause ?? '').trim()}) — ${check}`;
  }
  const at = `Proxmox at ${ep.proxmoxUrl}`;
  if (e.status === 401) return `${at} refused the API token (${e.message}) — check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET (\`pveum user token list\` on a node)`;
  if (e.status === 403) return `${at} denied a privilege (${e.message}) — \`pve-runners check\` lists the privileges the token needs`;
  return `${at} failed: ${e.message} — check the node's API services (\`journalctl -u pveproxy -u pvedaemon\`) and retry`;
}

/** Octokit's RequestError: a status, the request made and, when GitHub answered at all, its response. */
interface OctokitError {
  readonly status: number;
  readonly message: string;
  readonly request: { readonly method?: string; readonly url?: string };
  readonly response?: unknown;
}

function isOctokitError(e: unknown): e is OctokitError {
  if (!(e instanceof Error) || e.name !== 'HttpError') return false;
  const o = e as Partial<OctokitError>;
  return typeof o.status === 'number' && typeof o.request === 'object' && o.request !== null;
}

function githubLine(e: OctokitError, ep: Endpoints): string {
  const target = `${e.request.method ?? ''} ${bareUrl(e.request.url ?? ep.githubUrl)}`.trim();
  if (e.response === undefined) {
    const check = TLS.test(e.message) ? 'check the CA this host trusts (NODE_EXTRA_CA_CERTS for GitHub Enterprise Server with a private CA)' : `check GITHUB_API_URL (${ep.githubUrl}) and that this host can reach it (firewall, proxy, DNS)`;
    return `cannot reach GitHub: ${target} failed (${e.message}) — ${check}`;
  }
  if (e.status === 401) return `GitHub refused the credentials for ${target} (${e.status} ${e.message}) — check GITHUB_TOKEN or the GITHUB_APP_* settings`;
  if (e.status === 403 || e.status === 404) return `GitHub denied ${target} (${e.status} ${e.message}) — \`pve-runners check\` lists the permissions the credentials need`;
  return `GitHub failed ${target} (${e.status} ${e.message}) — see https://www.githubstatus.com and retry`;
}

/** `what: …` in one line, or undefined when `e` is not a failure of either service (a bug: keep its stack). */
export function describeFailure(what: string, e: unknown, ep: Endpoints): string | undefined {
  if (e instanceof ProxmoxError) return `${what}: ${proxmoxLine(e, ep)}`;
  if (e instanceof TaskFailedError || e instanceof TaskTimeoutError) return `${what}: Proxmox at ${ep.proxmoxUrl}: ${e.message} — the task log (Datacenter → Tasks, or \`pvenode task log\`) says why`;
  if (isOctokitError(e)) return `${what}: ${githubLine(e, ep)}`;
  return undefined;
}

/** Runs `fn`; a failure of Proxmox or GitHub becomes a CommandFailure with its one line. */
export async function describingFailures<T>(what: string, ep: Endpoints, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const line = describeFailure(what, e, ep);
    throw line === undefined ? e : new CommandFailure(line);
  }
}
