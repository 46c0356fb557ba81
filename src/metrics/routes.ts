/**
 * /metrics, /healthz and /readyz as routes of the daemon's HTTP listener. All three are cheap: the
 * exposition is built from values kept in memory, the health answers from one timestamp.
 */
import type { Clock } from '../clock.js';
import { send, type RouteHandler } from '../http/listener.js';
import type { Metrics } from './registry.js';
import type { Readiness } from './readiness.js';

export const METRICS_PATH = '/metrics';

function getOnly(handler: RouteHandler): RouteHandler {
  return (req, res) => {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only', { allow: 'GET, HEAD' });
    return handler(req, res);
  };
}

/** /healthz and /readyz: every listener serves them. */
export function healthRoutes(readiness: Readiness, clock: Clock): Map<string, RouteHandler> {
  return new Map<string, RouteHandler>([
    ['/healthz', getOnly((_req, res) => send(res, 200, 'ok'))],
    ['/readyz', getOnly((_req, res) => {
      const r = readiness.check(clock.now());
      send(res, r.ready ? 200 : 503, r.text);
    })],
  ]);
}

export function metricsRoute(metrics: Metrics): [string, RouteHandler] {
  return [METRICS_PATH, getOnly(async (_req, res) => {
    const { text, contentType } = await metrics.exposition();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(text);
  })];
}
