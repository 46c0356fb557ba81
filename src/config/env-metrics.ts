/**
 * METRICS_LISTEN: where /metrics (and /healthz, /readyz) are served. Off unless set. The same
 * address as WEBHOOK_LISTEN means one listener for all four paths; a different one, a second
 * listener, so the metrics can stay on loopback while the webhook faces GitHub.
 */
import type { EnvReader } from './env-reader.js';
import { parseListen } from './env-webhook.js';

export interface ListenAddress {
  /** an IPv4/IPv6 address or a host name (IPv6 without brackets) */
  readonly host: string;
  /** 0: any free port (tests, the demo) */
  readonly port: number;
}

const FIX = 'set METRICS_LISTEN to host:port, e.g. 127.0.0.1:9464 (Prometheus on this host) or 0.0.0.0:9464, or unset it to serve no metrics';

export function metricsListen(r: EnvReader): ListenAddress | undefined {
  const raw = r.raw('METRICS_LISTEN');
  if (raw === undefined) return undefined;
  const listen = parseListen(raw);
  if (typeof listen === 'string') {
    r.problem('METRICS_LISTEN', `'${raw}' ${listen.startsWith('is ') ? listen : `is not usable: ${listen}`}`, FIX);
    return undefined;
  }
  return Object.freeze(listen);
}
