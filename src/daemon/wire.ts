import { randomInt } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Settings } from '../config/index.js';
import type { Config, PoolConfig } from '../config/types.js';
import type { ConfigProblem } from '../config/errors.js';
import { sizesInForce } from '../config/schedule.js';
import type { GithubApi } from '../github/api.js';
import { createGithubClient, sizeCacheFor } from '../github/octokit.js';
import { OctokitGithubApi } from '../github/octokit-api.js';
import type { Logger, Redactor } from '../log.js';
import type { PlanConfig } from '../planner/plan.js';
import { DRAIN_BOOT_TIMEOUT_MS } from '../planner/drain.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { createProxmoxClient } from '../proxmox/client.js';
import { DirSnippetStore, type SnippetStore } from '../snippets/store.js';
import { deliveryStores } from '../snippets/wire-stores.js';
import { WebhookService } from '../http/webhook-service.js';
import { MetricsService } from '../http/metrics-service.js';
import { Metrics } from '../metrics/registry.js';
import { Readiness } from '../metrics/readiness.js';
import { pveEndpoint } from '../metrics/labels.js';
import { healthRoutes, metricsRoute } from '../metrics/routes.js';
import { CloneTasks } from './clone-tasks.js';
import { Daemon, type TickResult } from './daemon.js';
import { Executor } from './execute.js';
import { HiddenVmids } from './hidden-vmids.js';
import { ConfigWrites } from './config-writes.js';
import { Observer } from './observe.js';
import { PermissionLog } from './permission-log.js';
import { PollSchedule } from './poll-schedule.js';
import { QuickLook } from './quick-look.js';
import { RepoActivity } from './repo-activity.js';
import { defaultTimings, scaled, type Timings } from './timings.js';

export interface Wiring {
  daemon: Daemon;
  observer: Observer;
  executor: Executor;
  github: GithubApi;
  proxmox: ProxmoxApi;
  snippets: SnippetStore;
  config: Config;
  timings: Timings;
  /** which repositories each tick lists */
  schedule: PollSchedule;
  /** WEBHOOK_LISTEN is set: the listener to start (and stop) around daemon.run */
  webhook: WebhookService | undefined;
  /** METRICS_LISTEN is set: the metrics (served by the webhook's listener when the address is the same) */
  metrics: Metrics | undefined;
  /** METRICS_LISTEN names another address than WEBHOOK_LISTEN: its own listener, to start and stop */
  metricsListener: MetricsService | undefined;
  readiness: Readiness;
  /** a reload (SIGHUP): every part runs on `config` (as read, unscaled) from the next tick on */
  reconfigure: (config: Config) => void;
  /** what a valid pools.yaml still cannot change without a restart */
  reloadProblems: (config: Config) => ConfigProblem[];
}

export interface WireOptions {
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  /** > 1 runs every interval and timeout (pools' too) that many times faster: the demo's --speed. */
  timeScale?: number;
  /** Nodes whose snippet directories exist (SNIPPETS_DIR with {node}); default every pool's nodes. */
  nodes?: readonly string[];
  random?: () => number;
  /** see DaemonCommandOptions.timeOrigin */
  timeOrigin?: { realMs: number; scenarioMs: number };
  /** told of every tick the loop ran, after the webhook's nudges */
  onTicked?: (r: TickResult) => void;
}

const SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

function scalePools(config: Config, factor: number): Config {
  if (factor === 1) return config;
  const pools = config.pools.map((p): PoolConfig => ({
    ...p,
    bootTimeoutMs: p.bootTimeoutMs / factor,
    idleTimeoutMs: p.idleTimeoutMs / factor,
    maxJobDurationMs: p.maxJobDurationMs / factor,
    hotMaxAgeMs: p.hotMaxAgeMs / factor,
  }));
  return { ...config, pools };
}

/** Builds the daemon from settings: the one place that chooses implementations. */
export function wire(settings: Settings, o: WireOptions): Wiring {
  const factor = o.timeScale ?? 1;
  const timings = scaled(defaultTimings(settings.env.pollIntervalMs), factor);
  const config = scalePools(settings.config, factor);
  const env = settings.env;
  for (const s of [env.proxmox.tokenSecret, env.github.auth.kind === 'token' ? env.github.auth.token : env.github.auth.privateKey]) o.redactor.addPermanent(s.reveal());
  if (env.webhook) o.redactor.addPermanent(env.webhook.secret.reveal());

  const origin = o.timeOrigin;
  // GitHub's timestamps are in the scenario's time when the demo runs faster (and schedules are read in it).
  const wallTime = origin ? (now: number) => origin.scenarioMs + (now - origin.realMs) * factor : (now: number) => now;
  const metrics = env.metrics ? new Metrics({ config, timeScale: factor, wallTime, now: o.clock.now(), githubBudget: () => github.budget() }) : undefined;
  const readiness = new Readiness({ pollIntervalMs: timings.pollIntervalMs, timeScale: factor });
  const octokit = createGithubClient({
    apiUrl: env.github.apiUrl,
    auth:
      env.github.auth.kind === 'token'
        ? { kind: 'token', token: env.github.auth.token.reveal() }
        : { kind: 'app', appId: String(env.github.auth.appId), privateKey: env.github.auth.privateKey.reveal(), installationId: String(env.github.auth.installationId) },
    log: o.log,
    timeScale: timings.scale,
    clock: o.clock,
    ...(metrics ? { onRequest: (method: string, endpoint: string, status: number | 'error') => metrics.request('github', method, endpoint, status) } : {}),
  });
  const github = new OctokitGithubApi(octokit);
  const writes = new ConfigWrites();
  const pveClient = createProxmoxClient({
    url: env.proxmox.url,
    tokenId: env.proxmox.tokenId,
    tokenSecret: env.proxmox.tokenSecret.reveal(),
    verifySsl: env.proxmox.verifySsl,
    ca: env.proxmox.ca,
    ...(metrics ? { onResponse: (method: string, path: string, status: number | 'error') => metrics.request('proxmox', method, pveEndpoint(path), status) } : {}),
  });
  // everything but the observer's reads goes through the tracker: it says which descriptions to read again
  const proxmox = writes.watch(pveClient);
  // the takeover bound is a duration of the cluster's, so it runs faster with the demo's --speed
  const instance = { id: env.instance.id, takeoverAfterMs: env.instance.takeoverAfterMs / factor };
  const nodes = o.nodes ?? [...new Set(config.pools.flatMap((p) => p.nodes))];
  const dirStore = new DirSnippetStore(env.snippetsDir, nodes, env.proxmox.storage);
  const snippets = deliveryStores(config.pools, { dir: () => dirStore, sftp: env.sftp, storage: env.proxmox.storage, log: o.log, redactor: o.redactor });
  const hidden = new HiddenVmids({ proxmox, pools: config.pools, log: o.log, windowMs: timings.cloneTimeoutMs, staleProbeMs: timings.hiddenReprobeMs });
  const permissions = new PermissionLog(o.log, env.github.auth.kind);
  // asked only while observing, once the executor below exists
  const cloneTasks = new CloneTasks({ proxmox, pools: config.pools, log: o.log, tokenId: env.proxmox.tokenId, known: () => executor.cloneTasks() });
  const activity = new RepoActivity();
  const schedule = new PollSchedule({ github, activity, log: o.log, timings, webhook: env.webhook !== undefined, auth: env.github.auth.kind });
  const observer = new Observer({ config, github, proxmox: pveClient, snippets, log: o.log, hidden, cloneTasks, permissions, activity, metrics, writes, templateRecheckMs: timings.templateRecheckMs, schedule, repoCount: (n) => sizeCacheFor(octokit, n) });
  const quickLook = new QuickLook({ github, activity, clock: o.clock, log: o.log, timings, tickMs: () => schedule.tickMs(), ticks: schedule });
  const executor = new Executor({
    config,
    github,
    githubApiUrl: env.github.apiUrl,
    proxmox,
    proxmoxPool: env.proxmox.pool,
    snippets,
    hidden,
    clock: o.clock,
    log: o.log,
    timings,
    suffix: () => Array.from({ length: 4 }, () => SUFFIX_CHARS[randomInt(SUFFIX_CHARS.length)]).join(''),
    onSecret: (s) => o.redactor.add(s),
    permissions,
    metrics,
    instance,
  });
  const planConfigOf = (c: Config): PlanConfig => ({
    pools: c.pools,
    maxTotalRunners: c.maxTotalRunners,
    disableCleanup: env.disableCleanup,
    pauseOnStopped: env.pauseOnStopped,
    vmidCooldownMs: timings.vmidCooldownMs,
    hiddenVmidWindowMs: timings.cloneTimeoutMs,
    drainBootTimeoutMs: DRAIN_BOOT_TIMEOUT_MS / factor,
    instance,
  });
  // Schedules are wall-clock rules: read in the scenario's time when the demo runs faster (wallTime).
  const tierSizesOf = (c: Config) => (now: number) => new Map(c.pools.map((p) => [p.name, sizesInForce(p, wallTime(now))]));
  // One listener when both addresses are the same; every listener answers /healthz and /readyz.
  const health = healthRoutes(readiness, o.clock);
  const metricsRoutes = metrics ? [metricsRoute(metrics)] : [];
  const shared = env.webhook !== undefined && env.metrics !== undefined && env.webhook.host === env.metrics.host && env.webhook.port === env.metrics.port;
  const webhook = env.webhook ? new WebhookService(env.webhook, { target: { nudge: (why) => daemon.nudge(why), due: (repo) => schedule.nudge(repo) }, clock: o.clock, log: o.log, timeScale: factor, routes: new Map([...health, ...(shared ? metricsRoutes : [])]) }) : undefined;
  const metricsListener = env.metrics && !shared ? new MetricsService(env.metrics, new Map([...metricsRoutes, ...health]), o.log) : undefined;
  const loop = { tickStarted: (at: number) => metrics?.tickStarted(at), tickEnded: (at: number, r: Parameters<Readiness['tickEnded']>[1]) => (readiness.tickEnded(at, r), metrics?.tickEnded(at, r)) };
  const onTicked = webhook || o.onTicked ? (r: TickResult) => {
    webhook?.nudges.ticked(new Set(r.observation.jobs.map((j) => j.id)));
    o.onTicked?.(r);
  } : undefined;
  const daemon = new Daemon({ planConfig: planConfigOf(config), observer, executor, github, proxmox, clock: o.clock, log: o.log, timings, random: o.random ?? Math.random, tierSizes: tierSizesOf(config), onTicked, webhook: webhook !== undefined, quickLook, loop, tickMs: () => schedule.tickMs() });
  let current = config;
  const reconfigure = (read: Config) => {
    const c = scalePools(read, factor);
    daemon.reconfigure({
      planConfig: planConfigOf(c),
      tierSizes: tierSizesOf(c),
      apply: () => {
        observer.reconfigure(c);
        executor.reconfigure(c);
        hidden.setPools(c.pools);
        cloneTasks.setPools(c.pools);
        if (!o.nodes) dirStore.addNodes(c.pools.flatMap((p) => p.nodes));
        snippets.setPools(c.pools);
        current = c;
      },
    });
  };
  // The snippet stores are built at start: a reload cannot bring a delivery (or an SFTP node) they lack.
  const sftpNodes = new Set(config.pools.filter((p) => p.delivery === 'sftp').flatMap((p) => p.nodes));
  const reloadProblems = (next: Config): ConfigProblem[] => next.pools.flatMap((p, i) => {
    const lacking = !snippets.serves(p.delivery) ? `delivery: ${p.delivery} is used by no pool the daemon started with` : p.delivery === 'sftp' && p.nodes.some((n) => !sftpNodes.has(n)) ? `delivery: sftp reaches nodes ${p.nodes.filter((n) => !sftpNodes.has(n)).join(', ')}, which no sftp pool used at start` : undefined;
    return lacking ? [{ file: next.file, path: `pools[${i}].delivery`, message: `${lacking}: its snippet store is built at start`, fix: 'restart the daemon (systemctl restart pve-runners) to apply this change' }] : [];
  });
  return { daemon, observer, executor, github, proxmox, snippets, get config() { return current; }, timings, schedule, webhook, metrics, metricsListener, readiness, reconfigure, reloadProblems };
}
