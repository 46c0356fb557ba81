import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import Bottleneck from 'bottleneck';
import type { Logger } from '../log.js';

export type GithubAuth =
  | { kind: 'token'; token: string }
  | { kind: 'app'; appId: string; privateKey: string; installationId: string };

export interface OctokitOptions {
  apiUrl: string;
  auth: GithubAuth;
  log: Logger;
  /** Divides every wait (write spacing, retry-after): the demo runs the daemon faster than real time. */
  timeScale?: number;
  /** Most retries after a secondary limit before the call fails and the tick moves on. */
  maxSecondaryRetries?: number;
  /** Deadline of one HTTP request (default 30 s). */
  requestTimeoutMs?: number;
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);
export type GithubClient = InstanceType<typeof ThrottledOctokit>;

/** Conditional-request cache entries kept (least recently used go first): runs and their job lists come and go. */
const MAX_CACHED = 5000;

/** Responses served from the ETag cache (a 304 turned back into the response it confirmed). */
const fromCache = new WeakSet<object>();

export function isFromCache(response: object): boolean {
  return fromCache.has(response);
}

/**
 * Octokit with throttling (primary and secondary limits), retries of 5xx, and a conditional-request
 * cache: every GET carries If-None-Match with the last ETag, and a 304 (which costs no rate limit)
 * is answered from the cache. Octokit has no ETag cache of its own.
 */
export function createGithubClient(o: OctokitOptions): GithubClient {
  const scale = o.timeScale ?? 1;
  const maxSecondary = o.maxSecondaryRetries ?? 2;
  const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
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
    throttle: {
      retryAfterBaseValue: 1000 / scale,
      // GitHub asks for at least a second between mutating requests; one at a time.
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 1000 / scale }),
      onRateLimit: (retryAfter, options) => {
        // Waiting out a primary limit inside a tick would stall everything: fail the call, and let
        // the loop back off until the reset.
        o.log.warn(`github: primary rate limit exhausted (${options.method} ${options.url}); resets in ${retryAfter}s`);
        return false;
      },
      onSecondaryRateLimit: (retryAfter, options, _octokit, retryCount) => {
        const retrying = retryCount < maxSecondary;
        o.log.warn(`github: secondary rate limit on ${options.method} ${options.url}; ${retrying ? `retrying in ${retryAfter}s` : 'giving up for this tick'}`);
        return retrying;
      },
    },
    retry: { retries: 2, retryAfterBaseValue: 1000 / scale },
  });

  // Octokit's paginate rewrites response.data in place, so the cache keeps its own copy and hands
  // out a fresh one for every 304.
  const cache = new Map<string, { etag: string; status: number; url: string; headers: object; data: unknown }>();
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
        cache.set(key, { etag, status: response.status, url: response.url, headers: { ...response.headers }, data: structuredClone(response.data) });
        if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
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
  return octokit;
}
