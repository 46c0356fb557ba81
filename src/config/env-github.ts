/**
 * GitHub's credentials from the environment: a token, or a GitHub App's three settings (never both),
 * each checked at start-up so a wrong one fails with its variable named, not at the first request.
 */
import { createPrivateKey } from 'node:crypto';
import type { EnvReader } from './env-reader.js';
import { readSecret, secretHowTo } from './env-secrets.js';
import { Secret } from './secret.js';

export type GithubAuth =
  | { readonly kind: 'token'; readonly token: Secret }
  | {
      readonly kind: 'app';
      /** Numeric App ID, or the App's client ID (`Iv…`), both of which @octokit/auth-app takes. */
      readonly appId: number | string;
      readonly privateKey: Secret;
      readonly installationId: number;
    };

export function githubAuth(r: EnvReader): GithubAuth | undefined {
  const token = readSecret(r, 'GITHUB_TOKEN');
  const appVars = ['GITHUB_APP_ID', 'GITHUB_APP_PRIVATE_KEY', 'GITHUB_APP_INSTALLATION_ID'] as const;
  const appIdRaw = r.raw('GITHUB_APP_ID');
  const installationId = r.int('GITHUB_APP_INSTALLATION_ID', 1, 'set GITHUB_APP_INSTALLATION_ID to the number at the end of the installation\'s settings URL');
  const privateKey = readSecret(r, 'GITHUB_APP_PRIVATE_KEY');
  const appGiven = { GITHUB_APP_ID: appIdRaw !== undefined, GITHUB_APP_PRIVATE_KEY: privateKey !== undefined, GITHUB_APP_INSTALLATION_ID: r.raw('GITHUB_APP_INSTALLATION_ID') !== undefined };
  const anyApp = appVars.some((v) => appGiven[v]);
  const authFix = `either set GITHUB_TOKEN (${secretHowTo('GITHUB_TOKEN').replace(/^set GITHUB_TOKEN, /, '')}) or set all of GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID`;

  if (token && anyApp) {
    r.problem('GITHUB_TOKEN', 'both a token and GitHub App settings are given, so which one to use is unclear', 'keep either GITHUB_TOKEN or the GITHUB_APP_* variables, not both');
    return undefined;
  }
  if (token) {
    if (/[\s\x00-\x1f\x7f]/.test(token.reveal())) {
      r.problem('GITHUB_TOKEN', `the token from ${token.source} contains whitespace or control characters`, 'use the token exactly as GitHub showed it (one line, no spaces)');
      return undefined;
    }
    return { kind: 'token', token };
  }
  if (!anyApp) {
    r.problem('GITHUB_TOKEN', 'no GitHub credentials are set', authFix);
    return undefined;
  }
  for (const v of appVars) {
    if (!appGiven[v]) r.problem(v, 'is not set, but other GITHUB_APP_* variables are', v === 'GITHUB_APP_PRIVATE_KEY' ? secretHowTo(v) : `set ${v} too, or drop the GITHUB_APP_* variables and use GITHUB_TOKEN`);
  }
  let appId: number | string | undefined;
  if (appIdRaw !== undefined) {
    if (/^\d+$/.test(appIdRaw) && Number(appIdRaw) > 0) appId = Number(appIdRaw);
    else if (/^Iv[0-9A-Za-z.]+$/.test(appIdRaw)) appId = appIdRaw;
    else r.problem('GITHUB_APP_ID', `'${appIdRaw}' is neither an App ID nor a client ID`, 'set GITHUB_APP_ID to the App ID (a number) or client ID (Iv…) from the App\'s settings page');
  }
  let key = privateKey;
  if (privateKey) {
    // Env files cannot hold newlines, so a PEM there usually arrives with literal "\n".
    const pem = privateKey.reveal().includes('\\n') && !privateKey.reveal().includes('\n') ? privateKey.reveal().replaceAll('\\n', '\n') : privateKey.reveal();
    try {
      createPrivateKey(pem);
      key = new Secret(pem, privateKey.source);
    } catch {
      r.problem('GITHUB_APP_PRIVATE_KEY', `the value from ${privateKey.source} is not a PEM private key`, 'use the .pem file downloaded from the App\'s settings page (its first line reads BEGIN RSA PRIVATE KEY between dashes), e.g. via GITHUB_APP_PRIVATE_KEY_FILE');
      key = undefined;
    }
  }
  if (appId === undefined || key === undefined || installationId === undefined) return undefined;
  return { kind: 'app', appId, privateKey: key, installationId };
}
