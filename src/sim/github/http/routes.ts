/**
 * The REST endpoints the daemon (and `check`) use, repository- and organisation-level, and the
 * App's installation-token endpoint.
 */
import type { SimContext } from '../../contracts.js';
import { APP_PERMISSIONS, type GithubApp } from '../app.js';
import type { Broker } from '../broker.js';
import type { Engine } from '../engine.js';
import type { Ids } from '../ids.js';
import { encodeJitConfig } from '../jit-config.js';
import type { Run, Scope } from '../model.js';
import type { Renderer } from '../render.js';
import type { World } from '../world.js';
import { parseJitConfigBody } from './body-schemas.js';
import { ApiError, notFound } from './errors.js';
import { paginate } from './paginate.js';
import type { RateState } from './rate-limit.js';
import type { ApiRequest, Route } from './router.js';

export interface RouteDeps {
  ctx: SimContext;
  world: World;
  engine: Engine;
  broker: Broker;
  ids: Ids;
  render: () => Renderer;
  base: () => string;
  rate: () => RateState;
  app: GithubApp | undefined;
}

const D = 'https://docs.github.com/rest';

/* Which runs a `status` query selects: a status, or a conclusion of completed runs. */
const RUN_STATUSES = new Set(['queued', 'in_progress', 'completed', 'requested', 'waiting', 'pending']);

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
  const runOf = (req: ApiRequest): Run => {
    const repo = repoOf(req.params);
    const run = d.engine.runs.get(id(req.params.run_id));
    if (!run || run.repo !== repo) throw notFound();
    return run;
  };

  const runnerRoutes = (prefix: string, level: 'repository' | 'organization', scopeOf: (req: ApiRequest) => { scope: Scope; htmlPath: string }): Route[] => {
    const suffix = level === 'repository' ? 'for-a-repository' : 'for-an-organization';
    const runnerOf = (req: ApiRequest) => {
      const { scope } = scopeOf(req);
      const runner = d.world.runners.get(id(req.params.runner_id));
      if (!runner || runner.scope.kind !== scope.kind || runner.scope.key !== scope.key) throw notFound();
      return runner;
    };
    return [
      {
        // Listed before `{runner_id}`, which would otherwise claim the path.
        method: 'GET', template: `${prefix}/actions/runners/downloads`, docs: `${D}/actions/self-hosted-runners#list-runner-applications-${suffix}`,
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
        method: 'GET', template: `${prefix}/actions/runners`, docs: `${D}/actions/self-hosted-runners#list-self-hosted-runners-${suffix}`,
        handle: (req) => {
          const name = req.url.searchParams.get('name');
          const all = d.world.runnersIn(scopeOf(req).scope).filter((r) => name === null || r.name.toLowerCase() === name.toLowerCase());
          const page = paginate(all, req.url, d.base());
          return { status: 200, body: { total_count: all.length, runners: page.items.map((r) => d.render().runner(r)) }, link: page.link };
        },
      },
      {
        method: 'GET', template: `${prefix}/actions/runners/{runner_id}`, docs: `${D}/actions/self-hosted-runners#get-a-self-hosted-runner-${suffix}`,
        handle: (req) => ({ status: 200, body: d.render().runner(runnerOf(req)) }),
      },
      {
        method: 'DELETE', template: `${prefix}/actions/runners/{runner_id}`,
        docs: `${D}/actions/self-hosted-runners#delete-a-self-hosted-runner-from-${level === 'repository' ? 'a-repository' : 'an-organization'}`,
        handle: (req) => {
          const runner = runnerOf(req);
          // Text as GitHub sends it (quoted in actions-runner-controller's runner_graceful_stop.go), stray quote included.
          if (runner.busy) throw new ApiError(422, `Bad request - Runner "${runner.name}" is still running a job"`);
          if (runner.foreign) d.ctx.recorder.foreignTouched(`github runner '${runner.name}' (${runner.scope.key}) deleted`);
          d.world.unregister(runner);
          d.broker.deregistered(runner);
          return { status: 204 };
        },
      },
      {
        method: 'POST', template: `${prefix}/actions/runners/generate-jitconfig`,
        docs: `${D}/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-${suffix}`,
        handle: (req) => {
          const { scope, htmlPath } = scopeOf(req);
          const body = parseJitConfigBody(req.body);
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
        method: 'POST', template: `${prefix}/actions/runners/registration-token`, docs: `${D}/actions/self-hosted-runners#create-a-registration-token-${suffix}`,
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
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs', docs: `${D}/actions/workflow-runs#list-workflow-runs-for-a-repository`,
      handle: (req) => {
        const repo = repoOf(req.params);
        const status = req.url.searchParams.get('status');
        const runs = [...d.engine.runs.values()].filter((r) => r.repo === repo).sort((a, b) => b.id - a.id).filter((r) => {
          if (status === null || status === '') return true;
          const s = d.engine.runState(r);
          return RUN_STATUSES.has(status) ? s.status === status : s.conclusion === status;
        });
        const page = paginate(runs, req.url, d.base());
        return { status: 200, body: { total_count: runs.length, workflow_runs: page.items.map((r) => d.render().run(r)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs/{run_id}', docs: `${D}/actions/workflow-runs#get-a-workflow-run`,
      handle: (req) => ({ status: 200, body: d.render().run(runOf(req)) }),
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', docs: `${D}/actions/workflow-jobs#list-jobs-for-a-workflow-run`,
      handle: (req) => {
        // Only attempt 1 exists here, so `filter=latest` and `filter=all` select the same jobs.
        const jobs = runOf(req).jobs;
        const page = paginate(jobs, req.url, d.base());
        return { status: 200, body: { total_count: jobs.length, jobs: page.items.map((j) => d.render().job(j)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}/actions/jobs/{job_id}', docs: `${D}/actions/workflow-jobs#get-a-job-for-a-workflow-run`,
      handle: (req) => {
        const repo = repoOf(req.params);
        const job = d.engine.jobs.get(id(req.params.job_id));
        if (!job || job.run.repo !== repo) throw notFound();
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
      method: 'GET', template: '/orgs/{org}/actions/runner-groups', docs: `${D}/actions/self-hosted-runner-groups#list-self-hosted-runner-groups-for-an-organization`,
      handle: (req) => {
        const org = orgOf(req.params);
        const page = paginate(org.groups, req.url, d.base());
        return { status: 200, body: { total_count: org.groups.length, runner_groups: page.items.map((g) => d.render().runnerGroup(org.account.login, g)) }, link: page.link };
      },
    },
    {
      method: 'GET', template: '/orgs/{org}/repos', docs: `${D}/repos/repos#list-organization-repositories`,
      handle: (req) => {
        const org = orgOf(req.params);
        const page = paginate(org.repos, req.url, d.base());
        return { status: 200, body: page.items.map((r) => d.render().minimalRepo(r)), link: page.link };
      },
    },
    {
      method: 'GET', template: '/repos/{owner}/{repo}', docs: `${D}/repos/repos#get-a-repository`,
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
          body: { token: t.token, expires_at: new Date(t.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), permissions: { ...APP_PERMISSIONS }, repository_selection: 'all' },
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
