/**
 * Who a request authenticates as. Two kinds of route, as on GitHub:
 * - App routes (`/app/...`) take only a JWT of the App; anything else is 401 "A JSON web token could
 *   not be decoded" (also when the scenario has no App: then no JWT can be decoded).
 * - Every other route takes the simulator's static token or an unexpired installation token the
 *   App minted. A JWT there, an expired or unknown token, or none: 401 "Bad credentials" (what
 *   GitHub answers an App JWT on e.g. a repository endpoint).
 */
import type { IncomingMessage } from 'node:http';
import type { GithubApp } from '../app.js';
import { JWT_UNDECODABLE } from '../jwt.js';

export interface Caller {
  /** token: the static token (a PAT-like credential); installation: an App-minted token; app: the App's JWT */
  kind: 'token' | 'installation' | 'app';
  /** what the request presented (keys the ETags: GitHub varies them by Authorization) */
  credential: string;
  /**
   * Whose secondary limits the request spends (secondary-limit.ts): the static token; the App's
   * installation, all its tokens together (as its primary limit is the installation's, so minting
   * a new token does not start a fresh minute); the App itself for its JWTs.
   */
  limits: string;
}

export type AuthResult = { caller: Caller } | { message: string };

export class Authenticator {
  constructor(private readonly staticToken: string, readonly app: GithubApp | undefined) {}

  authenticate(req: IncomingMessage, appRoute: boolean): AuthResult {
    const credential = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (appRoute) {
      if (credential === undefined || !this.app) return { message: JWT_UNDECODABLE };
      const problem = this.app.jwtProblem(credential);
      return problem === undefined ? { caller: { kind: 'app', credential, limits: `app ${this.app.id}` } } : { message: problem };
    }
    if (credential === undefined) return { message: 'Bad credentials' };
    if (credential === this.staticToken) return { caller: { kind: 'token', credential, limits: 'token' } };
    if (this.app?.accepts(credential)) return { caller: { kind: 'installation', credential, limits: `installation ${this.app.installationId}` } };
    return { message: 'Bad credentials' };
  }
}
