/**
 * GitHub's secondary rate limits, per credential (docs.github.com "Rate limits for the REST API",
 * "About secondary rate limits" and "Calculating points for the secondary rate limit"; reference/apis.md §7):
 *   - points: no more than `points_per_minute` (GitHub: 900 for REST) in any 60 scenario seconds;
 *     GET, HEAD and OPTIONS cost 1, POST, PATCH, PUT and DELETE 5. Every request pays, conditional
 *     requests answered 304 and endpoints free against the primary limit included: the docs free a
 *     304 from the *primary* limit only ("Best practices for using the REST API"), and say of
 *     `GET /rate_limit` that it does not count against the primary limit "but it can count against
 *     your secondary rate limit". The window slides (see `Spent`): a fixed minute would let twice the
 *     limit through across its boundary, so a client that stays inside a sliding minute stays inside
 *     any window GitHub may use.
 *   - concurrency: no more than `concurrency` (GitHub: 100) requests in flight; the next is refused.
 *     A request is in flight from its arrival until its answer is written, latency included.
 *   - faults.secondary_rate_limit_rate: GitHub also limits "for undisclosed reasons"; that chance is
 *     kept, drawn per request as before.
 * Whatever trips it, a block begins: every request of that credential is refused for `block` (60 s,
 * GitHub's usual retry-after and the minute its docs say to wait without one). Each block picks one
 * status (`secondary_rate_limit_statuses`) and whether it states retry-after
 * (`secondary_rate_limit_no_retry_after_rate`) and keeps them. `retry-after` is in scenario seconds,
 * like every time the simulated API states, so a client at --speed N waits retry-after/N real seconds.
 *
 * The penalty: "Continuing to make requests while you are rate limited may result in the banning of
 * your integration" (same page, "Exceeding the rate limit"). Each request made during a block is
 * refused and moves its end to a full `block` after that request — a client that keeps asking is
 * never let back in until it has been quiet a whole block — up to `max_block` after the block began
 * (the docs name no length; a ban is not modelled). A client that waits what retry-after says, or a
 * minute without it, is never penalised. The last `GRACE_REAL_MS` of real time before a block ends
 * refuse without penalty: a client's real-time wait and this scenario clock are two frames, and at
 * --speed N one real millisecond of difference is N scenario ones.
 *
 * Requests without a valid credential (401) belong to no window: GitHub limits those per IP.
 */
import type { SimClock } from '../../clock.js';
import type { Rng } from '../../rng.js';
import type { Scenario } from '../../scenario.js';

export const MINUTE_MS = 60_000;
const GRACE_REAL_MS = 50;

export type SecondaryCause = 'points' | 'concurrency' | 'fault' | 'blocked';

export interface SecondaryRefusal {
  status: 403 | 429;
  /** seconds left, when the answer states them */
  retryAfter?: number;
  cause: SecondaryCause;
}

/** A request let in or refused at arrival; `release` when its answer is written. */
export interface Arrival {
  refusal?: SecondaryRefusal;
  release(): void;
}

/** Secondary-limit points of one REST request. */
export function requestPoints(method: string): number {
  const m = method.toUpperCase();
  return m === 'GET' || m === 'HEAD' || m === 'OPTIONS' ? 1 : 5;
}

/** Points let in over the last minute, oldest first; bounded by points_per_minute entries. */
class Spent {
  private at: number[] = [];
  private points: number[] = [];
  private head = 0;
  sum = 0;

  /** Drops what is a minute old: the window holds requests at times in (now − 60 s, now]. */
  expire(now: number): void {
    while (this.head < this.at.length && this.at[this.head]! <= now - MINUTE_MS) {
      this.sum -= this.points[this.head]!;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.at.length) {
      this.at = this.at.slice(this.head);
      this.points = this.points.slice(this.head);
      this.head = 0;
    }
  }

  add(now: number, points: number): void {
    this.at.push(now);
    this.points.push(points);
    this.sum += points;
  }
}

interface Block {
  startMs: number;
  endMs: number;
  status: 403 | 429;
  retryAfter: boolean;
}

interface CredentialState {
  spent: Spent;
  inFlight: number;
  block?: Block;
}

/** The highest a credential reached over the run (for the report: how close to the limits). */
export interface SecondaryPeaks {
  peakPointsPerMinute: number;
  peakInFlight: number;
}

export class SecondaryLimit {
  private readonly credentials = new Map<string, CredentialState>();

  constructor(
    private readonly clock: SimClock,
    private readonly cfg: Scenario['github']['secondaryLimit'],
    private readonly shapes: Scenario['github']['errorShapes'],
    private readonly rng: Rng,
    private readonly peaks: SecondaryPeaks,
    /** told when a block begins (the recorder's events) */
    private readonly onBlock: (key: string, cause: SecondaryCause) => void = () => {},
  ) {}

  /** A request of credential `key` arrives: it holds a slot until released, and is let in or refused. */
  arrive(key: string, method: string): Arrival {
    const s = this.state(key);
    const now = this.clock.nowMs();
    const before = s.inFlight;
    s.inFlight++;
    this.peaks.peakInFlight = Math.max(this.peaks.peakInFlight, s.inFlight);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      s.inFlight--;
    };
    return { refusal: this.judge(key, s, now, before, requestPoints(method)), release };
  }

  /** The fault: a request let in at arrival trips a block anyway when `tripped()` says so. */
  fault(key: string, tripped: () => boolean): SecondaryRefusal | undefined {
    if (!tripped()) return undefined;
    const s = this.state(key);
    return this.begin(key, s, this.clock.nowMs(), 'fault');
  }

  /** Requests of `key` in flight now (tests wait on it to know their requests arrived). */
  inFlight(key: string): number {
    return this.credentials.get(key)?.inFlight ?? 0;
  }

  private judge(key: string, s: CredentialState, now: number, inFlightBefore: number, points: number): SecondaryRefusal | undefined {
    const b = s.block;
    if (b && now < b.endMs) {
      if (now < b.endMs - GRACE_REAL_MS * this.clock.speed) b.endMs = Math.max(b.endMs, Math.min(now + this.cfg.blockMs, b.startMs + this.cfg.maxBlockMs));
      return this.refusal(b, now, 'blocked');
    }
    if (inFlightBefore >= this.cfg.concurrency) return this.begin(key, s, now, 'concurrency');
    s.spent.expire(now);
    if (s.spent.sum + points > this.cfg.pointsPerMinute) return this.begin(key, s, now, 'points');
    s.spent.add(now, points);
    this.peaks.peakPointsPerMinute = Math.max(this.peaks.peakPointsPerMinute, s.spent.sum);
    return undefined;
  }

  private begin(key: string, s: CredentialState, now: number, cause: SecondaryCause): SecondaryRefusal {
    const statuses = this.shapes.secondaryStatuses;
    const status = statuses[this.rng.int(0, statuses.length - 1)]!;
    const block: Block = { startMs: now, endMs: now + this.cfg.blockMs, status, retryAfter: !this.rng.chance(this.shapes.secondaryNoRetryAfterRate) };
    s.block = block;
    this.onBlock(key, cause);
    return this.refusal(block, now, cause);
  }

  private refusal(b: Block, now: number, cause: SecondaryCause): SecondaryRefusal {
    const left = Math.max(1, Math.ceil((b.endMs - now) / 1000));
    return b.retryAfter ? { status: b.status, retryAfter: left, cause } : { status: b.status, cause };
  }

  private state(key: string): CredentialState {
    let s = this.credentials.get(key);
    if (!s) {
      s = { spent: new Spent(), inFlight: 0 };
      this.credentials.set(key, s);
    }
    return s;
  }
}
