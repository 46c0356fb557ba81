/**
 * The App JWT check GitHub makes at the App endpoints: an RS256 compact JWS signed with the App's
 * key, `iss` the App ID (number or numeric string) or client ID, `iat`/`exp` judged against the
 * server's clock. None of our dependencies verifies JWTs (@octokit/auth-app only signs), and RS256
 * is one node:crypto call, so it is checked here.
 *
 * Messages are GitHub's own (auth-app matches the time ones to retry with the server's `date`).
 * Time rules, from GitHub's docs ("exp: no more than 10 minutes into the future"; "set iat 60
 * seconds in the past to protect against clock drift"): exp must be in the future and at most
 * 600 s ahead, with no leeway (clients a second fast see "too far in the future"); iat may be up
 * to 60 s ahead. `exp − iat` itself is not limited: GitHub's own example signs iat = now − 60,
 * exp = now + 600.
 */
import { verify, type KeyObject } from 'node:crypto';

export const JWT_UNDECODABLE = 'A JSON web token could not be decoded';
export const JWT_EXPIRED = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
export const JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future";
export const JWT_BAD_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

const MAX_LIFE_S = 600;
const IAT_DRIFT_S = 60;

export interface JwtIssuer {
  id: number;
  clientId: string;
  publicKey: KeyObject;
}

/** A token shaped like a JWT (three base64url parts): GitHub tells these apart from OAuth-style tokens. */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
}

/** undefined when the JWT is accepted at `nowS` (epoch seconds); else GitHub's 401 message. */
export function jwtProblem(token: string, app: JwtIssuer, nowS: number): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return JWT_UNDECODABLE;
  const [h = '', p = '', s = ''] = parts;
  const header = json(h);
  const payload = json(p);
  if (!header || !payload || header.alg !== 'RS256') return JWT_UNDECODABLE;
  // The key is looked up by iss, so a JWT naming another App cannot be verified at all.
  const iss = payload.iss;
  const ours = iss === app.id || iss === String(app.id) || iss === app.clientId;
  if (!ours || !verify('RSA-SHA256', Buffer.from(`${h}.${p}`), app.publicKey, Buffer.from(s, 'base64url'))) return JWT_UNDECODABLE;
  const { iat, exp } = payload;
  if (typeof exp !== 'number' || exp <= nowS) return JWT_EXPIRED;
  if (exp > nowS + MAX_LIFE_S) return JWT_TOO_LONG;
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > nowS + IAT_DRIFT_S) return JWT_BAD_IAT;
  return undefined;
}

function json(part: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
