/**
 * The HTTP front of the simulated GitHub, served at the root of its URL as api.github.com is. Each
 * request goes through, in order: route match, auth (401, see auth.ts), the secondary limits judged at
 * arrival (points, concurrency, a running block: 403/429, see secondary-limit.ts), latency, the primary
 * limit (403 with `x-ratelimit-remaining: 0`), the secondary-limit fault, injected server errors (5xx),
 * the handler, and ETag revalidation (304, not counted against the primary limit). Every answer carries the rate-limit headers;
 * every request is recorded under its `METHOD /template` key.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimContext } from '../../contracts.js';
import type { GithubAccess } from '../../scenario.js';
import { Faults } from '../../faults.js';
import type { Rng } from '../../rng.js';
import type { AuthResult, Authenticator, Caller } from './auth.js';
import { ApiError, DOCS, errorBody, PRIMARY_DOCS, SECONDARY_DOCS } from './errors.js';
import { PrimaryRateLimit } from './rate-limit.js';
import type { Route } from './router.js';
import { Router } from './router.js';
import { serverError, type RawBody } from './error-pages.js';
import { SecondaryLimit, type SecondaryRefusal } from './secondary-limit.js';

interface Answer {
  status: number;
  body?: unknown;
  /** a body that is not JSON (an HTML error page, or nothing) */
  raw?: RawBody;
  headers?: Record<string, string>;
  counted: boolean;
  /** refused by a secondary limit */
  secondary?: boolean;
}

/** the listings the daemon learns of queued jobs from (a run's jobs, one job) */
const JOB_LISTINGS = new Set(['GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}']);

export class GithubHttp {
  private server: Server | undefined;
  private baseUrl = '';
  private readonly router: Router;
  private readonly faults: Faults;
  private readonly secondary: SecondaryLimit;
  private readonly shapeRng: Rng;

  constructor(
    private readonly ctx: SimContext,
    routes: Route[],
    private readonly auth: Authenticator,
    readonly primary: PrimaryRateLimit,
    private readonly rng: Rng,
    private readonly installationId: number,
  ) {
    this.router = new Router(routes);
    this.faults = new Faults(ctx.scenario.github.faults, rng.fork('faults'));
    // its own stream: choosing shapes does not shift which requests the faults hit
    this.shapeRng = rng.fork('error-shapes');
    this.secondary = new SecondaryLimit(ctx.clock, ctx.scenario.github.secondaryLimit, ctx.scenario.github.errorShapes, this.shapeRng, ctx.recorder.githubSecondary,
      (key, cause) => ctx.recorder.event(`secondary rate limit: ${key} blocked (${cause})`));
  }

  /** Requests of a credential (Caller.limits) in flight now. */
  inFlight(limits: string): number {
    return this.secondary.inFlight(limits);
  }

  get url(): string {
    return this.baseUrl;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.serve(req, res).catch((e: unknown) => {
        // A bug in the simulator, not a simulated fault: answer 500 and keep serving.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(errorBody(500, `simulator error: ${(e as Error).message}`, DOCS)));
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startMs = this.ctx.clock.nowMs();
    const raw = await readBody(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.baseUrl);
    const matched = this.router.match(method, url.pathname);
    const who = this.auth.authenticate(req, matched?.route.auth === 'app');
    // Judged on arrival, and in flight (a concurrency slot) until the answer is written.
    const arrival = 'caller' in who ? this.secondary.arrive(who.caller.limits, method) : undefined;
    try {
      await this.respond(req, res, { startMs, raw, method, url, matched, who, refusal: arrival?.refusal });
    } finally {
      arrival?.release();
    }
  }

  private async respond(req: IncomingMessage, res: ServerResponse, r: Arrived): Promise<void> {
    const { startMs, raw, method, url, matched } = r;
    const latency = this.ctx.scenario.github.timings.latencyMs;
    if (latency > 0) await this.ctx.clock.sleep(latency);
    const endpoint = matched?.endpoint ?? `${method} (no route)`;
    const answer = this.answer(req, r);
    const notModified = answer.status === 304;
    if (answer.counted) this.primary.consume();
    const rate = this.primary.state();
    const headers: Record<string, string> = {
      server: 'github.com',
      // App routes answer in the frame their JWT was judged in (auth-app corrects its clock by this).
      date: new Date(matched?.route.auth === 'app' && this.auth.app ? this.auth.app.wallNowMs() : this.ctx.clock.epochMs()).toUTCString(),
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': `${this.rng.hex(4)}:${this.rng.hex(6)}:${this.rng.hex(7)}:${this.rng.hex(7)}:${this.rng.hex(8)}`.toUpperCase(),
      'x-ratelimit-limit': String(rate.limit),
      'x-ratelimit-remaining': String(rate.remaining),
      'x-ratelimit-used': String(rate.used),
      'x-ratelimit-reset': String(rate.reset),
      'x-ratelimit-resource': 'core',
      vary: 'Accept, Authorization, Cookie, X-GitHub-OTP',
      ...answer.headers,
    };
    this.ctx.recorder.request({ side: 'github', endpoint, status: answer.status, countedAgainstRateLimit: answer.counted, notModified, target: `${method} ${url.pathname}${url.search}`, secondaryLimited: answer.secondary });
    this.timed(startMs, endpoint, raw, answer);
    if (method !== 'GET' && answer.status < 300 && this.faults.hit('lost_answer_rate', matched?.endpoint)) {
      // Done, but the client never hears of it: the connection drops before the answer.
      this.ctx.recorder.event(`answer lost: ${endpoint}`);
      res.destroy();
      return;
    }
    if (answer.raw) {
      const { contentType, text } = answer.raw;
      res.writeHead(answer.status, { ...headers, ...(contentType ? { 'content-type': contentType } : {}), 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    if (answer.body === undefined) {
      res.writeHead(answer.status, headers);
      res.end();
      return;
    }
    res.writeHead(answer.status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(answer.body));
  }

  /* What the pickup breakdown needs: when a jobs listing first showed a job, and how long a runner's JIT config took. */
  private timed(startMs: number, endpoint: string, raw: string, answer: Answer): void {
    if (answer.status === 200 && JOB_LISTINGS.has(endpoint)) {
      const body = answer.body as { jobs?: Array<{ id?: unknown }>; id?: unknown } | undefined;
      const ids = (body?.jobs ?? [body ?? {}]).map((j) => j.id).filter((id): id is number => typeof id === 'number');
      this.ctx.recorder.jobsListed(ids);
    }
    if (endpoint.endsWith('/actions/runners/generate-jitconfig')) {
      let name: unknown;
      try {
        name = (JSON.parse(raw) as { name?: unknown }).name;
      } catch {
        name = undefined;
      }
      if (typeof name === 'string') this.ctx.recorder.timeline.githubRequest(startMs, name);
    }
  }

  private answer(req: IncomingMessage, { method, url, raw, matched, who, refusal }: Arrived): Answer {
    const docs = matched?.route.docs ?? DOCS;
    const fail = (status: number, message: string, counted: boolean, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, d = docs): Answer =>
      ({ status, body: errorBody(status, message, d, extra), counted, headers });
    const limited = (refused: SecondaryRefusal): Answer => {
      const headers: Record<string, string> = refused.retryAfter !== undefined ? { 'retry-after': String(refused.retryAfter) } : {};
      return { ...fail(refused.status, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', false, {}, headers, SECONDARY_DOCS), secondary: true };
    };

    if ('message' in who) return fail(401, who.message, false, {}, {}, DOCS);
    const caller: Caller = who.caller;
    if (refusal !== undefined) return limited(refusal);
    const counted = matched?.route.counted !== false;
    if (counted) {
      if (this.primary.exhausted()) return fail(403, `API rate limit exceeded for installation ID ${this.installationId}.`, false, {}, {}, PRIMARY_DOCS);
      const refused = this.secondary.fault(caller.limits, () => this.faults.hit('secondary_rate_limit_rate', matched?.endpoint));
      if (refused !== undefined) return limited(refused);
      if (this.faults.hit('http_error_rate', matched?.endpoint)) {
        const kinds = this.ctx.scenario.github.errorShapes.httpErrorBodies;
        const kind = kinds[this.shapeRng.int(0, kinds.length - 1)]!;
        const err = serverError(kind, this.rng.chance(0.5));
        return err.raw ? { status: err.status, raw: err.raw, counted: true } : fail(err.status, 'Server Error', true, {}, {}, DOCS);
      }
    }
    if (!matched) return fail(404, 'Not Found', counted, {}, {}, DOCS);
    const needs = matched.route.needs;
    if (needs && caller.kind !== 'app' && !grants(this.ctx.scenario.github.permissions[needs.permission], needs.access)) {
      // GitHub's answer to a fine-grained token or App installation lacking the endpoint's permission.
      const by = caller.kind === 'installation' ? 'integration' : 'personal access token';
      return fail(403, `Resource not accessible by ${by}`, counted, {}, { 'x-accepted-github-permissions': `${needs.permission}=${needs.access}` });
    }

    let body: unknown = {};
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        return fail(400, 'Problems parsing JSON', counted);
      }
    }
    let result;
    try {
      result = matched.route.handle({ method, url, params: matched.params, body, caller });
    } catch (e) {
      if (e instanceof ApiError) return fail(e.status, e.message, counted, e.extra);
      throw e;
    }
    const headers: Record<string, string> = {};
    if (result.link) headers.link = result.link;
    // GitHub names what an endpoint accepts on every answer to a token or an installation, not only on 403s.
    if (needs && caller.kind !== 'app') headers['x-accepted-github-permissions'] = `${needs.permission}=${needs.access}`;
    if (method === 'GET' && result.status === 200) {
      const etag = `W/"${createHash('sha256').update(caller.credential).update('\0').update(JSON.stringify(result.body)).digest('hex')}"`;
      headers.etag = etag;
      headers['cache-control'] = 'private, max-age=60, s-maxage=60';
      const inm = req.headers['if-none-match'];
      if (inm !== undefined && inm.split(',').map((t) => t.trim()).includes(etag)) {
        // GitHub: a conditional request answered 304 does not count against the primary limit.
        return { status: 304, counted: false, headers };
      }
    }
    return { status: result.status, body: result.body, counted, headers };
  }
}

/** A request as it arrived: what the answer is decided from. */
interface Arrived {
  startMs: number;
  raw: string;
  method: string;
  url: URL;
  matched: ReturnType<Router['match']>;
  who: AuthResult;
  /** refused by a secondary limit at arrival */
  refusal?: SecondaryRefusal;
}

function grants(granted: GithubAccess, needed: 'read' | 'write'): boolean {
  return granted === 'write' || (granted === 'read' && needed === 'read');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
