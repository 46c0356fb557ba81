/**
 * Realistic-looking identifiers and secrets, all drawn from the scenario's seeded Rng so a scenario
 * replays identically. Run and job ids are 11-digit and increasing with gaps (other repositories
 * share GitHub's sequences); runner ids are small and dense, as on a real account.
 */
import type { Rng } from '../rng.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const UPPER_ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

class Sequence {
  constructor(private last: number, private readonly rng: Rng, private readonly maxGap: number) {}
  next(): number {
    this.last += this.rng.int(1, this.maxGap);
    return this.last;
  }
}

export class Ids {
  private readonly runs: Sequence;
  private readonly jobs: Sequence;
  private readonly runners: Sequence;
  private readonly checkSuites: Sequence;
  private readonly labels: Sequence;

  constructor(private readonly rng: Rng) {
    this.runs = new Sequence(rng.int(12_000_000_000, 19_000_000_000), rng, 40);
    this.jobs = new Sequence(rng.int(30_000_000_000, 60_000_000_000), rng, 9);
    this.runners = new Sequence(rng.int(20, 900), rng, 3);
    this.checkSuites = new Sequence(rng.int(25_000_000_000, 35_000_000_000), rng, 40);
    this.labels = new Sequence(rng.int(1, 50), rng, 2);
  }

  run(): number { return this.runs.next(); }
  job(): number { return this.jobs.next(); }
  runner(): number { return this.runners.next(); }
  checkSuite(): number { return this.checkSuites.next(); }
  label(): number { return this.labels.next(); }
  repo(): number { return this.rng.int(100_000_000, 999_999_999); }
  account(): number { return this.rng.int(1_000_000, 199_999_999); }
  workflow(): number { return this.rng.int(50_000_000, 199_999_999); }
  sha(): string { return this.rng.hex(40); }
  hex(len: number): string { return this.rng.hex(len); }
  uuid(): string { return this.rng.uuid(); }

  /** An installation access token (`ghs_` + 36 base62), the kind a GitHub App's daemon holds. */
  installationToken(): string {
    return `ghs_${this.chars(BASE62, 36)}`;
  }

  /** A GitHub App's client ID as GitHub now issues them (`Iv23li` + 14 base62). */
  appClientId(): string {
    return `Iv23li${this.chars(BASE62, 14)}`;
  }

  /** A runner registration token: 29 upper-case alphanumerics, as config.sh receives them. */
  registrationToken(): string {
    return this.chars(UPPER_ALNUM, 29);
  }

  /** Bytes-like base64 text (key material placeholders inside JIT configs). */
  base64(bytes: number): string {
    const buf = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) buf[i] = this.rng.int(0, 255);
    return buf.toString('base64');
  }

  private chars(alphabet: string, len: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[this.rng.int(0, alphabet.length - 1)];
    return s;
  }
}
