/**
 * What GitHub's docs ask of a client that is rate limited ("Rate limits for the REST API",
 * "Exceeding the rate limit"): a primary or secondary limit is answered 403 or 429. Then
 *   1. with `retry-after`, send nothing before that many seconds have passed;
 *   2. else, with `x-ratelimit-remaining: 0`, nothing before `x-ratelimit-reset` (epoch seconds);
 *   3. else wait at least a minute, and longer (exponentially) while the limit keeps answering.
 * The gate holds every request of the client until then and refuses it locally with a
 * GithubBackoffError, so no call, however far from the one that was answered, goes out early.
 *
 * @octokit/plugin-throttling is not enough on its own: it waits `retry-after` or a fixed 60 s even
 * when only `x-ratelimit-reset` is given (case 2), never grows the wait (case 3), and treats a 429
 * without the "secondary rate" text only as a primary limit when remaining is 0; @octokit/plugin-retry
 * retries any other 429 after 1 s and 4 s.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

const MINUTE = 60_000;
const MAX_WAIT = 16 * MINUTE;

/** A request GitHub asked us not to send yet, or the answer that asked. `resumeAt` is epoch ms. */
export class GithubBackoffError extends Error {
  constructor(message: string, readonly resumeAt: number, readonly status?: number, readonly response?: { headers: Record<string, string | undefined> }) {
    super(message);
    this.name = 'GithubBackoffError';
  }
}

interface AnsweredError {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, string | number | undefined> };
}

const header = (e: AnsweredError, name: string): string | undefined => {
  const v = e.response?.headers?.[name];
  return v === undefined ? undefined : String(v);
};

export class RateLimitGate {
  private resumeAt = 0;
  /** rate-limit answers in a row without a success in between (for case 3's growth) */
  private strikes = 0;

  /** `scale` divides retry-after and the minute of case 3 (the demo's faster clock), not the reset epoch. */
  constructor(private readonly clock: Clock, private readonly log: Logger, private readonly scale = 1) {}

  /** Throws if GitHub asked us to wait and the time has not come. */
  admit(method: string, path: string): void {
    const now = this.clock.now();
    if (now < this.resumeAt) {
      throw new GithubBackoffError(`GitHub rate limit: ${method} ${path} not sent, waiting ${Math.ceil((this.resumeAt - now) / 1000)}s more as GitHub asked`, this.resumeAt);
    }
  }

  succeeded(): void {
    this.strikes = 0;
  }

  /** For a rate-limit answer: holds the client as the docs say and returns the error to throw instead. */
  limited(e: AnsweredError, method: string, path: string): GithubBackoffError | undefined {
    const status = typeof e.status === 'number' ? e.status : undefined;
    if (status !== 403 && status !== 429) return undefined;
    const remaining = header(e, 'x-ratelimit-remaining');
    const secondary = /\bsecondary rate\b/i.test(String(e.message ?? ''));
    // A 403 is a rate limit only when it says so; GitHub uses 429 for nothing else.
    if (status === 403 && !secondary && remaining !== '0') return undefined;
    const now = this.clock.now();
    this.strikes++;
    const retryAfter = Number(header(e, 'retry-after'));
    const reset = Number(header(e, 'x-ratelimit-reset'));
    let wait: number;
    let why: string;
    if (header(e, 'retry-after') !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) {
      wait = (retryAfter * 1000) / this.scale;
      why = `retry-after ${retryAfter}s`;
    } else if (remaining === '0' && Number.isFinite(reset)) {
      wait = Math.max(0, reset * 1000 - now) + 1000;
      why = `until x-ratelimit-reset ${new Date(reset * 1000).toISOString()}`;
    } else {
      wait = Math.min(MINUTE * 2 ** (this.strikes - 1), MAX_WAIT) / this.scale;
      why = `no retry-after: ${this.strikes > 1 ? `back-off #${this.strikes}` : 'at least a minute'}`;
    }
    this.resumeAt = Math.max(this.resumeAt, now + wait);
    const kind = secondary || remaining !== '0' ? 'secondary' : 'primary';
    const message = `GitHub ${kind} rate limit (${status} on ${method} ${path}, ${why}): no GitHub request for ${Math.ceil((this.resumeAt - now) / 1000)}s`;
    this.log.warn(`github: ${message}`);
    const headers = Object.fromEntries(Object.entries(e.response?.headers ?? {}).map(([k, v]) => [k, v === undefined ? undefined : String(v)]));
    return new GithubBackoffError(message, this.resumeAt, status, { headers });
  }
}
