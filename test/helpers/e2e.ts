import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runDemo, type DemoOptions } from '../../src/cli/demo.js';
import type { Report } from '../../src/sim/report.js';
import type { Simulator } from '../../src/sim/simulator.js';

export const ROOT = resolve(process.cwd());
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface E2eResult {
  report: Report;
  /** every line the daemon(s) logged */
  logs: string[];
  progress: string[];
  /** every credential the simulator knows or handed out */
  secrets: string[];
  sim: { jobsByRunner: Map<string, number[]>; events: Array<{ t: number; what: string }>; requests: Simulator['ctx']['recorder']['requests'] };
}

/** A scenario file: a path under scenarios/ or inline YAML (written to a temp file). */
export function scenarioFile(nameOrYaml: string): string {
  if (!nameOrYaml.includes('\n')) return join(ROOT, 'scenarios', nameOrYaml);
  const dir = mkdtempSync(join(tmpdir(), 'pvr-e2e-'));
  const f = join(dir, 'scenario.yaml');
  writeFileSync(f, nameOrYaml);
  return f;
}

/** Runs `pve-runners demo` (simulator here, the built daemon as a child process) and collects what it saw. */
export async function runE2e(scenario: string, opts: Partial<DemoOptions> = {}): Promise<E2eResult> {
  const logs: string[] = [];
  const progress: string[] = [];
  let secrets: string[] = [];
  const jobsByRunner = new Map<string, number[]>();
  let events: Array<{ t: number; what: string }> = [];
  let requests: Simulator['ctx']['recorder']['requests'] = new Map();
  let invalid: string[] = [];
  const report = await runDemo({
    scenario: scenarioFile(scenario),
    pools: join(ROOT, 'pools.yaml'),
    speed: 20,
    daemonArgv: [process.execPath, CLI],
    baseEnv: process.env,
    // the scenarios' time limits are for people; a loaded test machine gets an hour of scenario time
    timeLimitMs: 3_600_000,
    daemonLog: (l) => logs.push(l),
    progress: (l) => progress.push(l),
    ...opts,
    inspect: (sim: Simulator) => {
      secrets = sim.secrets();
      for (const j of sim.ctx.recorder.jobs.values()) {
        if (j.runnerName) jobsByRunner.set(j.runnerName, [...(jobsByRunner.get(j.runnerName) ?? []), j.id]);
      }
      events = [...sim.ctx.recorder.events];
      requests = new Map(sim.ctx.recorder.requests);
      invalid = [...sim.ctx.recorder.invalidRequests];
      opts.inspect?.(sim);
    },
  });
  // Every request of every e2e run must be one the official schemas accept (PVE's parameter
  // verification, the methods PVE serves, GitHub's request bodies).
  expect(invalid).toEqual([]);
  return { report, logs, progress, secrets, sim: { jobsByRunner, events, requests } };
}

/** Lines of `text` that contain any secret (empty when none leaked). */
export function leakedSecrets(lines: readonly string[], secrets: readonly string[]): string[] {
  return lines.filter((l) => secrets.some((s) => s.length >= 8 && l.includes(s)));
}

export function zeroLeaks(r: Report): void {
  expect(r.leak_details).toEqual({ vms: [], registrations: [], snippets: [], foreign_touched: [] });
  expect(r.leaks).toEqual({ vms: 0, registrations: 0, snippets: 0, foreign_touched: 0 });
}
