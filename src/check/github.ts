/**
 * `pve-runners check`, GitHub side: the credentials are accepted, each repository is administered by
 * them (runners are managed with Administration: write), its workflow runs are readable, and each
 * organisation's runners and runner groups are readable with every group the pools need present.
 *
 * Whether a JIT config or registration token can really be minted is not probed: either call
 * creates something on GitHub (a runner registration, a token), and `check` changes nothing.
 */
import { runnerGroupFor, type Config } from '../config/index.js';
import type { GithubApi, RateBudget } from '../github/api.js';
import { describePermission, missingPermission, permissionFix } from '../github/permissions.js';
import { SECONDARY_POINTS_PER_MINUTE } from '../github/budget.js';
import { DEFAULT_POLL_POLICY, planWarning, pollPlan } from '../github/poll-plan.js';
import { fail, ok, warn, type CheckLine } from './result.js';

export interface GithubProbeDeps {
  github: GithubApi;
  config: Config;
  /** GITHUB_API_URL, for messages */
  apiUrl: string;
  auth: 'token' | 'app';
  /** epoch ms, for the budget's reset */
  now: number;
  /** POLL_INTERVAL, for whether the budget holds every repository at it */
  pollIntervalMs: number;
  /** WEBHOOK_LISTEN is set */
  webhook: boolean;
}

interface HttpError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined> };
}

function describe(e: unknown): { status: number; text: string } {
  const err = e as HttpError;
  const status = typeof err.status === 'number' ? err.status : 0;
  // Octokit's message is GitHub's own (`Bad credentials`, `Not Found`) plus a docs URL; keep the first.
  const message = (err.message ?? String(e)).split(' - ')[0]!;
  const needs = err.response?.headers?.['x-accepted-github-permissions'];
  return { status, text: `${status ? `${status} ` : ''}${message}${needs ? ` (GitHub says this needs: ${needs})` : ''}` };
}

/** A failed probe: for a missing permission, which one and how to grant it; else `fallbackFix`. */
function failed(d: GithubProbeDeps, what: string, doing: string, e: unknown, where: string, fallbackFix: string): CheckLine {
  const p = describe(e);
  const missing = missingPermission(e);
  if (!missing) return fail(what, `${doing}: ${p.text}`, fallbackFix);
  return fail(what, `${doing}: ${p.text}: the ${d.auth === 'token' ? 'token' : 'GitHub App'} lacks the ${describePermission(missing.accepted)}`, permissionFix(missing.accepted, d.auth, where));
}

function credentialsFix(d: GithubProbeDeps): string {
  return d.auth === 'token'
    ? `set GITHUB_TOKEN to a valid, unexpired token for ${d.apiUrl} (classic: scopes repo and, for organisations, admin:org; fine-grained: Administration read/write and Actions read on the repositories, Self-hosted runners read/write on organisations)`
    : `check GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID against the App's settings page and its installation on ${d.apiUrl}`;
}

const fmtIn = (ms: number) => (ms >= 3_600_000 ? `${Math.round(ms / 360_000) / 10}h` : `${Math.max(0, Math.round(ms / 60_000))}m`);

function budgetText(b: RateBudget, now: number): string {
  return `rate budget ${b.remaining}/${b.limit} requests left, resets in ${fmtIn(b.resetAt - now)}`;
}

async function repoLines(d: GithubProbeDeps, full: string): Promise<CheckLine[]> {
  const [owner, repo] = full.split('/') as [string, string];
  const what = `repository ${full}`;
  const permsFix = d.auth === 'token'
    ? `use a token of a user who is an admin of ${full} (classic: scope repo; fine-grained: Administration read/write and Actions read on it)`
    : `give the App the repository permissions Administration (read and write) and Actions (read), and install it on ${full}`;
  let admin: boolean | undefined;
  try {
    ({ admin } = await d.github.repoAccess(owner, repo));
  } catch (e) {
    const p = describe(e);
    if (p.status === 404) return [fail(what, `not found with these credentials (${p.text}): it does not exist or the token cannot see it`, `check github.repos in pools.yaml (and REPO_OWNER/REPO_NAME); ${permsFix}`)];
    return [failed(d, what, 'cannot read it', e, full, permsFix)];
  }
  if (admin === false) return [fail(what, 'the credentials do not administer it, and managing self-hosted runners needs admin rights', permsFix)];
  const reads: Array<[string, () => Promise<unknown>]> = [
    ['its self-hosted runners', () => d.github.listRunners({ kind: 'repo', owner, repo })],
    ['its queued workflow runs', () => d.github.listRuns(owner, repo, 'queued')],
  ];
  // Every read is tried, so one run of `check` names every missing permission.
  const problems: CheckLine[] = [];
  for (const [label, call] of reads) {
    try {
      await call();
    } catch (e) {
      problems.push(failed(d, what, `cannot list ${label}`, e, full, permsFix));
    }
  }
  if (problems.length) return problems;
  // App installation tokens carry no `permissions` in the answer; listing runners already needed Administration.
  return [ok(what, `${admin ? 'admin' : 'runners readable'}; runners and queued runs listed`)];
}

async function orgLines(d: GithubProbeDeps, org: Config['github']['orgs'][number], repoCount: (n: number) => void): Promise<CheckLine[]> {
  const what = `organisation ${org.name}`;
  const permsFix = d.auth === 'token'
    ? `use a token of an owner of ${org.name} (classic: scopes admin:org and repo; fine-grained: organisation permission Self-hosted runners read/write, repository permission Actions read)`
    : `give the App the organisation permission Self-hosted runners (read and write) and the repository permission Actions (read), and install it on ${org.name}`;
  let groups: Array<{ id: number; name: string }>;
  let repos: string[];
  try {
    groups = await d.github.listRunnerGroups(org.name);
    await d.github.listRunners({ kind: 'org', org: org.name });
    repos = (await d.github.listOrgRepos(org.name)).items;
    const explicit = new Set(d.config.github.repos.map((r) => r.toLowerCase()));
    repoCount(repos.filter((r) => !explicit.has(r.toLowerCase())).length);
  } catch (e) {
    const p = describe(e);
    return [failed(d, what, 'cannot read its runners, runner groups or repositories', e, `organisation ${org.name}`, p.status === 404 ? `check github.orgs in pools.yaml; ${permsFix}` : permsFix)];
  }
  const lines: CheckLine[] = [];
  const needed = new Map<string, string[]>();
  for (const pool of d.config.pools) {
    const g = runnerGroupFor(pool, org);
    needed.set(g, [...(needed.get(g) ?? []), pool.name]);
  }
  const missing = [...needed].filter(([g]) => !groups.some((x) => x.name.toLowerCase() === g.toLowerCase()));
  for (const [g, pools] of missing) {
    lines.push(fail(`${what}: runner group '${g}'`, `does not exist, but pools ${pools.join(', ')} register their runners in it (groups: ${groups.map((x) => x.name).join(', ') || 'none'})`,
      `create it (organisation Settings → Actions → Runner groups) with access to the repositories, or set runner_group in pools.yaml to an existing group`));
  }
  if (missing.length === 0) lines.push(ok(what, `${repos.length} repositories; runner groups ${[...needed.keys()].join(', ')} exist`));
  return lines;
}

/*
 * An App installation's token says what it was granted, so a missing *write* shows here, before
 * the first registration GitHub would refuse (a personal token's grants cannot be read).
 */
async function appPermissionLines(d: GithubProbeDeps): Promise<CheckLine[]> {
  const what = 'GitHub App installation permissions';
  let granted: Record<string, string> | undefined;
  try {
    granted = await d.github.installationPermissions();
  } catch (e) {
    return [warn(what, `cannot read them: ${describe(e).text}`, 'none needed if the repository and organisation probes below pass')];
  }
  if (!granted) return [];
  const needed: Array<[string, 'read' | 'write']> = [];
  if (d.config.github.repos.length) needed.push(['administration', 'write'], ['actions', 'read']);
  if (d.config.github.orgs.length) needed.push(['organization_self_hosted_runners', 'write'], ['actions', 'read']);
  const rank = (a: string | undefined) => (a === 'write' || a === 'admin' ? 2 : a === 'read' ? 1 : 0);
  const missing = [...new Map(needed).entries()].filter(([p, a]) => rank(granted[p]) < rank(a)).map(([p, a]) => `${p}=${a}`);
  const shown = Object.entries(granted).map(([p, a]) => `${p}=${a}`).join(', ') || 'none';
  if (missing.length === 0) return [ok(what, shown)];
  const where = [...d.config.github.repos, ...d.config.github.orgs.map((o) => `organisation ${o.name}`)].join(', ');
  return [fail(what, `${shown}: lacks the ${describePermission(missing.join(','))}`, permissionFix(missing.join(','), 'app', where))];
}

/** Repositories probed one by one: 3 points each, half of GitHub's secondary limit for a minute. */
export const PROBED_REPOS = Math.floor(SECONDARY_POINTS_PER_MINUTE / 2 / 3);

function unprobedLine(rest: string[]): CheckLine {
  const named = rest.length > 3 ? `${rest.slice(0, 3).join(', ')} and ${rest.length - 3} more` : rest.join(', ');
  return warn(`repositories beyond the first ${PROBED_REPOS}`, `${named} not probed: each probe costs 3 of GitHub's ${SECONDARY_POINTS_PER_MINUTE} secondary-limit points a minute, and check spends at most half of them so that neither it nor the daemon after it is refused`,
    'none needed if the probed repositories passed with the same credentials: the daemon names any repository it cannot list in its log, with the permission it lacks; to probe others, run check with a pools.yaml that lists them first');
}

export async function probeGithub(d: GithubProbeDeps): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const what = `GitHub credentials (${d.auth === 'token' ? 'GITHUB_TOKEN' : `GitHub App installation`}) at ${d.apiUrl}`;
  let budget: RateBudget | undefined;
  try {
    const b = await d.github.rateLimit();
    budget = b;
    lines.push(b.remaining > 0
      ? ok(what, `accepted; ${budgetText(b, d.now)}`)
      : warn(what, `accepted, but the ${budgetText(b, d.now)}`, 'none needed: `run` waits for the reset; if this recurs, use a GitHub App (higher limits) or a longer POLL_INTERVAL'));
  } catch (e) {
    const p = describe(e);
    // Every other call would fail the same way.
    if (p.status === 401) return [fail(what, `rejected: ${p.text}`, credentialsFix(d))];
    return [fail(what, `cannot reach ${d.apiUrl}: ${p.text}`, `check GITHUB_API_URL and that this host can reach it; ${credentialsFix(d)}`)];
  }
  if (d.auth === 'app') lines.push(...(await appPermissionLines(d)));
  // Each repository probed costs 3 secondary-limit points: past PROBED_REPOS, `check` would be
  // refused by GitHub itself (900 a minute), and the daemon started right after it too.
  const repos = d.config.github.repos;
  for (const r of repos.slice(0, PROBED_REPOS)) lines.push(...(await repoLines(d, r)));
  if (repos.length > PROBED_REPOS) lines.push(unprobedLine(repos.slice(PROBED_REPOS)));
  let orgRepos = 0;
  for (const o of d.config.github.orgs) lines.push(...(await orgLines(d, o, (n) => (orgRepos += n))));
  lines.push(budgetLine(d, orgRepos, budget));
  return lines;
}

/**
 * Whether the daemon can list every repository every POLL_INTERVAL (github/poll-plan.ts, the plan
 * the daemon follows), taking them all as idle: what a tick costs whatever happens.
 */
function budgetLine(d: GithubProbeDeps, orgRepos: number, primary: RateBudget | undefined): CheckLine {
  const explicit = d.config.github.repos.length;
  const repos = explicit + orgRepos;
  const what = 'GitHub request budget';
  const plan = pollPlan({
    minuteMs: 60_000,
    pollIntervalMs: d.pollIntervalMs,
    // each organisation: its runners and (a page per 100) its repositories
    everyTickPoints: d.config.github.orgs.length * 2 + Math.floor(orgRepos / 100),
    idleRepos: repos,
    // a repository scope lists its runs by status and its runners; an organisation's repository its runs
    idlePoints: repos === 0 ? 0 : (explicit * 3 + orgRepos * 2) / repos,
    tickCounted: 0,
    primary,
    now: d.now,
    policy: DEFAULT_POLL_POLICY,
  });
  const warning = planWarning(plan, { repos, pollIntervalMs: d.pollIntervalMs, scale: 1, webhook: d.webhook, auth: d.auth });
  if (warning) return warn(what, warning.replace(/^GitHub budget: /, ''), 'none needed: `run` polls at the cadence above without tripping the limits');
  return ok(what, `${repos} repositories listed every ${Math.round(d.pollIntervalMs / 1000)}s within ${Math.round(plan.pointsPerMinute)} of GitHub's ${SECONDARY_POINTS_PER_MINUTE} secondary-limit points a minute`);
}
