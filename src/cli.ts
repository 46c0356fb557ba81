#!/usr/bin/env node
/**
 * The command line. The only place that reads process.env and argv and owns the process's exit code;
 * everything below gets what it needs passed in.
 */
import { parseArgs } from 'node:util';
import { onceCommand, runCommand } from './cli/daemon-commands.js';
import { parseDuration } from './util/duration.js';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { CommandFailure } from './cli/failure.js';
import { DAEMON_NODE_FLAGS } from './cli/node-flags.js';
import { ConfigError } from './config/index.js';
import { Redactor } from './log.js';

const USAGE = `usage: pve-runners <command> [options]

commands:
  run                      the daemon: one tick every POLL_INTERVAL seconds; SIGHUP reloads pools.yaml
  once [--dry-run]         one tick; --dry-run prints the plan and changes nothing
  check                    validate configuration and probe Proxmox and GitHub
  status [--json|--watch]  pools: queued jobs, VMs by state, runners, capacity left, the last reload;
                           --watch: the running daemon's view, redrawn every poll interval
  sim --scenario FILE [--webhook-url URL]
                           the simulated Proxmox VE + GitHub alone (prints how to reach them);
                           with github.webhook, deliveries go to URL (e.g. http://127.0.0.1:8080/webhook)
  demo [--scenario FILE] [--pools FILE] [--speed N] [--json]
                           simulator + daemon until the scenario's jobs are done, then a report

exit codes: 0 ok, 1 runtime failure, 78 configuration error`;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 78;

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * SIGHUP (`systemctl reload`, ExecReload=/bin/kill -HUP $MAINPID) asks for pools.yaml to be read
 * again. Caught from the start: Node's default for SIGHUP is to exit, and a reload sent while the
 * daemon still starts is kept for it.
 */
function reloadSignal(): (listener: () => void) => void {
  let listener: (() => void) | undefined;
  let pending = false;
  process.on('SIGHUP', () => {
    if (listener) listener();
    else pending = true;
  });
  return (l) => {
    listener = l;
    if (pending) {
      pending = false;
      l();
    }
  };
}

function positiveNumber(name: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got '${value}'`);
  return n;
}

class UsageError extends Error {}

/** Internal, set by `demo` for the daemon it starts: run every interval and timeout this many times faster. */
function timeScale(): number {
  return positiveNumber('PVE_RUNNERS_TIME_SCALE', process.env.PVE_RUNNERS_TIME_SCALE, 1);
}

/**
 * Internal, set by `demo`: `<real epoch ms>:<scenario epoch ms>` of one moment, so schedules are
 * read in the simulator's time, which runs `timeScale` times faster than the daemon's clock.
 */
function timeOrigin(): { realMs: number; scenarioMs: number } | undefined {
  const v = process.env.PVE_RUNNERS_TIME_ORIGIN;
  if (v === undefined) return undefined;
  const m = /^(\d+):(\d+)$/.exec(v);
  if (!m) throw new UsageError(`PVE_RUNNERS_TIME_ORIGIN must be <real ms>:<scenario ms>, got '${v}'`);
  return { realMs: Number(m[1]), scenarioMs: Number(m[2]) };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(line + '\n');
  const err = (line: string) => process.stderr.write(line + '\n');
  switch (command) {
    case 'sim': {
      const { values } = parseArgs({ args: rest, options: { scenario: { type: 'string' }, speed: { type: 'string' }, 'webhook-url': { type: 'string' } }, strict: true });
      if (!values.scenario) throw new UsageError('sim needs --scenario FILE');
      const webhookUrl = values['webhook-url'];
      if (webhookUrl !== undefined && !/^https?:\/\/[^\s?#]+$/.test(webhookUrl)) throw new UsageError(`--webhook-url must be an http(s) URL without query or fragment, got '${webhookUrl}'`);
      const { simCommand } = await import('./cli/sim-command.js');
      return simCommand({ scenario: values.scenario, speed: positiveNumber('speed', values.speed, 1), webhookUrl, out, err, stopSignal: stopSignal() });
    }
    case 'run': {
      parseArgs({ args: rest, options: {}, strict: true });
      const onReloadSignal = reloadSignal();
      return runCommand({ env: process.env, cwd: process.cwd(), out, timeScale: timeScale(), timeOrigin: timeOrigin(), stopSignal: stopSignal(), onReloadSignal });
    }
    case 'once': {
      const { values } = parseArgs({ args: rest, options: { 'dry-run': { type: 'boolean' } }, strict: true });
      return onceCommand({ env: process.env, cwd: process.cwd(), out, dryRun: values['dry-run'] ?? false, timeScale: timeScale(), timeOrigin: timeOrigin() });
    }
    case 'check': {
      parseArgs({ args: rest, options: {}, strict: true });
      const { checkCommand } = await import('./cli/check.js');
      return checkCommand({ env: process.env, cwd: process.cwd(), out });
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, watch: { type: 'boolean' } }, strict: true });
      if (values.watch) {
        if (values.json) throw new UsageError('--watch draws a table for people; without it, --json prints one report');
        const { watchCommand } = await import('./cli/status-watch.js');
        const write = (s: string) => process.stdout.write(s);
        return watchCommand({ env: process.env, cwd: process.cwd(), write, err, isTTY: process.stdout.isTTY === true, stopSignal: stopSignal() });
      }
      const { statusCommand } = await import('./cli/status.js');
      return statusCommand({ env: process.env, cwd: process.cwd(), out, err, json: values.json ?? false });
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { scenario: { type: 'string' }, pools: { type: 'string' }, speed: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean' }, 'kill-daemon-at': { type: 'string', multiple: true } },
        strict: true,
      });
      const root = join(dirname(fileURLToPath(import.meta.url)), '..');
      // the simulator is loaded by the commands that run it, never by the daemon (its schemas, its code: ~8 MB, 0.3 s)
      const [{ runDemo }, { formatReport }] = await Promise.all([import('./cli/demo.js'), import('./cli/report-text.js')]);
      const report = await runDemo({
        scenario: resolve(values.scenario ?? join(root, 'scenarios', 'demo.yaml')),
        pools: resolve(values.pools ?? join(root, 'pools.yaml')),
        speed: positiveNumber('speed', values.speed, 10),
        daemonArgv: [process.execPath, ...DAEMON_NODE_FLAGS, fileURLToPath(import.meta.url)],
        baseEnv: process.env,
        killAtMs: (values['kill-daemon-at'] ?? []).map((d) => parseDuration(d)),
        progress: err,
        daemonLog: values.verbose ? err : undefined,
      });
      out(values.json ? JSON.stringify(report) : formatReport(report));
      const leaks = report.leaks.vms + report.leaks.registrations + report.leaks.snippets + report.leaks.foreign_touched;
      return report.finished && leaks === 0 && report.cap_violations === 0 ? EXIT_OK : EXIT_FAILURE;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? EXIT_CONFIG : EXIT_OK;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`pve-runners: ${(e as Error).message}\n\n${USAGE}\n`);
      process.exit(EXIT_CONFIG);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`pve-runners: configuration error:\n${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    // by name: importing ScenarioError would load the simulator's scenario schema into every command
    if (e instanceof Error && e.name === 'ScenarioError') {
      process.stderr.write(`pve-runners: ${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    if (e instanceof CommandFailure) {
      // Token-shaped strings never reach the terminal, whatever a service echoed into its error.
      process.stderr.write(`pve-runners: ${new Redactor().redact(e.message)}\n`);
      process.exit(EXIT_FAILURE);
    }
    process.stderr.write(`pve-runners: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
