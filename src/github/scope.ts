/**
 * Where runners are registered: a repository or an organisation. Jobs of a configured repository are
 * served by repo-level runners; jobs of an organisation's repositories by org-level runners.
 */
export type Scope = { kind: 'repo'; owner: string; repo: string } | { kind: 'org'; org: string };

export function scopeKey(s: Scope): string {
  return s.kind === 'repo' ? `repo:${s.owner}/${s.repo}` : `org:${s.org}`;
}

export function parseScopeKey(key: string): Scope {
  if (key.startsWith('repo:')) {
    const [owner, repo] = key.slice(5).split('/');
    if (owner && repo) return { kind: 'repo', owner, repo };
  } else if (key.startsWith('org:') && key.length > 4) {
    return { kind: 'org', org: key.slice(4) };
  }
  throw new Error(`not a scope key: '${key}'`);
}

export function describeScope(s: Scope): string {
  return s.kind === 'repo' ? `${s.owner}/${s.repo}` : `org ${s.org}`;
}

/** The URL a runner registers against with config.sh (`https://github.com/owner/repo` or `…/org`). */
export function runnerUrl(apiUrl: string, s: Scope): string {
  const u = new URL(apiUrl);
  let web: string;
  if (u.hostname === 'api.github.com') web = 'https://github.com';
  else if (u.pathname.replace(/\/+$/, '').endsWith('/api/v3')) web = `${u.protocol}//${u.host}`; // GitHub Enterprise Server
  else web = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  return s.kind === 'repo' ? `${web}/${s.owner}/${s.repo}` : `${web}/${s.org}`;
}
