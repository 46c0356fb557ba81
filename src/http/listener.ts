/**
 * The daemon's one HTTP listener: a route table (path → handler) on node:http, so the webhook and
 * later /metrics, /healthz and /readyz share one port and one place that binds, times out and stops.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, ENVIRONMENT } from '../config/errors.js';
import type { Logger } from '../log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
/** exact paths (the query string is not part of the match) */
export type Routes = ReadonlyMap<string, RouteHandler>;

export interface BoundAddress {
  host: string;
  port: number;
  /** `http://host:port`, IPv6 in brackets */
  url: string;
}

/*
 * GitHub gives up on a delivery after 10 s (30 s on GHES): a request that takes longer is a slow
 * client holding a socket, never a delivery worth waiting for.
 */
const REQUEST_TIMEOUT_MS = 15_000;
const HEADERS_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 64;

export function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

export class HttpListener {
  private readonly server: Server;
  private bound: BoundAddress | undefined;

  constructor(private readonly routes: Routes, private readonly log: Logger) {
    this.server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS }, (req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 5_000;
    // each open request may hold up to a body's worth of memory: GitHub needs a handful at once
    this.server.maxConnections = MAX_CONNECTIONS;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = this.routes.get(path);
    if (!handler) {
      req.resume();
      send(res, 404, `no such path; this listener serves ${[...this.routes.keys()].join(', ')}`);
      return;
    }
    try {
      await handler(req, res);
    } catch (e) {
      this.log.error(`http: ${req.method} ${path} failed: ${(e as Error).message}`);
      send(res, 500, 'internal error');
    }
  }

  /**
   * Binds `host:port` (port 0: any free port). A bind that fails is a configuration problem of the
   * variable that named the address (exit 78): a port in use or not ours to take does not free
   * itself on restart.
   */
  async start(host: string, port: number, variable: { name: string; example: string } = { name: 'WEBHOOK_LISTEN', example: '0.0.0.0:8080' }): Promise<BoundAddress> {
    await new Promise<void>((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException) => {
        this.server.off('listening', ok);
        const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : e.message;
        reject(new ConfigError([{ file: ENVIRONMENT, path: variable.name, message: `cannot listen on ${shown}: ${why}`, fix: `set ${variable.name} to an address of this host and a free port of 1024 or above, e.g. ${variable.example}` }]));
      };
      const ok = () => {
        this.server.off('error', failed);
        resolve();
      };
      this.server.once('error', failed);
      this.server.once('listening', ok);
      this.server.listen(port, host);
    });
    const a: AddressInfo | string | null = this.server.address();
    if (a === null || typeof a === 'string') throw new Error(`the HTTP listener bound to ${String(a)}, not an IP address`);
    const shownHost = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.bound = { host: a.address, port: a.port, url: `http://${shownHost}:${a.port}` };
    this.server.on('error', (e) => this.log.error(`http listener: ${e.message}`));
    return this.bound;
  }

  /** Where it listens (after start). */
  address(): BoundAddress {
    if (!this.bound) throw new Error('the HTTP listener has not been started');
    return this.bound;
  }

  /** Stops accepting and drops open connections: a webhook sender retries nothing, polling covers it. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
