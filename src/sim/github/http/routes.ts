/**
 * The REST endpoints the daemon (and `check`) use, repository- and organisation-level, and the
 * App's installation-token endpoint.
 */
import type { SimContext } from '../../contracts.js';
import type { GithubPermissions } from '../../scenario.js';
import type { GithubApp } from '../app.js';
import type { Broker } from '../broker.js';
import type { Engine } from '../engine.js';
import type { Ids } from '../ids.js';
import { encodeJitConfig } from '../jit-config.js';
import type { Listings } from '../listed.js';
import type { ListedRun } from '../listed.js';
import type { Scope } from '../model.js';
import type { Renderer } from '../render.js';
import type { World } from '../world.js';
import { parseJitConfigBody } from './body-schemas.js';
import { ApiError, notFound } from './errors.js';
import { paginate } from './paginate.js';
import type { RateState } from './rate-limit.js';
import type { ApiRequest, Needs, Route } from './router.js';

export interface RouteDeps {
  ctx: SimContext;
  world: World;
  engine: Engine;
  broker: Broker;
  ids: Ids;
  /** reads see runs, jobs and runners as listings show them (lagged); mutations see the live state */
  listings: Listings;
  render: () => Renderer;
  base: () => string;
  rate: () => RateState;
  app: GithubApp | undefined;
}

const D = 'https://docs.github.com/rest';
const ACTIONS_READ: Needs = { permission: 'actions', access: 'read' };
const METADATA_READ: Needs = { permission: 'metadata', access: 'read' };

/* Which runs a `status` query selects: a status, or a conclusion of completed runs. */
const RUN_STATUSES = new Set(['queued', 'in_progress', 'completed', 'requested', 'waiting', 'pending']);

/** What an installation token's answer lists: the granted permissions (none left out). */
function grantedPermissions(p: GithubPermissions): Record<string, string> {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== 'none'));
}

function id(raw: string | undefined): number {
  const n = Number(raw);
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw notFound();
  return n;
}

export function githubRoutes(d: RouteDeps): Route[] {
  const repoOf = (p: Record<string, string>) => {
    const repo = d.world.repo(p.owner ?? '', p.repo ?? '');
    if (!repo) throw notFound();
    return repo;
  };
  const orgOf = (p: Record<string, string>) => {
    const org = d.world.org(p.org ?? '');
    if (!org) throw notFound();
    return org;
  };
  const runOf = (req: ApiRequest): ListedRun => {
    const repo = repoOf(req.params);
    const run = d.engine.runs.get(id(req.params.run_id));
    const listed = run && run.repo === repo ? d.listings.run(run) : undefined;
    if (!listed) throw notFound();
    return listed;
  };

  const runnerRoutes = (prefix: string, level: 'repository' | 'organization', scopeOf: (req: ApiRequest) => { scope: Scope; htmlPath: string }): Route[] => {
    const suffix = level === 'repository' ? 'for-a-repository' : 'for-an-organization';
    // Repository runners need Administration, organisation runners Self-hosted runners.
    const permission = level === 'repository' ? 'administration' : 'organization_self_hosted_runners';
    const read: Needs = { permission, access: 'read' };
    const write: Needs = { permission, access: 'write' };
    /* `listed`: the registration as a GET shows it (lagged); otherwise the live one, for a mutation. */
    const runnerOf = (req: ApiRequest, listed: boolean) => {
      const { scope } = scopeOf(req);
      const runnerId = id(req.params.runner_id);
      const runner = listed ? d.world.listedRunner(runnerId) : d.world.runners.get(runnerId);
      if (!runner || runner.scope.kind !== scope.kind || runner.scope.key !== scope.key) throw notFound();
      return runner;
    };
    return [
      {
        // Listed before `{runner_id}`, which would otherwise claim the path.
        method: 'GET', template: `${prefix}/actions/runners/downloads`, needs: read, docs: `${D}/actions/self-hosted-runners#list-runner-applications-${suffix}`,
        handle: (req) => {
          scopeOf(req);
          const v = d.ctx.scenario.github.runnerVersion;
          const apps = [['linux', 'x64', 'tar.gz'], ['linux', 'arm64', 'tar.gz'], ['linux', 'arm', 'tar.gz'], ['win', 'x64', 'zip'], ['win', 'arm64', 'zip'], ['osx', 'x64', 'tar.gz'], ['osx', 'arm64', 'tar.gz']];
          return {
            status: 200,
            body: apps.map(([os, arch, ext]) => ({
              os, architecture: arch, filename: `actions-runner-${os}-${arch}-${v}.${ext}`,
              download_url: `https://github.com/actions/runner/releases/download/v${v}/actions-runner-${os}-${arch}-${v}.${ext}`,
            })),
          };
        },
      },
      {
        method: 'GET', template: `${prefix}/actions/runners`, needs: read, docs: `${D}/actions/self-hosted-runners#list-self-hosted-runners-${suffix}`,
        handle: (req) => {
          const name = req.url.searchParams.get('name');
          const all = d.world.listedRunnersIn(scopeOf(req).scope).filter((r) => name === null || r.name.toLowerCase() === name.toLowerCase());
          const page = paginate(all, req.url, d.base());
          return { status: 200, body: { total_count: all.length, runners: page.items.map((r) => d.render().runner(r)) }, link: page.link };
        },
      },
      {
        method: 'GET', template: `${prefix}/actions/runners/{runner_id}`, needs: read, docs: `${D}/actions/self-hosted-runners#get-a-self-hosted-runner-${suffix}`,
        handle: (req) => ({ status: 200, body: d.render().runner(runnerOf(req, true)) }),
      },
      {
        method: 'DELETE', template: `${prefix}/actions/runners/{runner_id}`, needs: write,
        docs: `${D}/actions/self-hosted-runners#delete-a-self-hosted-runner-from-${level === 'repository' ? 'a-repository' : 'an-organization'}`,
        handle: (req) => {
          const runner = runnerOf(req, false);
          // Decided on the live state, however late the listings are. Text as GitHub answered it in
          // 2026 (terraform-aws-github-runner#5055); docs/simulator.md has the older variant.
          if (runner.busy) throw new ApiError(422, `Bad request - Runner ${runner.name} is currently running a job and cannot be deleted.`);
          if (runner.foreign) d.ctx.recorder.foreignTouched(`github runner '${runner.name}' (${runner.scope.key}) deleted`);
          d.world.unregister(runner);
          d.broker.deregistered(runner);
          return { status: 204 };
        },
      },
      {
        method: 'POST', template: `${prefix}/actions/runners/generate-jitconfig`, needs: write,
        docs: `${D}/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-${suffix}`,
        handle: (req) => {
          const { scope, htmlPath } = scopeOf(req);
          const body = parseJitConfigBody(req.body, (problems) => d.ctx.recorder.invalidRequest(`github POST ${htmlPath} generate-jitconfig: ${problems.join(' ')}`));
          const group = d.world.groups(scope).find((g) => g.id === body.runner_group_id);
          if (!group) throw new ApiError(404, 'Not Found');
          const existing = d.world.runnerByName(scope, body.name);
          if (existing) {
            if (existing.foreign) d.ctx.recorder.foreignTouched(`github runner '${existing.name}' (${scope.key}): JIT config requested for its name`);
            throw new ApiError(409, `Already exists - A runner with the name ${body.name} already exists.`);
          }
          const clientId = d.ids.uuid();
          const runner = d.world.register({ name: body.name, scope, group, labels: [...body.labels], ephemeral: true, foreign: false, jit: { clientId, used: false } });
          const encoded = encodeJitConfig(runner, clientId, `https://github.com/${htmlPath}`, body.work_folder ?? '_work', d.ids);
          d.world.issuedSecrets.push(encoded);
          return { status: 201, body: { runner: d.render().runner(runner), encoded_jit_config: encoded } };
        },
      },
      {
        method: 'POST', template: `${prefix}/actions/runners/registration-token`, needs: write, docs: `${D}/actions/self-hosted-runners#create-a-registration-token-${suffix}`,
        handle: (req) => {
          const { scope } = scopeOf(req);
          const t = d.world.issueToken(scope, d.ctx.clock.nowMs() + d.ctx.scenario.github.registrationTokenTtlMs);
          return { status: 201, body: { token: t.token, expires_at: d.render().iso(t.expiresAtMs) } };
        },
      },
    ];
  };

  return [
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs', needs: ACTIONS_READ, docs: `${D}/actions/workflow-runs#list-workflow-runs-for-a-repository`,
      handle: (req) => {
        const repo = repoOf(req.params);
        const status = req.url.searchParams.get('status');
        const runs = [...d.engine.runs.values()].filter((r) => r.repo === repo).sort((a, b) => b.id - a.id)
          .map((r) => d.listings.run(r)).filter((r): r is ListedRun => r !== undefined).filter((s) => {
            if (status === null || status === '') return true;
            return RUN_STATUSES.has(status) ? s.status === status : s.conclusion === status;
          });
        const page = paginate(runs, req.url, d.base());
        return { status: 200, body: { total_count: runs.length, workflow_runs: page.items.map((r) => d.render().run(r)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs/{run_id}', needs: ACTIONS_READ, docs: `${D}/actions/workflow-runs#get-a-workflow-run`,
      handle: (req) => ({ status: 200, body: d.render().run(runOf(req)) }),
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', needs: ACTIONS_READ, docs: `${D}/actions/workflow-jobs#list-jobs-for-a-workflow-run`,
      handle: (req) => {
        // Only attempt 1 exists here, so `filter=latest` and `filter=all` select the same jobs.
        const jobs = runOf(req).jobs;
        const page = paginate(jobs, req.url, d.base());
        return { status: 200, body: { total_count: jobs.length, jobs: page.items.map((j) => d.render().job(j)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/jobs/{job_id}', needs: ACTIONS_READ, docs: `${D}/actions/workflow-jobs#get-a-job-for-a-workflow-run`,
      handle: (req) => {
        const repo = repoOf(req.params);
        const live = d.engine.jobs.get(id(req.params.job_id));
        const job = live && live.run.repo === repo ? d.listings.job(live) : undefined;
        if (!job) throw notFound();
        return { status: 200, body: d.render().job(job) };
      },
    },
    ...runnerRoutes('/repos/{owner}/{repo}', 'repository', (req) => {
      const repo = repoOf(req.params);
      return { scope: { kind: 'repo', key: repo.fullName.toLowerCase() }, htmlPath: repo.fullName };
    }),
    ...runnerRoutes('/orgs/{org}', 'organization', (req) => {
      const org = orgOf(req.params);
      return { scope: { kind: 'org', key: org.account.login.toLowerCase() }, htmlPath: org.account.login };
    }),
    {
      method: 'GET', template: '/orgs/{org}/actions/runner-groups', needs: { permission: 'organization_self_hosted_runners', access: 'read' }, docs: `${D}/actions/self-hosted-runner-groups#list-self-hosted-runner-groups-for-an-organization`,
      handle: (req) => {
        const org = orgOf(req.params);
        const page = paginate(org.groups, req.url, d.base());
        return { status: 200, body: { total_count: org.groups.length, runner_groups: page.items.map((g) => d.render().runnerGroup(org.account.login, g)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/orgs/{org}/repos', needs: METADATA_READ, docs: `${D}/repos/repos#list-organization-repositories`,
      handle: (req) => {
        const org = orgOf(req.params);
        const page = paginate(org.repos, req.url, d.base());
        return { status: 200, body: page.items.map((r) => d.render().minimalRepo(r)), link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}', needs: METADATA_READ, docs: `${D}/repos/repos#get-a-repository`,
      handle: (req) => {
        const body = d.render().fullRepo(repoOf(req.params));
        // `permissions` describes a user's access; an installation token's answer has none.
        if (req.caller.kind === 'installation') delete body.permissions;
        return { status: 200, body };
      },
    },
    {
      method: 'POST', template: '/app/installations/{installation_id}/access_tokens', auth: 'app',
      // Authenticated as the App, not the installation: it does not spend the installation's budget.
      counted: false,
      docs: `${D}/apps/apps#create-an-installation-access-token-for-an-app`,
      handle: (req) => {
        const app = d.app!; // the route authenticates only when the scenario has an App
        if (id(req.params.installation_id) !== app.installationId) throw notFound();
        const narrowing = ['repositories', 'repository_ids', 'permissions'].filter((k) => typeof req.body === 'object' && req.body !== null && k in req.body);
        if (narrowing.length) throw new ApiError(422, `Validation Failed: the simulator mints only tokens for the whole installation (${narrowing.join(', ')} not simulated)`);
        const t = app.mint();
        return {
          status: 201,
          body: { token: t.token, expires_at: new Date(t.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), permissions: grantedPermissions(d.ctx.scenario.github.permissions), repository_selection: 'all' },
        };
      },
    },
    {
      method: 'GET', template: '/rate_limit', counted: false, docs: `${D}/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user`,
      handle: () => {
        const core = d.rate();
        const fixed = (limit: number) => ({ limit, remaining: limit, used: 0, reset: core.reset });
        return {
          status: 200,
          body: {
            resources: {
              core, search: fixed(30), graphql: fixed(5000), integration_manifest: fixed(5000), source_import: fixed(100),
              code_scanning_upload: fixed(1000), actions_runner_registration: fixed(10000), scim: fixed(15000), code_search: fixed(10),
            },
            rate: core,
          },
        };
      },
    },
  ];
}
