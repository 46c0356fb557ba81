/** GitHub's primary rate limit is spent: no call can succeed before `resetAt` (epoch ms). */
export class RateLimitedError extends Error {
  constructor(readonly resetAt: number) {
    super(`GitHub rate limit exhausted until ${new Date(resetAt).toISOString()}`);
    this.name = 'RateLimitedError';
  }
}

/** Recognises Octokit's error for an exhausted primary limit (403/429 with x-ratelimit-remaining 0). */
export function asRateLimited(e: unknown, now: number): RateLimitedError | undefined {
  if (e instanceof RateLimitedError) return e;
  const err = e as { status?: number; response?: { headers?: Record<string, string | undefined> } };
  if (err.status !== 403 && err.status !== 429) return undefined;
  const h = err.response?.headers ?? {};
  if (h['x-ratelimit-remaining'] !== '0') return undefined;
  const reset = Number(h['x-ratelimit-reset']);
  return new RateLimitedError(Number.isFinite(reset) ? reset * 1000 : now + 60_000);
}
