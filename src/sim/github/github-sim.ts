/**
 * The simulated GitHub: REST API over real HTTP on 127.0.0.1, the runner service guests connect to
 * (RunnerBroker), and the workload's workflow runs.
 */
import type { RunnerBroker, RunnerConfigRequest, RunnerConfigResult, RunnerCredentials, RunnerExit, SimContext } from '../contracts.js';
import { GithubApp } from './app.js';
import { Broker } from './broker.js';
import { Engine } from './engine.js';
import { epochAt } from './epoch.js';
import { Authenticator } from './http/auth.js';
import { PrimaryRateLimit } from './http/rate-limit.js';
import { githubRoutes } from './http/routes.js';
import { GithubHttp } from './http/server.js';
import { Ids } from './ids.js';
import { Lag } from './lag.js';
import { Listings } from './listed.js';
import type { JobSpec } from './model.js';
import { Renderer } from './render.js';
import { Timers } from './timers.js';
import { WebhookSender } from './webhooks.js';
import { World } from './world.js';

/** What a client needs to authenticate as the scenario's App. */
export interface GithubAppCredentials {
  id: number;
  clientId: string;
  installationId: number;
  /** PKCS#1 PEM */
  privateKey: string;
}

export class GithubSim implements RunnerBroker {
  private readonly world: World;
  private readonly engine: Engine;
  private readonly broker: Broker;
  private readonly http: GithubHttp;
  private readonly timers: Timers;
  private readonly token: string;
  private readonly app: GithubApp | undefined;
  private renderer: Renderer | undefined;
  /** the scenario's webhook (`github.webhook`), when it has one */
  readonly webhooks: WebhookSender | undefined;

  constructor(private readonly ctx: SimContext) {
    const rng = ctx.rng.fork('github');
    const ids = new Ids(rng.fork('ids'));
    this.token = new Ids(rng.fork('token')).installationToken();
    this.timers = new Timers(ctx.clock);
    const lag = new Lag(ctx.scenario.github.lag, ctx.clock);
    this.world = new World(ctx.scenario, ids, ctx.recorder, lag);
    const appCfg = ctx.scenario.github.app;
    this.app = appCfg ? new GithubApp(appCfg, new Ids(rng.fork('app')), ctx.clock, (s) => this.world.issuedSecrets.push(s)) : undefined;
    this.engine = new Engine(ctx, this.world, ids, this.timers);
    this.broker = new Broker(ctx, this.world, this.engine, this.timers);
    const primary = new PrimaryRateLimit(ctx.scenario.github.rateLimit, ctx.clock);
    const routes = githubRoutes({
      ctx, world: this.world, engine: this.engine, broker: this.broker, ids, listings: new Listings(lag, () => ctx.clock.nowMs()),
      render: () => this.render(), base: () => this.http.url, rate: () => primary.state(), app: this.app,
    });
    if (ctx.scenario.github.webhook) {
      const sender = new WebhookSender(ctx, ctx.scenario.github.webhook, rng.fork('webhook-delays'), new Ids(rng.fork('webhook')), this.timers, () => this.render());
      this.engine.onJob = (job, action) => sender.jobChanged(job, action);
      this.webhooks = sender;
    }
    const installationId = ids.account();
    this.http = new GithubHttp(ctx, routes, new Authenticator(this.token, this.app), primary, rng.fork('http'), this.app?.installationId ?? installationId);
  }

  /** The static token always works; `app` is there when the scenario has a GitHub App. */
  async start(): Promise<{ url: string; token: string; app?: GithubAppCredentials; webhook?: { secret: string } }> {
    const url = await this.http.start();
    const a = this.app;
    return {
      url, token: this.token,
      ...(a ? { app: { id: a.id, clientId: a.clientId, installationId: a.installationId, privateKey: a.privateKey } } : {}),
      ...(this.webhooks ? { webhook: { secret: this.webhooks.secret } } : {}),
    };
  }

  async stop(): Promise<void> {
    this.timers.cancelAll();
    this.webhooks?.stop();
    await this.http.stop();
  }

  /** Requests of the static token ('token'), the installation ('installation <id>') or the App ('app <id>') in flight now. */
  requestsInFlight(limits = 'token'): number {
    return this.http.inFlight(limits);
  }

  /** Queues a workflow run now (the workload driver calls this at each entry's time); returns its id. */
  queueRun(repo: string, workflow: string, jobs: JobSpec[], chain: boolean): number {
    return this.engine.queueRun(repo, workflow, jobs, chain);
  }

  configure(req: RunnerConfigRequest, done: (result: RunnerConfigResult) => void): void {
    this.broker.configure(req, done);
  }

  connect(creds: RunnerCredentials, onExit: (exit: RunnerExit) => void, version?: string): number | undefined {
    return this.broker.connect(creds, onExit, version);
  }

  lost(runnerId: number): void {
    this.broker.lost(runnerId);
  }

  /** The registration of that name as GitHub has it now (undefined: none, or somebody else's). */
  runnerState(name: string): { status: 'online' | 'offline'; busy: boolean } | undefined {
    const r = [...this.world.runners.values()].find((x) => !x.foreign && x.name.toLowerCase() === name.toLowerCase());
    return r && { status: r.status, busy: r.busy };
  }

  /** Whether the registration of that name is running a job now (undefined: no such registration). */
  runnerBusy(name: string): boolean | undefined {
    const r = [...this.world.runners.values()].find((x) => x.name.toLowerCase() === name.toLowerCase());
    return r === undefined ? undefined : r.busy;
  }

  /**
   * A person took over the VM this registration's runner lives in: the registration goes with it.
   * From then on deleting it is a foreign touch, and it is no leak.
   */
  disownRunner(name: string): void {
    for (const r of this.world.runners.values()) if (r.name.toLowerCase() === name.toLowerCase()) r.foreign = true;
  }

  /** The job as `GET /repos/{o}/{r}/actions/jobs/{id}` answers now (GitHub's listing lag included), or undefined. */
  jobJson(id: number): Record<string, unknown> | undefined {
    const live = this.engine.jobs.get(id);
    const listed = live && this.world.lag.job(live);
    return listed && this.render().job(listed);
  }

  /** Every queued job has reached `completed` (success, failure or cancelled). */
  done(): boolean {
    return this.engine.done();
  }

  /** Registrations still present that are not the scenario's foreign runners (names). */
  leaks(): { registrations: string[] } {
    return { registrations: [...this.world.runners.values()].filter((r) => !r.foreign).map((r) => r.name).sort() };
  }

  /** Every registration token and JIT config handed out so far, and every installation token and App JWT. */
  issuedSecrets(): readonly string[] {
    return this.world.issuedSecrets;
  }

  private render(): Renderer {
    this.renderer ??= new Renderer(this.http.url, (ms) => epochAt(this.ctx.clock, ms), this.world);
    return this.renderer;
  }
}
