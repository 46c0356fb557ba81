import { GithubBackoffError } from '../github/rate-gate.js';

/** A GitHub rate limit (primary or secondary) holds every call until `resetAt` (epoch ms). */
export class RateLimitedError extends Error {
  constructor(readonly resetAt: number) {
    super(`GitHub rate limit: no GitHub request before ${new Date(resetAt).toISOString()}`);
    this.name = 'RateLimitedError';
  }
}

/**
 * Recognises a GitHub client held by a rate limit (primary or secondary, see github/rate-gate.ts),
 * or Octokit's own error for an exhausted primary limit (403/429 with x-ratelimit-remaining 0).
 */
export function asRateLimited(e: unknown, now: number): RateLimitedError | undefined {
  if (e instanceof RateLimitedError) return e;
  if (e instanceof GithubBackoffError) return new RateLimitedError(e.resumeAt);
  const err = e as { status?: number; response?: { headers?: Record<string, string | undefined> } };
  if (err.status !== 403 && err.status !== 429) return undefined;
  const h = err.response?.headers ?? {};
  if (h['x-ratelimit-remaining'] !== '0') return undefined;
  const reset = Number(h['x-ratelimit-reset']);
  return new RateLimitedError(Number.isFinite(reset) ? reset * 1000 : now + 60_000);
}
