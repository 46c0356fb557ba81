/**
 * The optional webhook listener: WEBHOOK_LISTEN (host:port) and its WEBHOOK_SECRET. Off unless
 * WEBHOOK_LISTEN is set; then the secret is required, because an unsigned delivery proves nothing.
 */
import type { EnvReader } from './env-reader.js';
import { readSecret, secretHowTo } from './env-secrets.js';
import type { Secret } from './secret.js';

export interface WebhookSettings {
  /** what to bind: an IPv4/IPv6 address or a host name (IPv6 without brackets) */
  readonly host: string;
  /** 0: any free port (tests, the demo) */
  readonly port: number;
  readonly secret: Secret;
}

/* GitHub asks for "a random string of text with high entropy"; a short one is guessable offline from one captured delivery. */
const MIN_SECRET_LENGTH = 16;
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const LISTEN_FIX = 'set WEBHOOK_LISTEN to host:port, e.g. 0.0.0.0:8080 (every interface) or 127.0.0.1:8080 (behind a reverse proxy), or unset it to rely on polling alone';

/** host and port of `host:port` / `[v6]:port`, or a reason it is not one (also METRICS_LISTEN's form). */
export function parseListen(raw: string): { host: string; port: number } | string {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(raw) ?? /^([^:[\]]+):(\d+)$/.exec(raw);
  if (!m) return raw.includes(':') && !raw.startsWith('[') && raw.split(':').length > 2 ? 'an IPv6 address needs brackets, e.g. [::]:8080' : 'is not of the form host:port';
  const [, host = '', portText = ''] = m;
  const port = Number(portText);
  if (!Number.isSafeInteger(port) || port > 65535) return `port ${portText} is not between 0 and 65535`;
  if (!raw.startsWith('[') && !HOST_RE.test(host)) return `'${host}' is not an IP address or host name`;
  return { host, port };
}

export function webhookSettings(r: EnvReader): WebhookSettings | undefined {
  const raw = r.raw('WEBHOOK_LISTEN');
  if (raw === undefined) return undefined;
  const listen = parseListen(raw);
  if (typeof listen === 'string') r.problem('WEBHOOK_LISTEN', `'${raw}' ${listen.startsWith('is ') ? listen : `is not usable: ${listen}`}`, LISTEN_FIX);
  const secret = readSecret(r, 'WEBHOOK_SECRET');
  const generate = 'generate one with `openssl rand -hex 32` and give GitHub the same value in the webhook\'s Secret field';
  if (secret === undefined) {
    r.problem('WEBHOOK_SECRET', 'is not set, but WEBHOOK_LISTEN is: deliveries could not be verified', `${secretHowTo('WEBHOOK_SECRET')}; ${generate}`);
    return undefined;
  }
  if (secret.reveal().length < MIN_SECRET_LENGTH) {
    r.problem('WEBHOOK_SECRET', `the value from ${secret.source} is shorter than ${MIN_SECRET_LENGTH} characters`, `use a long random secret: ${generate}`);
    return undefined;
  }
  return typeof listen === 'string' ? undefined : Object.freeze({ ...listen, secret });
}
