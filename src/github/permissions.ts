/**
 * GitHub's answer when a fine-grained token or an App installation lacks a permission: 403
 * `Resource not accessible by personal access token` (or `… by integration`) with the header
 * `x-accepted-github-permissions` naming what the endpoint accepts, e.g. `administration=write`
 * (docs: "Troubleshooting the REST API"; reference/apis.md §6). This turns it into words a person
 * can act on: which permission, at which level, and where to grant it.
 */

export interface MissingPermission {
  /** the header as GitHub sent it */
  accepted: string;
  /** GitHub's message, e.g. `Resource not accessible by personal access token` */
  message: string;
}

interface HttpishError {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; data?: unknown };
}

/** The permission problem behind an Octokit error, or undefined when it is something else. */
export function missingPermission(e: unknown): MissingPermission | undefined {
  const err = e as HttpishError | undefined;
  if (!err || err.status !== 403) return undefined;
  const accepted = err.response?.headers?.['x-accepted-github-permissions'];
  const data = err.response?.data as { message?: unknown } | undefined;
  const message = typeof data?.message === 'string' ? data.message : typeof err.message === 'string' ? err.message.split(' - ')[0]! : '';
  if (!/Resource not accessible by/i.test(message) || typeof accepted !== 'string' || accepted.trim() === '') return undefined;
  return { accepted: accepted.trim(), message };
}

const NAMES: Record<string, { label: string; level: 'repository' | 'organization' }> = {
  actions: { label: 'Actions', level: 'repository' },
  administration: { label: 'Administration', level: 'repository' },
  metadata: { label: 'Metadata', level: 'repository' },
  organization_self_hosted_runners: { label: 'Self-hosted runners', level: 'organization' },
  organization_administration: { label: 'Administration', level: 'organization' },
};

const ACCESS: Record<string, string> = { read: 'Read-only', write: 'Read and write', admin: 'Admin' };

/*
 * The header lists alternatives separated by `;`, each a `,`-separated set of `name=access` that
 * must all be held; an empty alternative means the endpoint also works without any permission.
 */
function alternatives(accepted: string): Array<Array<{ name: string; access: string }>> {
  return accepted.split(';').map((alt) => alt.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const [name = '', access = ''] = p.split('=').map((x) => x.trim());
    return { name, access };
  })).filter((alt) => alt.length > 0);
}

/** e.g. `repository permission "Administration: Read and write"`. */
export function describePermission(accepted: string): string {
  const text = alternatives(accepted).map((alt) => alt.map(({ name, access }) => {
    const n = NAMES[name];
    return `${n?.level ?? 'the'} permission "${n?.label ?? name}: ${ACCESS[access] ?? access}"`;
  }).join(' and ')).join(' or ');
  return text || `the permission GitHub names as "${accepted}"`;
}

/*
 * What pve-runners needs of each permission it uses (README, "GitHub permissions"): the fix asks for
 * that, not merely for what the refused endpoint accepts (listing runners accepts Administration:
 * read, but registering them needs write).
 */
const NEEDED: Record<string, string> = { administration: 'write', organization_self_hosted_runners: 'write', actions: 'read', metadata: 'read' };
const RANK: Record<string, number> = { read: 1, write: 2, admin: 3 };

function asNeeded(accepted: string): string {
  return alternatives(accepted)
    .map((alt) => alt.map(({ name, access }) => `${name}=${(RANK[NEEDED[name] ?? ''] ?? 0) > (RANK[access] ?? 0) ? NEEDED[name] : access}`).join(','))
    .join('; ');
}

/** What to do about it, for a fine-grained token or a GitHub App, on `where` (a repository or organisation). */
export function permissionFix(accepted: string, auth: 'token' | 'app', where: string): string {
  const what = describePermission(asNeeded(accepted));
  return auth === 'token'
    ? `grant the fine-grained token the ${what} on ${where} (GitHub → Settings → Developer settings → Fine-grained tokens → edit), or use a classic token with scope repo (and admin:org for organisations)`
    : `give the GitHub App the ${what} (App settings → Permissions & events), then approve the new permissions on its installation covering ${where}`;
}
