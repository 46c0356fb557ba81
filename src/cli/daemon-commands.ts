import { probeRunnerVersions } from '../check/runner-version.js';
import { systemClock } from '../clock.js';
import { loadSettings, rereadPools, type Env } from '../config/index.js';
import type { TickResult } from '../daemon/daemon.js';
import type { ActionOutcome } from '../daemon/execute.js';
import { Reloader } from '../daemon/reload.js';
import { StateFile, type ActionLine } from '../daemon/state-file.js';
import { wire } from '../daemon/wire.js';
import { scopeKey } from '../github/scope.js';
import { createLogger, Redactor, type Logger } from '../log.js';
import { describingFailures, type Endpoints } from './failure.js';
import { buildStatus, type StatusReport } from './status.js';

export interface DaemonCommandOptions {
  env: Env;
  cwd: string;
  /** stdout for the plan of `once --dry-run` */
  out: (line: string) => void;
  /** where log lines go (stderr, i.e. journald under systemd) */
  write?: (line: string) => void;
  /** internal: the demo runs the daemon this many times faster than real time */
  timeScale?: number;
  /** internal: a moment in real and in scenario time, for reading schedules in the simulator's time */
  timeOrigin?: { realMs: number; scenarioMs: number };
}

function setup(o: DaemonCommandOptions, onTicked?: (r: TickResult) => void) {
  const redactor = new Redactor();
  const settings = loadSettings(o.env, { cwd: o.cwd });
  const log: Logger = createLogger({
    level: settings.env.logLevel,
    format: settings.env.logFormat,
    journald: o.env.JOURNAL_STREAM !== undefined && settings.env.logFormat !== 'json',
    secrets: redactor,
    write: o.write,
  });
  const w = wire(settings, { clock: systemClock, log, redactor, timeScale: o.timeScale, timeOrigin: o.timeOrigin, onTicked });
  const endpoints: Endpoints = { proxmoxUrl: settings.env.proxmox.url, githubUrl: settings.env.github.apiUrl };
  return { settings, log, w, endpoints, redactor };
}

function actionLine(at: number, x: ActionOutcome): ActionLine {
  const a = x.action;
  return { at, kind: a.kind, ...('pool' in a ? { pool: a.pool } : {}), ...('vmid' in a ? { vmid: a.vmid } : {}), ok: x.ok, reason: a.reason, ...(x.detail ? { detail: x.detail } : {}) };
}

/** `pve-runners run`: ticks until SIGTERM/SIGINT, then finishes what is in flight; SIGHUP reloads pools.yaml. */
export async function runCommand(o: DaemonCommandOptions & { stopSignal: Promise<void>; onReloadSignal?: (listener: () => void) => void }): Promise<number> {
  let ticked: ((r: TickResult) => void) | undefined;
  const { settings, log, w, endpoints, redactor } = setup(o, (r) => ticked?.(r));
  const c = settings.config;
  const clock = systemClock;
  const state = new StateFile<StatusReport>({ dir: settings.env.runtimeDir, log, redact: (s) => redactor.redact(s), init: { pid: process.pid, startedAt: clock.now(), pollIntervalMs: w.timings.pollIntervalMs, configFile: c.file } });
  state.update(clock.now(), {});
  ticked = (r) => {
    const budget = w.github.budget();
    const table = buildStatus(w.config, w.observer.scopes().map(scopeKey), r.observation, r.plan, budget ? { remaining: budget.remaining, limit: budget.limit, resetAt: budget.resetAt } : null);
    const now = clock.now();
    state.update(now, { table, actions: (r.outcomes ?? []).map((x) => actionLine(now, x)) });
  };
  const reloader = new Reloader({ read: () => {
    const r = rereadPools(settings.env);
    const more = r.config ? w.reloadProblems(r.config) : [];
    return more.length ? { config: undefined, problems: [...r.problems, ...more] } : r;
  }, apply: (next) => w.reconfigure(next), initial: c, clock, log, onReloaded: (s) => state.update(clock.now(), { reload: s }) });
  o.onReloadSignal?.(() => reloader.reload());
  log.info(`pve-runners starting: ${c.pools.length} pool(s) [${c.pools.map((p) => p.name).join(', ')}], ${c.github.repos.length} repo(s), ${c.github.orgs.length} org(s), poll every ${Math.round(w.timings.pollIntervalMs / 100) / 10}s, Proxmox ${settings.env.proxmox.url}, GitHub ${settings.env.github.apiUrl}, instance ${settings.env.instance.id} (${settings.env.instance.source === 'INSTANCE_ID' ? 'INSTANCE_ID' : settings.env.instance.source === 'machine-id' ? 'from /etc/machine-id' : 'default'})`);
  if (settings.env.instance.source === 'none') log.warn('INSTANCE_ID is not set and /etc/machine-id cannot be read: this installation is instance \'default\', which another installation without an id cannot be told from; set INSTANCE_ID in the env file (install.sh writes one)');
  // A stale runner in a template fails quietly (GitHub just stops assigning jobs): say so at start.
  void probeRunnerVersions({ proxmox: w.proxmox, github: w.github, config: c })
    .then((lines) => {
      for (const l of lines) if (l.status !== 'ok') log.warn(`${l.what}: ${l.problem}${l.fix ? `; fix: ${l.fix}` : ''}`);
    })
    .catch(() => {});
  const abort = new AbortController();
  void o.stopSignal.then(() => {
    log.info('signal received: finishing in-flight actions, starting no new ones');
    abort.abort();
  });
  if (w.webhook) {
    // bound before the first tick: a bad WEBHOOK_LISTEN stops the start (exit 78), not a running daemon
    const at = await w.webhook.start();
    log.info(`webhook listener on ${at.url}/webhook (workflow_job deliveries wake the loop; polling stays the truth)`, { webhook: at.url });
    if (w.metrics && !w.metricsListener) log.info(`metrics on ${at.url}/metrics (the webhook's listener; also /healthz, /readyz)`, { metrics: at.url });
  }
  if (w.metricsListener) {
    const at = await w.metricsListener.start();
    log.info(`metrics on ${at.url}/metrics (also /healthz, /readyz)`, { metrics: at.url });
  }
  try {
    // The loop logs a failed tick and carries on; only what escapes it ends the command.
    await describingFailures('run', endpoints, () => w.daemon.run(abort.signal));
  } finally {
    await w.webhook?.stop();
    await w.metricsListener?.stop();
  }
  return 0;
}

/** `pve-runners once [--dry-run]`: one tick; with --dry-run the plan is printed and nothing changes. */
export async function onceCommand(o: DaemonCommandOptions & { dryRun: boolean }): Promise<number> {
  const { log, w, endpoints } = setup(o);
  const { plan } = await describingFailures('once', endpoints, () => w.daemon.tick({ dryRun: o.dryRun }));
  if (o.dryRun) {
    o.out(JSON.stringify({ actions: plan.actions, pools: plan.pools, unmatched: plan.unmatched, notes: plan.notes }, null, 2));
    return 0;
  }
  const done = await w.executor.idle(w.timings.shutdownGraceMs);
  if (!done) log.warn('once: actions still in flight after the grace period; the next run finishes or removes them');
  const failed = w.executor.drainOutcomes().filter((x) => !x.ok).length;
  return failed > 0 ? 1 : 0;
}
