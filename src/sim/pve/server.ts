/**
 * The HTTP front of the simulated Proxmox, in pveproxy's order: content check for GET/DELETE,
 * token auth (401 without a body), routing (501), proxy to the node in the path, permission check
 * (403), parameter verification (400), then the handler (500 for its errors). Answers carry
 * exactly `application/json;charset=UTF-8` and `{"data": …}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PveError, PveParamError } from './errors.js';
import { ARRAY_SEP, validateParams } from './params.js';
import { handlers, matchRoute } from './routes.js';
import { pveApi, type PveSchema } from './schema.js';
import { transientFailure } from './transient.js';
import type { Params, PveWorld } from './world.js';

export const API_BASE = '/api2/json';
const CONTENT_TYPE = 'application/json;charset=UTF-8';

interface Answer {
  status: number;
  reason: string;
  body?: unknown;
  /** no HTTP answer at all: the connection is closed (pveproxy itself restarting) */
  reset?: boolean;
}

const firstLine = (msg: string) => msg.split('\n')[0]!.replace(/[^\t\x20-\x7e]/g, '?');

function errorAnswer(e: unknown): Answer {
  if (e instanceof PveParamError) return { status: 400, reason: e.message, body: { data: null, errors: e.errors } };
  if (e instanceof PveError) return { status: e.status, reason: firstLine(e.message), body: { data: null, message: `${e.message}\n` } };
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, reason: firstLine(msg), body: { data: null, message: `${msg}\n` } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A repeated key keeps its last value, except for the schema's array parameters (params.ts ARRAY_SEP). */
function collect(search: URLSearchParams, schema: PveSchema): Params {
  const out: Params = {};
  for (const [k, v] of search) {
    const array = schema.properties?.[k]?.type === 'array';
    out[k] = array && out[k] !== undefined ? `${out[k]}${ARRAY_SEP}${v}` : v;
  }
  return out;
}

export class PveHttp {
  constructor(private readonly world: PveWorld, private readonly tokenSecret: string) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const startMs = this.world.ctx.clock.nowMs();
    const body = await readBody(req);
    let endpoint = `${method} ${url.pathname}`;
    let answer: Answer;
    let params: Params = {};
    try {
      const r = await this.answer(method, url, body, req.headers.authorization);
      endpoint = r.endpoint ?? endpoint;
      answer = r.answer;
      params = r.params ?? {};
    } catch (e) {
      answer = errorAnswer(e);
    }
    const latency = this.world.ctx.scenario.proxmox.timings.latencyMs;
    if (latency > 0) await this.world.ctx.clock.sleep(latency);
    this.world.ctx.recorder.request({ side: 'proxmox', endpoint, status: answer.status, countedAgainstRateLimit: false, notModified: false });
    const data = (answer.body as { data?: unknown } | undefined)?.data;
    this.world.ctx.recorder.timeline.pveRequest({ startMs, endpoint, params, status: answer.status, upid: typeof data === 'string' && data.startsWith('UPID:') ? data : undefined });
    if (answer.reset) {
      res.destroy();
      return;
    }
    if (method !== 'GET' && answer.status === 200 && this.world.faults.hit('lost_answer_rate', endpoint)) {
      // Done, but the client never hears of it: the connection drops before the answer.
      this.world.ctx.recorder.event(`answer lost: ${endpoint}`);
      res.destroy();
      return;
    }
    const headers: Record<string, string | number> = { 'Cache-Control': 'max-age=0', Pragma: 'no-cache', Server: 'pve-api-daemon/3.0', Expires: new Date(this.world.ctx.clock.epochMs()).toUTCString() };
    if (answer.body === undefined) {
      res.writeHead(answer.status, answer.reason, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, answer.reason, { ...headers, 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private authenticated(header: string | undefined): boolean {
    const m = /^PVEAPIToken[= ](.+)$/.exec(header ?? '');
    if (!m) return false;
    const value = m[1]!;
    const eq = value.lastIndexOf('=');
    if (eq <= 0 || value.slice(0, eq) !== this.world.user || value.slice(eq + 1) !== this.tokenSecret) return false;
    // AccessControl::verify_token: the user must exist and be enabled, the token must exist.
    const { cfg } = this.world.access;
    return cfg.users.get(this.world.user.split('!')[0]!)?.enabled === true && cfg.tokens.has(this.world.user);
  }

  private async answer(method: string, url: URL, body: string, auth: string | undefined): Promise<{ endpoint?: string; params?: Params; answer: Answer }> {
    const w = this.world;
    if ((method === 'GET' || method === 'DELETE') && body.length > 0) {
      w.ctx.recorder.invalidRequest(`proxmox ${method} ${url.pathname}: a body on ${method}`);
      return { answer: { status: 501, reason: `Unexpected content for method '${method}'` } };
    }
    if (!url.pathname.startsWith(`${API_BASE}/`)) return { answer: { status: 404, reason: 'Not Found' } };
    // PVE delays failed logins by 3 s; the simulator answers at once (no scenario time to waste).
    if (!this.authenticated(auth)) return { answer: { status: 401, reason: 'Authentication failed!' } };
    const rel = url.pathname.slice(API_BASE.length);
    w.storageWatch.scanSnippets();
    const route = matchRoute(method, rel);
    if (!route) {
      w.ctx.recorder.invalidRequest(`proxmox ${method} ${rel}: no such method in the simulator's schema`);
      throw new PveError(`Method '${method} ${rel}' not implemented`, 501);
    }
    const { endpoint, pathParams } = route;
    const schema = pveApi.endpoints[endpoint]!;
    const raw = collect(method === 'GET' || method === 'DELETE' ? url.searchParams : new URLSearchParams(body), schema.parameters);
    const params: Params = { ...raw, ...pathParams };
    try {
      const node = pathParams.node;
      if (node !== undefined && schema.proxyto === 'node') {
        const n = w.cluster.nodes.get(node);
        if (!n) throw new PveError(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
        if (n.status !== 'online') throw new PveError('No route to host', 595);
      }
      if (schema.permissions?.check) w.privileges.check(schema.permissions.check, params);
      try {
        validateParams(schema.parameters, params);
      } catch (e) {
        if (e instanceof PveParamError) w.ctx.recorder.invalidRequest(`proxmox ${endpoint}: ${JSON.stringify(e.errors)}`);
        throw e;
      }
      if (w.faults.hit('http_error_rate', endpoint)) {
        // The client talks to the first node's pveproxy; see transient.ts for who answers what.
        const t = transientFailure(schema, node, w.ctx.scenario.proxmox.nodes[0]!.name);
        return { endpoint, params, answer: t.kind === 'reset' ? { status: 599, reason: 'connection closed', reset: true } : { status: t.status, reason: t.reason } };
      }
      const data = await handlers[endpoint]!(w, params, endpoint);
      return { endpoint, params, answer: { status: 200, reason: 'OK', body: { data: data ?? null } } };
    } catch (e) {
      return { endpoint, params, answer: errorAnswer(e) };
    }
  }
}
