import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadSettings, sizesInForce } from '../config/index.js';
import { selectPool } from '../config/labels.js';
import type { Config, TierSizes } from '../config/types.js';
import type { JobTimes } from '../sim/recorder.js';
import type { Report } from '../sim/report.js';
import { loadScenario } from '../sim/scenario.js';
import { Simulator, type SimEndpoints } from '../sim/simulator.js';
import { procStats } from './proc-stats.js';

export interface DemoOptions {
  scenario: string;
  pools: string;
  speed: number;
  /** argv that runs `pve-runners` (the daemon is started as `<argv> run`) */
  daemonArgv: string[];
  /** progress lines for people */
  progress?: (line: string) => void;
  /** every line the daemon logs (JSON) */
  daemonLog?: (line: string) => void;
  /** SIGKILL the daemon at these scenario times (ms) and start a fresh one: restart resilience */
  killAtMs?: number[];
  /** SIGKILL the daemon (and start a fresh one) the first time each of these holds, in order */
  killWhen?: Array<(sim: Simulator, daemonLogs: readonly string[]) => boolean>;
  /** the environment the daemon inherits (the CLI passes its own), before the simulator's settings */
  baseEnv?: Record<string, string | undefined>;
  /** extra environment for the daemon (e.g. DISABLE_CLEANUP); LOG_FORMAT is always json, LOG_LEVEL info or debug */
  env?: Record<string, string>;
  /** ticks the daemon gets after the workload has settled before leaks are counted (at least 2) */
  settleTicks?: number;
  /** ticks after which what is left counts as leaked even if the daemon is still removing it (default settleTicks + 4) */
  maxSettleTicks?: number;
  /** replaces the scenario's time_limit */
  timeLimitMs?: number;
  /** called every loop turn (~100 ms) while the daemon runs: tests act on the simulator mid-run */
  during?: (sim: Simulator, daemonLogs: readonly string[]) => void;
  /** told the process id of every daemon started (the bench samples its CPU and RSS from /proc) */
  onDaemonStart?: (pid: number) => void;
  /** the simulated nodes' storage directories (`<root>/<node>/snippets`); default a fresh temp dir */
  snippetsRoot?: string;
  /** called with the simulator after the run, before it stops (tests read its records, events included) */
  inspect?: (sim: Simulator) => void;
}

/**
 * The environment `pve-runners run` needs to serve the simulator: it authenticates as the
 * scenario's GitHub App when there is one, else with the static token.
 */
export function daemonEnv(e: SimEndpoints, poolsFile: string, speed: number): Record<string, string> {
  const nodes = Object.entries(e.proxmox.snippetsDirs);
  const [firstNode, firstDir] = nodes[0]!;
  const shared = nodes.every(([, d]) => d === firstDir);
  return {
    PROXMOX_URL: e.proxmox.url,
    PROXMOX_NODE: firstNode,
    PROXMOX_TOKEN_ID: e.proxmox.tokenId,
    PROXMOX_TOKEN_SECRET: e.proxmox.tokenSecret,
    PROXMOX_STORAGE: e.proxmox.storage,
    PROXMOX_POOL: 'pve-runners',
    SNIPPETS_DIR: shared ? firstDir : firstDir.split(`/${firstNode}/`).join('/{node}/'),
    GITHUB_API_URL: e.github.url,
    ...(e.github.app
      ? { GITHUB_APP_ID: String(e.github.app.id), GITHUB_APP_PRIVATE_KEY: e.github.app.privateKey, GITHUB_APP_INSTALLATION_ID: String(e.github.app.installationId) }
      : { GITHUB_TOKEN: e.github.token }),
    // the simulated GitHub delivers webhooks to whichever port the daemon got (it logs it)
    ...(e.github.webhook ? { WEBHOOK_LISTEN: '127.0.0.1:0', WEBHOOK_SECRET: e.github.webhook.secret } : {}),
    RUNNER_POOLS_CONFIG: poolsFile,
    // one installation against a fresh simulator; set here so a host without /etc/machine-id is no different
    INSTANCE_ID: 'demo',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    PVE_RUNNERS_TIME_SCALE: String(speed),
    ...(e.clockOrigin ? { PVE_RUNNERS_TIME_ORIGIN: `${e.clockOrigin.realMs}:${e.clockOrigin.scenarioMs}` } : {}),
  };
}

interface DaemonProc {
  child: ChildProcess;
  cpuS: number;
  peakRssMb: number;
  exited: Promise<void>;
}

/**
 * `pve-runners demo`: the simulator in this process, the daemon as a child process (the real
 * binary, configured only through its environment), until every job the pools can serve is done.
 */
export async function runDemo(o: DemoOptions): Promise<Report> {
  const scenario = loadScenario(o.scenario);
  const settings = loadPoolsOnly(o.pools, o.env);
  const caps = { total: settings.maxTotalRunners > 0 ? settings.maxTotalRunners : undefined, pools: Object.fromEntries(settings.pools.map((p) => [p.name, p.maxRunners])) };
  const isUnmatched = (j: JobTimes) => selectPool(settings.pools, j.labels) === undefined;
  // The hot and warm VMs the pools' sizes keep at the end are there on purpose: no leak.
  const standing = () => new Map(settings.pools.map((p) => [p.name, sizesInForce(p, sim.ctx.clock.epochMs())]));
  // a caller that inspects the simulator afterwards gets its event record too
  const sim = new Simulator(scenario, { speed: o.speed, caps, timeLimitMs: o.timeLimitMs, keepEvents: o.inspect !== undefined, ...(o.snippetsRoot !== undefined ? { snippetsRoot: o.snippetsRoot } : {}) });
  const endpoints = await sim.start();
  const env = { ...o.baseEnv, ...daemonEnv(endpoints, o.pools, o.speed), ...o.env };
  delete env.JOURNAL_STREAM;
  // the daemon's state for `status` (systemd's RuntimeDirectory= in production): one of its own
  const runtimeDir = o.env?.RUNTIME_DIRECTORY === undefined ? mkdtempSync(join(tmpdir(), 'pvr-demo-run-')) : undefined;
  if (runtimeDir) env.RUNTIME_DIRECTORY = runtimeDir;
  // The demo follows the daemon by its JSON tick lines (info): whatever LOG_FORMAT or LOG_LEVEL the
  // caller passes, the child logs JSON at info, or at debug when asked (which still shows the ticks).
  env.LOG_FORMAT = 'json';
  if (env.LOG_LEVEL?.trim().toLowerCase() !== 'debug') env.LOG_LEVEL = 'info';
  // GitHub credentials of the other kind inherited from the caller would make the daemon refuse both.
  const otherAuth = endpoints.github.app ? ['GITHUB_TOKEN', 'GITHUB_TOKEN_FILE'] : ['GITHUB_APP_ID', 'GITHUB_APP_PRIVATE_KEY', 'GITHUB_APP_PRIVATE_KEY_FILE', 'GITHUB_APP_INSTALLATION_ID'];
  for (const v of otherAuth) if (!(v in (o.env ?? {}))) delete env[v];
  let ticks = 0;
  const currentLogs: string[] = [];
  const daemons: DaemonProc[] = [];
  const startDaemon = (): DaemonProc => {
    const [cmd, ...args] = o.daemonArgv;
    const child = spawn(cmd!, [...args, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: dirname(o.pools) });
    const d: DaemonProc = { child, cpuS: 0, peakRssMb: 0, exited: new Promise((r) => child.once('exit', () => r())) };
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (line.includes('"message":"tick:')) ticks++;
        const listening = line.includes('"message":"webhook listener on ') ? /"webhook":"(http:\/\/[^"]+)"/.exec(line) : null;
        if (listening && daemons.at(-1) === d) sim.github.webhooks?.setTarget(`${listening[1]}/webhook`);
        if (daemons.at(-1) === d) currentLogs.push(line);
        o.daemonLog?.(line);
      });
    }
    daemons.push(d);
    if (child.pid !== undefined) o.onDaemonStart?.(child.pid);
    return d;
  };
  let current = startDaemon();
  const sample = () => {
    for (const d of daemons) {
      if (d.child.exitCode !== null || d.child.signalCode !== null || d.child.pid === undefined) continue;
      const s = procStats(d.child.pid);
      if (s) {
        d.cpuS = Math.max(d.cpuS, s.cpuS);
        d.peakRssMb = Math.max(d.peakRssMb, s.peakRssMb);
      }
    }
  };
  const kills = [...(o.killAtMs ?? [])].sort((a, b) => a - b);
  const killConditions = [...(o.killWhen ?? [])];
  const restart = async (why: string) => {
    o.progress?.(`[demo t=${Math.round(sim.clock.nowMs() / 1000)}s] SIGKILL daemon (pid ${current.child.pid}) ${why}, starting a new one`);
    current.child.kill('SIGKILL');
    await current.exited;
    currentLogs.length = 0;
    current = startDaemon();
  };
  const settleTicks = Math.max(2, o.settleTicks ?? 2);
  const maxSettleTicks = Math.max(settleTicks, o.maxSettleTicks ?? settleTicks + 4);
  let settledAtTick: number | undefined;
  let lastProgress = 0;
  let finished = false;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      sample();
      const now = sim.clock.nowMs();
      if (kills.length && now >= kills[0]!) {
        kills.shift();
        await restart('as scheduled');
      } else if (killConditions.length && killConditions[0]!(sim, currentLogs)) {
        killConditions.shift();
        await restart('on cue');
      }
      if (current.child.exitCode !== null) {
        // what it said last is why: a start-up refusal, a crash's stack
        const last = currentLogs.slice(-8).join('\n');
        throw new Error(`the daemon exited with code ${current.child.exitCode}; its last lines:\n${last}`);
      }
      o.during?.(sim, currentLogs);
      if (o.progress && now - lastProgress >= 30_000) {
        lastProgress = now;
        o.progress(progressLine(sim, now, isUnmatched));
      }
      if (settledAtTick === undefined && sim.workloadSettled(isUnmatched)) settledAtTick = ticks;
      if (settledAtTick !== undefined) {
        const after = ticks - settledAtTick;
        const clean = noLeaks(sim, standing());
        if ((after >= settleTicks && clean) || after >= maxSettleTicks) {
          finished = true;
          break;
        }
      }
      if (sim.timeUp()) break;
    }
  } finally {
    sample();
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
    await Promise.race([Promise.all(daemons.map((d) => d.exited)), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  }
  // a report that cannot be built (its own checks failed) must not leave the simulator serving
  try {
    const report = sim.report({
      finished,
      isUnmatched,
      pools: Object.fromEntries(settings.pools.map((p) => [p.name, { clone: p.clone, registration: p.registration }])),
      standing: standing(),
      controller: { cpu_s: round(daemons.reduce((n, d) => n + d.cpuS, 0)), max_rss_mb: round(Math.max(...daemons.map((d) => d.peakRssMb))) },
    });
    o.progress?.(progressLine(sim, sim.clock.nowMs(), isUnmatched));
    o.inspect?.(sim);
    return report;
  } finally {
    await sim.stop();
    if (runtimeDir) rmSync(runtimeDir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

function noLeaks(sim: Simulator, standing: ReadonlyMap<string, TierSizes>): boolean {
  const left = sim.leftovers(standing);
  return left.vms.length === 0 && left.snippets.length === 0 && left.registrations.length === 0;
}

function progressLine(sim: Simulator, now: number, isUnmatched: (j: JobTimes) => boolean): string {
  const jobs = [...sim.ctx.recorder.jobs.values()];
  const served = jobs.filter((j) => !isUnmatched(j));
  const done = served.filter((j) => j.completedAt !== undefined).length;
  const running = served.filter((j) => j.takenAt !== undefined && j.completedAt === undefined).length;
  const vms = sim.pve.leaks().vms.length;
  return `[demo t=${Math.round(now / 1000)}s] jobs ${done}/${served.length} done, ${running} running, ${served.length - done - running} waiting, ${jobs.length - served.length} unmatched; runner VMs ${vms} (peak ${sim.ctx.recorder.peakTotal})`;
}

/** The pools of a pools.yaml, without any environment: the demo only needs labels and caps. */
function loadPoolsOnly(file: string, env: Record<string, string> = {}): Config {
  // pools with delivery: sftp need the daemon's SFTP settings to load
  const sftp = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('SFTP_')));
  return loadSettings(
    { PROXMOX_URL: 'http://127.0.0.1:1/api2/json', PROXMOX_NODE: 'pve1', PROXMOX_TOKEN_ID: 'demo@pve!demo', PROXMOX_TOKEN_SECRET: '00000000-0000-4000-8000-000000000000', GITHUB_TOKEN: 'demo-placeholder', RUNNER_POOLS_CONFIG: file, ...sftp },
    {},
  ).config;
}
