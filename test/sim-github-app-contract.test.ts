/**
 * The simulated GitHub as a GitHub App sees it: POST /app/installations/{id}/access_tokens takes a
 * JWT signed with the App's key and answers with an installation token (validated against GitHub's
 * OpenAPI description); the token then authenticates every other endpoint, the JWT none of them;
 * bad, expired or foreign JWTs and unknown installations get GitHub's statuses and messages.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { GithubSim, type GithubAppCredentials } from '../src/sim/github/index.js';
import { OpenApiResponses } from './helpers/github-openapi.js';
import { githubContext, until, type SimOptions } from './helpers/github-sim.js';

const spec = new OpenApiResponses();
const ACCESS_TOKENS = '/app/installations/{installation_id}/access_tokens';

const GITHUB = `
github:
  repos: [acme/app]
  orgs: [{name: bigco, repos: [web]}]
  app: {id: 12345, installation_id: 678}
`;

interface Reply { status: number; body: any; headers: Headers } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(url: string, method: string, path: string, authorization: string | undefined, body?: unknown): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { accept: 'application/vnd.github+json', ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** An RS256 JWT as a GitHub App client signs one; `claims` overrides iat/exp/iss (seconds, real time). */
function jwt(key: KeyObject | string, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc(header)}.${enc({ iat: now - 30, exp: now + 570, ...claims })}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), typeof key === 'string' ? createPrivateKey(key) : key).toString('base64url')}`;
}

interface Running {
  sim: GithubSim;
  ctx: ReturnType<typeof githubContext>;
  url: string;
  token: string;
  app: GithubAppCredentials | undefined;
  stop(): Promise<void>;
}

async function startGithub(githubYaml: string, opts?: SimOptions): Promise<Running> {
  const ctx = githubContext(githubYaml, undefined, opts);
  const sim = new GithubSim(ctx);
  const { url, token, app } = await sim.start();
  return { sim, ctx, url, token, app, stop: async () => { await sim.stop(); ctx.clock.stop(); } };
}

let gh: Running;
let key: string;
const mint = (auth: string, installation = 678, body?: unknown) => call(gh.url, 'POST', `/app/installations/${installation}/access_tokens`, auth, body);

beforeAll(async () => {
  // Scenario epoch a year back: the App's checks must use real time, which is what clients sign with.
  gh = await startGithub(GITHUB, { startEpoch: Date.now() - 365 * 86_400_000 });
  key = gh.app!.privateKey;
});

afterAll(async () => {
  await gh.stop();
});

describe('simulated GitHub App: installation access tokens', () => {
  it('hands out the App\'s key as GitHub does (PKCS#1 PEM, RSA 2048) and its ids', () => {
    expect(gh.app).toMatchObject({ id: 12345, installationId: 678 });
    expect(gh.app!.clientId).toMatch(/^Iv23li[0-9A-Za-z]{14}$/);
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+\n-----END RSA PRIVATE KEY-----\n$/);
    expect(createPrivateKey(key).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('mints a token for a valid JWT: 201 with the installation-token schema, expiring in an hour of real time', async () => {
    const before = Date.now();
    const signed = jwt(key, { iss: 12345, jti: 'contract-201' });
    const r = await mint(`Bearer ${signed}`);
    expect(r.status).toBe(201);
    expect(spec.errors('POST', ACCESS_TOKENS, 201, r.body)).toEqual([]);
    expect(r.body.token).toMatch(/^ghs_[0-9A-Za-z]{36}$/);
    expect(r.body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expires = Date.parse(r.body.expires_at);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3_600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(r.body.permissions).toEqual({ actions: 'read', administration: 'write', metadata: 'read', organization_self_hosted_runners: 'write' });
    expect(r.body.repository_selection).toBe('all');
    // Answers of App endpoints are dated in real time, the frame the JWT is judged in.
    expect(Math.abs(Date.parse(r.headers.get('date')!) - Date.now())).toBeLessThan(5_000);
    // Both the token and the JWT that bought it are credentials the leak checks look for.
    expect(gh.sim.issuedSecrets()).toEqual(expect.arrayContaining([r.body.token, signed]));
  });

  it('accepts the client ID and a numeric string as iss, and tokens differ each time', async () => {
    const a = await mint(`Bearer ${jwt(key, { iss: gh.app!.clientId })}`);
    const b = await mint(`bearer ${jwt(key, { iss: '12345' })}`);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.token).not.toBe(b.body.token);
  });

  it('does not count token requests against the installation\'s rate limit, and records them', async () => {
    const before = (await call(gh.url, 'GET', '/rate_limit', `token ${gh.token}`)).body.rate.remaining;
    const r = await mint(`Bearer ${jwt(key, { iss: 12345 })}`);
    expect(r.headers.get('x-ratelimit-remaining')).toBe(String(before));
    const recorded = gh.ctx.recorder.requests.get(`github POST ${ACCESS_TOKENS}`);
    expect(recorded?.count).toBeGreaterThanOrEqual(1);
    expect(recorded?.counted).toBe(0);
  });

  it('refuses a JWT signed with another key, naming another App, or not a JWT: 401 "A JSON web token could not be decoded"', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cases = {
      'another key': `Bearer ${jwt(other, { iss: 12345 })}`,
      'another App': `Bearer ${jwt(key, { iss: 54321 })}`,
      'HS256 header': `Bearer ${jwt(key, { iss: 12345 }, { alg: 'HS256', typ: 'JWT' })}`,
      'static token': `token ${gh.token}`,
      'garbage': 'Bearer not-a-jwt',
      'none': undefined,
    };
    for (const [what, auth] of Object.entries(cases)) {
      const r = auth === undefined ? await call(gh.url, 'POST', '/app/installations/678/access_tokens', undefined) : await mint(auth);
      expect({ what, status: r.status, message: r.body.message }).toEqual({ what, status: 401, message: 'A JSON web token could not be decoded' });
      expect(spec.errors('POST', ACCESS_TOKENS, 401, r.body)).toEqual([]);
    }
  });

  it('judges iat and exp as GitHub does, with its messages (which @octokit/auth-app matches to correct clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expect401 = async (claims: Record<string, unknown>, message: string) => {
      const r = await mint(`Bearer ${jwt(key, { iss: 12345, ...claims })}`);
      expect({ claims, status: r.status, message: r.body.message }).toEqual({ claims, status: 401, message });
      expect(spec.errors('POST', ACCESS_TOKENS, 401, r.body)).toEqual([]);
    };
    await expect401({ iat: now - 700, exp: now - 100 }, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
    await expect401({ iat: now, exp: now + 700 }, "'Expiration time' claim ('exp') is too far in the future");
    await expect401({ iat: now + 300, exp: now + 500 }, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued");
    await expect401({ iat: 'yesterday', exp: now + 500 }, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued");
    // GitHub's own example: iat 60 s back for drift, exp the full 10 minutes ahead.
    expect((await mint(`Bearer ${jwt(key, { iss: 12345, iat: now - 60, exp: now + 600 })}`)).status).toBe(201);
  });

  it('answers 404 for an installation that does not exist', async () => {
    const r = await mint(`Bearer ${jwt(key, { iss: 12345 })}`, 679);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ message: 'Not Found', status: '404' });
    expect(spec.errors('POST', ACCESS_TOKENS, 404, r.body)).toEqual([]);
  });

  it('refuses to narrow a token (repositories, permissions): 422, not a token broader than asked for', async () => {
    const r = await mint(`Bearer ${jwt(key, { iss: 12345 })}`, 678, { repositories: ['app'] });
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('repositories');
  });
});

describe('simulated GitHub App: what each credential opens', () => {
  it('an installation token works everywhere the static token does (token or Bearer), without user permissions on the repository', async () => {
    const { token } = (await mint(`Bearer ${jwt(key, { iss: 12345 })}`)).body as { token: string };
    for (const auth of [`token ${token}`, `Bearer ${token}`]) {
      expect((await call(gh.url, 'GET', '/repos/acme/app/actions/runs?status=queued', auth)).status).toBe(200);
      expect((await call(gh.url, 'GET', '/orgs/bigco/actions/runners', auth)).status).toBe(200);
    }
    const jit = await call(gh.url, 'POST', '/repos/acme/app/actions/runners/generate-jitconfig', `token ${token}`, { name: 'r1', runner_group_id: 1, labels: ['self-hosted'] });
    expect(jit.status).toBe(201);
    const asApp = await call(gh.url, 'GET', '/repos/acme/app', `token ${token}`);
    expect(asApp.status).toBe(200);
    expect(spec.errors('GET', '/repos/{owner}/{repo}', 200, asApp.body)).toEqual([]);
    expect(asApp.body).not.toHaveProperty('permissions');
    const asUser = await call(gh.url, 'GET', '/repos/acme/app', `token ${gh.token}`);
    expect(asUser.body.permissions).toMatchObject({ admin: true });
  });

  it('the App\'s JWT opens none of the installation\'s endpoints: 401 "Bad credentials"', async () => {
    const token = jwt(key, { iss: 12345 });
    for (const path of ['/repos/acme/app/actions/runs', '/orgs/bigco/actions/runners', '/rate_limit']) {
      const r = await call(gh.url, 'GET', path, `Bearer ${token}`);
      expect({ path, status: r.status, message: r.body.message }).toEqual({ path, status: 401, message: 'Bad credentials' });
    }
  });

  it('an expired installation token is 401 "Bad credentials"', async () => {
    const short = await startGithub(`
github:
  repos: [acme/app]
  app: {id: 7, installation_id: 8, token_ttl: 200ms}
`);
    try {
      const r = await call(short.url, 'POST', '/app/installations/8/access_tokens', `Bearer ${jwt(short.app!.privateKey, { iss: 7 })}`);
      expect(r.status).toBe(201);
      const expiresAt = Date.parse(r.body.expires_at);
      // Real time passes (token life is wall-clock); `until` needs a scenario bound only.
      // expires_at is whole seconds, rounded down: a second past it the token has surely expired.
      await until(short.ctx, () => Date.now() > expiresAt + 1000);
      const after = await call(short.url, 'GET', '/repos/acme/app/actions/runs', `token ${r.body.token}`);
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({ message: 'Bad credentials', status: '401' });
      expect((await call(short.url, 'GET', '/repos/acme/app/actions/runs', `token ${short.token}`)).status).toBe(200);
    } finally {
      await short.stop();
    }
  });

  it('without github.app in the scenario there is no App: every JWT is undecodable', async () => {
    const plain = await startGithub('github:\n  repos: [acme/app]\n');
    try {
      expect(plain.app).toBeUndefined();
      const r = await call(plain.url, 'POST', '/app/installations/678/access_tokens', `Bearer ${jwt(key, { iss: 12345 })}`);
      expect({ status: r.status, message: r.body.message }).toEqual({ status: 401, message: 'A JSON web token could not be decoded' });
    } finally {
      await plain.stop();
    }
  });
});
