/**
 * The scenario's GitHub App: its RSA key (made at start, as GitHub makes one when you ask for a
 * private key), the JWT check of its endpoints, and the installation tokens it mints.
 *
 * Times here are real wall-clock time, not scenario time: the client signs `iat`/`exp` with its own
 * clock and keeps a token until its own clock says it expired (@octokit/auth-app caches one for 59
 * minutes whatever the simulator's speed), exactly as it reads x-ratelimit-reset.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { SimClock } from '../clock.js';
import type { ScenarioGithubApp } from '../scenario.js';
import type { Ids } from './ids.js';
import { jwtProblem } from './jwt.js';

export interface InstallationToken {
  token: string;
  /** real epoch ms */
  expiresAtMs: number;
}

export class GithubApp {
  readonly id: number;
  readonly clientId: string;
  readonly installationId: number;
  /** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), the format GitHub's download has. */
  readonly privateKey: string;
  private readonly publicKey: KeyObject;
  private readonly tokens = new Map<string, InstallationToken>();

  constructor(
    private readonly cfg: ScenarioGithubApp,
    private readonly ids: Ids,
    private readonly clock: SimClock,
    /** called with every credential this App accepts or hands out, for the leak checks */
    private readonly issued: (secret: string) => void,
  ) {
    this.id = cfg.id;
    this.clientId = cfg.clientId ?? ids.appClientId();
    this.installationId = cfg.installationId;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    this.publicKey = createPublicKey(privateKey);
  }

  /** Real epoch ms now, through the scenario clock (which knows where real time began). */
  wallNowMs(): number {
    return this.clock.wallEpochAt(this.clock.nowMs());
  }

  /** undefined when `jwt` authenticates as this App now; else GitHub's 401 message. */
  jwtProblem(jwt: string): string | undefined {
    const problem = jwtProblem(jwt, { id: this.id, clientId: this.clientId, publicKey: this.publicKey }, Math.floor(this.wallNowMs() / 1000));
    if (problem === undefined) this.issued(jwt);
    return problem;
  }

  mint(): InstallationToken {
    const t: InstallationToken = { token: this.ids.installationToken(), expiresAtMs: this.wallNowMs() + this.cfg.tokenTtlMs };
    this.tokens.set(t.token, t);
    this.issued(t.token);
    return t;
  }

  /** A token this App minted that has not expired. */
  accepts(token: string): boolean {
    const t = this.tokens.get(token);
    return t !== undefined && this.wallNowMs() < t.expiresAtMs;
  }
}
