import { randomInt } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Settings } from '../config/index.js';
import type { Config, PoolConfig } from '../config/types.js';
import { sizesInForce } from '../config/schedule.js';
import type { GithubApi } from '../github/api.js';
import { createGithubClient } from '../github/octokit.js';
import { OctokitGithubApi } from '../github/octokit-api.js';
import type { Logger, Redactor } from '../log.js';
import type { PlanConfig } from '../planner/plan.js';
import { DRAIN_BOOT_TIMEOUT_MS } from '../planner/drain.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { createProxmoxClient } from '../proxmox/client.js';
import { DirSnippetStore, type SnippetStore } from '../snippets/store.js';
import { WebhookService } from '../http/webhook-service.js';
import { CloneTasks } from './clone-tasks.js';
import { Daemon, type TickResult } from './daemon.js';
import { Executor } from './execute.js';
import { HiddenVmids } from './hidden-vmids.js';
import { Observer } from './observe.js';
import { PermissionLog } from './permission-log.js';
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
  /** WEBHOOK_LISTEN is set: the listener to start (and stop) around daemon.run */
  webhook: WebhookService | undefined;
  /** a reload (SIGHUP): every part runs on `config` (as read, unscaled) from the next tick on */
  reconfigure: (config: Config) => void;
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

  const octokit = createGithubClient({
    apiUrl: env.github.apiUrl,
    auth:
      env.github.auth.kind === 'token'
        ? { kind: 'token', token: env.github.auth.token.reveal() }
        : { kind: 'app', appId: String(env.github.auth.appId), privateKey: env.github.auth.privateKey.reveal(), installationId: String(env.github.auth.installationId) },
    log: o.log,
    timeScale: timings.scale,
    clock: o.clock,
  });
  const github = new OctokitGithubApi(octokit);
  const proxmox = createProxmoxClient({
    url: env.proxmox.url,
    tokenId: env.proxmox.tokenId,
    tokenSecret: env.proxmox.tokenSecret.reveal(),
    verifySsl: env.proxmox.verifySsl,
    ca: env.proxmox.ca,
  });
  const nodes = o.nodes ?? [...new Set(config.pools.flatMap((p) => p.nodes))];
  const snippets = new DirSnippetStore(env.snippetsDir, nodes, env.proxmox.storage);
  const hidden = new HiddenVmids({ proxmox, pools: config.pools, log: o.log, windowMs: timings.cloneTimeoutMs, staleProbeMs: timings.hiddenReprobeMs });
  const permissions = new PermissionLog(o.log, env.github.auth.kind);
  // asked only while observing, once the executor below exists
  const cloneTasks = new CloneTasks({ proxmox, pools: config.pools, log: o.log, tokenId: env.proxmox.tokenId, known: () => executor.cloneTasks() });
  const activity = new RepoActivity();
  const observer = new Observer({ config, github, proxmox, snippets, log: o.log, hidden, cloneTasks, permissions, activity });
  const quickLook = new QuickLook({ github, activity, clock: o.clock, log: o.log, timings });
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
  });
  const planConfigOf = (c: Config): PlanConfig => ({
    pools: c.pools,
    maxTotalRunners: c.maxTotalRunners,
    disableCleanup: env.disableCleanup,
    pauseOnStopped: env.pauseOnStopped,
    vmidCooldownMs: timings.vmidCooldownMs,
    hiddenVmidWindowMs: timings.cloneTimeoutMs,
    drainBootTimeoutMs: DRAIN_BOOT_TIMEOUT_MS / factor,
  });
  // Schedules are wall-clock rules: read in the scenario's time when the demo runs faster.
  const origin = o.timeOrigin;
  const wallTime = origin ? (now: number) => origin.scenarioMs + (now - origin.realMs) * factor : (now: number) => now;
  const tierSizesOf = (c: Config) => (now: number) => new Map(c.pools.map((p) => [p.name, sizesInForce(p, wallTime(now))]));
  const webhook = env.webhook ? new WebhookService(env.webhook, { target: { nudge: (why) => daemon.nudge(why) }, clock: o.clock, log: o.log, timeScale: factor }) : undefined;
  const onTicked = webhook || o.onTicked ? (r: TickResult) => {
    webhook?.nudges.ticked(new Set(r.observation.jobs.map((j) => j.id)));
    o.onTicked?.(r);
  } : undefined;
  const daemon = new Daemon({ planConfig: planConfigOf(config), observer, executor, github, proxmox, clock: o.clock, log: o.log, timings, random: o.random ?? Math.random, tierSizes: tierSizesOf(config), onTicked, webhook: webhook !== undefined, quickLook });
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
        if (!o.nodes) snippets.addNodes(c.pools.flatMap((p) => p.nodes));
        current = c;
      },
    });
  };
  return { daemon, observer, executor, github, proxmox, snippets, get config() { return current; }, timings, webhook, reconfigure };
}
