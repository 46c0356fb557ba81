/**
 * Routes keyed by their OpenAPI template (`METHOD /path/{param}`): the same key names an endpoint in
 * the recorder and in the scenario's per-endpoint faults.
 */
import type { GithubPermissions } from '../../scenario.js';
import type { Caller } from './auth.js';

/** The fine-grained permission an endpoint needs (GitHub's "Permissions required for fine-grained personal access tokens"). */
export interface Needs {
  permission: keyof GithubPermissions;
  access: 'read' | 'write';
}

export interface ApiRequest {
  method: string;
  url: URL;
  params: Record<string, string>;
  body: unknown;
  caller: Caller;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  link?: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  template: string;
  docs: string;
  /** false for endpoints GitHub does not count against the primary limit (GET /rate_limit) */
  counted?: boolean;
  /** what the credential must have been granted; none for /rate_limit and the App's own routes */
  needs?: Needs;
  /** 'app': authenticated by the App's JWT only (GitHub's `/app/...` endpoints) */
  auth?: 'app';
  handle(req: ApiRequest): ApiResponse;
}

export interface Matched {
  route: Route;
  endpoint: string;
  params: Record<string, string>;
}

export class Router {
  private readonly compiled: Array<{ route: Route; re: RegExp; names: string[] }>;

  constructor(routes: Route[]) {
    this.compiled = routes.map((route) => {
      const names: string[] = [];
      const pattern = route.template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n: string) => {
        names.push(n);
        return '([^/]+)';
      });
      return { route, re: new RegExp(`^${pattern}/?$`), names };
    });
  }

  /** Method and path must both match; GitHub answers 404 (not 405) for a wrong method. */
  match(method: string, pathname: string): Matched | undefined {
    for (const { route, re, names } of this.compiled) {
      if (route.method !== method) continue;
      const m = re.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, endpoint: `${route.method} ${route.template}`, params };
    }
    return undefined;
  }
}
