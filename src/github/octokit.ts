import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import Bottleneck from 'bottleneck';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { MAX_CONCURRENT_REQUESTS, requestPoints } from './budget.js';
import { shortGithubError } from './error-text.js';
import { RateLimitGate } from './rate-gate.js';

export type GithubAuth =
  | { kind: 'token'; token: string }
  | { kind: 'app'; appId: string; privateKey: string; installationId: string };

export interface OctokitOptions {
  apiUrl: string;
  auth: GithubAuth;
  log: Logger;
  /** Divides every wait (write spacing, retry-after): the demo runs the daemon faster than real time. */
  timeScale?: number;
  /** Time for the rate-limit gate (waits GitHub asked for); the system clock by default. */
  clock?: Clock;
  /** Deadline of one HTTP request (default 30 s). */
  requestTimeoutMs?: number;
  /** told of every call (after retries): method, endpoint template (`/repos/{owner}/{repo}/…`), status ('error': no answer) */
  onRequest?: (method: string, endpoint: string, status: number | 'error') => void;
  /** Conditional-request cache entries kept at least (default 5,000); sizeCacheFor grows it. */
  minCacheEntries?: number;
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);
export type GithubClient = InstanceType<typeof ThrottledOctokit>;

/**
 * Conditional-request cache entries kept (least recently used go first): runs and their job lists
 * come and go. At least this many, and more for many repositories (sizeCacheFor): a tick lists
 * three per repository (queued runs, runs in progress, runners), and an LRU smaller than what is
 * listed in turn evicts each entry just before it is asked again — it never hits.
 */
const MIN_CACHED = 5000;
/** listings per repository (queued runs, runs in progress, runners) and one to spare */
const ENTRIES_PER_REPO = 4;
/** job lists of runs that may be queued or in progress at once, beyond the repositories' */
const RUN_ENTRIES = 2000;

const capacities = new WeakMap<object, { entries: number; min: number }>();

/** Sizes the client's conditional-request cache so that `repos` repositories polled in turn keep hitting it. */
export function sizeCacheFor(client: object, repos: number): void {
  const c = capacities.get(client);
  if (c) c.entries = Math.max(c.min, repos * ENTRIES_PER_REPO + RUN_ENTRIES);
}

export function cacheCapacity(client: object): number {
  return capacities.get(client)?.entries ?? MIN_CACHED;
}

/** Responses served from the ETag cache (a 304 turned back into the response it confirmed). */
const fromCache = new WeakSet<object>();

export function isFromCache(response: object): boolean {
  return fromCache.has(response);
}

/** Secondary-limit points of every HTTP request each client sent (retries and 304s included). */
const sentPoints = new WeakMap<object, { points: number }>();

export function pointsSent(client: object): number {
  return sentPoints.get(client)?.points ?? 0;
}

/**
 * Octokit with throttling (primary and secondary limits), retries of 5xx, and a conditional-request
 * cache: every GET carries If-None-Match with the last ETag, and a 304 (which costs no rate limit)
 * is answered from the cache. Octokit has no ETag cache of its own.
 */
export function createGithubClient(o: OctokitOptions): GithubClient {
  const scale = o.timeScale ?? 1;
  const gate = new RateLimitGate(o.clock ?? systemClock, o.log, scale);
  const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
  const sent = { points: 0 };
  // The plugin takes `global` too (it assigns these options over its state), though its types do
  // not say so: declared apart, so that the literal is not checked against them for extra keys.
  const throttle = {
    retryAfterBaseValue: 1000 / scale,
    // GitHub asks for at least a second between mutating requests; one at a time.
    write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 1000 / scale }),
    // Every request of this client at once, at most (the plugin's default is 10, which made a
    // tick of hundreds of reads wait on latency): below GitHub's 100, with room for a `check`
    // using the same credentials.
    global: new Bottleneck.Group({ maxConcurrent: MAX_CONCURRENT_REQUESTS * 0.8 }),
    // Neither limit is waited out inside a call: the gate (rate-gate.ts) fails it and holds every
    // request until the time GitHub's docs say, and the loop backs off until then.
    onRateLimit: () => false,
    onSecondaryRateLimit: () => false,
  };
  const octokit = new ThrottledOctokit({
    baseUrl: o.apiUrl.replace(/\/+$/, ''),
    userAgent: 'pve-runners',
    ...(o.auth.kind === 'token'
      ? { auth: o.auth.token }
      : { authStrategy: createAppAuth, auth: { appId: o.auth.appId, privateKey: o.auth.privateKey, installationId: o.auth.installationId } }),
    headers: { 'x-github-api-version': '2022-11-28' },
    // fetch has no deadline of its own: a stalled connection must not hold a tick for minutes. Set
    // at the fetch itself, so time spent queued by the throttling plugin does not count.
    request: {
      fetch: (url: string, init: RequestInit = {}) => {
        sent.points += requestPoints(init.method ?? 'GET');
        const deadline = AbortSignal.timeout(requestTimeoutMs);
        return fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
      },
    },
    log: {
      debug: () => {},
      info: () => {},
      warn: (msg: string) => o.log.warn(`github: ${msg}`),
      // Octokit's request log reports every non-2xx answer here, 304s and the 422 of a busy runner
      // included; the daemon logs what each failure means where it handles it.
      error: (msg: string) => o.log.debug(`github: ${msg}`),
    },
    throttle,
    // 5xx are retried (after 1 s and 4 s); a 429 is a rate limit, for the gate, never retried early.
    retry: { retries: 2, retryAfterBaseValue: 1000 / scale, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
  });

  sentPoints.set(octokit, sent);
  // Innermost of ours: a 304 the cache answers is still counted as the 304 GitHub sent.
  const told = o.onRequest;
  if (told) {
    octokit.hook.wrap('request', async (request, options) => {
      const endpoint = options.url.startsWith('/') ? options.url.split('?')[0]! : pageTemplate(options.url);
      try {
        const r = await request(options);
        told(options.method, endpoint, r.status);
        return r;
      } catch (e) {
        const status = (e as { status?: unknown }).status;
        told(options.method, endpoint, typeof status === 'number' && status > 0 ? status : 'error');
        throw e;
      }
    });
  }
  const capacity = { entries: o.minCacheEntries ?? MIN_CACHED, min: o.minCacheEntries ?? MIN_CACHED };
  capacities.set(octokit, capacity);
  // Octokit's paginate rewrites response.data in place, so the cache keeps its own copy and hands
  // out a fresh one for every 304. Of the headers only what a reader of a 304 needs is kept (the
  // pages' `link`); the rate-limit ones come fresh with the 304.
  const cache = new Map<string, { etag: string; status: number; url: string; headers: Record<string, string>; data: unknown }>();
  octokit.hook.wrap('request', async (request, options) => {
    if (options.method !== 'GET') return request(options);
    const { headers: _h, request: _r, ...rest } = options as unknown as Record<string, unknown>;
    const key = JSON.stringify(rest);
    const cached = cache.get(key);
    if (cached) options.headers = { ...options.headers, 'if-none-match': cached.etag };
    try {
      const response = await request(options);
      const etag = response.headers.etag;
      if (etag) {
        cache.delete(key); // re-inserted last: the Map's order is least recently used first
        const link = response.headers.link;
        cache.set(key, { etag, status: response.status, url: response.url, headers: { etag, ...(link ? { link } : {}) }, data: structuredClone(response.data) });
        while (cache.size > capacity.entries) cache.delete(cache.keys().next().value!);
      }
      return response;
    } catch (e) {
      if (cached && (e as { status?: number }).status === 304) {
        cache.delete(key);
        cache.set(key, cached);
        // the 304's own rate-limit headers are the current ones
        const fresh = Object.fromEntries(Object.entries((e as { response?: { headers?: Record<string, string> } }).response?.headers ?? {}).filter(([h]) => h.startsWith('x-ratelimit-')));
        const copy = { status: cached.status, url: cached.url, headers: { ...cached.headers, ...fresh }, data: structuredClone(cached.data) };
        fromCache.add(copy);
        return copy as Awaited<ReturnType<typeof request>>;
      }
      throw e;
    }
  });
  // Outermost (registered last): sees each call once, after the plugins' retries.
  octokit.hook.wrap('request', async (request, options) => {
    const path = decodeURI(new URL(options.url, 'http://github.invalid').pathname);
    gate.admit(options.method, path);
    try {
      const response = await request(options);
      gate.succeeded();
      return response;
    } catch (e) {
      const limited = gate.limited(e as object, options.method, path);
      if (limited) throw limited;
      const short = shortGithubError(e as object, options.method, path);
      if (short !== undefined && e instanceof Error) e.message = short;
      throw e;
    }
  });
  return octokit;
}

/**
 * A next page's absolute URL (from the Link header) as the template of its first page: names and
 * ids are data, not label values.
 */
function pageTemplate(url: string): string {
  const path = new URL(url).pathname.replace(/^\/api\/v3(?=\/)/, '');
  return path
    .replace(/^\/repos\/[^/]+\/[^/]+/, '/repos/{owner}/{repo}')
    .replace(/^\/orgs\/[^/]+/, '/orgs/{org}')
    .replace(/\/\d+(?=\/|$)/g, '/{id}');
}
