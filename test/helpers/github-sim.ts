/**
 * Builds a simulated GitHub from an inline scenario fragment (the `github:` and `workload:` parts;
 * a minimal Proxmox section is added), on a fast clock, and real octokit clients pointed at it.
 */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { RealTimeClock } from '../../src/sim/clock.js';
import type { SimContext } from '../../src/sim/contracts.js';
import { GithubSim } from '../../src/sim/github/index.js';
import { Recorder } from '../../src/sim/recorder.js';
import { Rng } from '../../src/sim/rng.js';
import { parseScenario } from '../../src/sim/scenario.js';

/**
 * A `github:` line for tests of something other than listing lag (the engine's states, the routes):
 * they read what they just caused, so listings must show it at once.
 */
export const NO_LAG = '  lag: {jobs: 0s, runners: 0s, runner_deletion: 0s}';

export interface SimOptions {
  /** scenario ms per real ms; default 50 */
  speed?: number;
  /** the clock's epoch at scenario time 0 (default: the clock's own default) */
  startEpoch?: number;
  seed?: number;
}

export function githubContext(githubYaml: string, workloadYaml = 'workload: []', opts: SimOptions = {}): SimContext {
  const text = `
seed: ${opts.seed ?? 7}
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
${githubYaml}
${workloadYaml}
`;
  const scenario = parseScenario(text, 'inline.yaml');
  const clock = opts.startEpoch !== undefined ? new RealTimeClock(opts.speed ?? 50, opts.startEpoch) : new RealTimeClock(opts.speed ?? 50);
  return { scenario, clock, rng: new Rng(scenario.seed), recorder: new Recorder(() => clock.nowMs(), undefined, true) };
}

export interface RunningGithub {
  sim: GithubSim;
  ctx: SimContext;
  url: string;
  token: string;
  stop(): Promise<void>;
}

export async function startGithub(githubYaml: string, workloadYaml?: string, opts?: SimOptions): Promise<RunningGithub> {
  const ctx = githubContext(githubYaml, workloadYaml, opts);
  const sim = new GithubSim(ctx);
  const { url, token } = await sim.start();
  return {
    sim, ctx, url, token,
    stop: async () => {
      await sim.stop();
      ctx.clock.stop();
    },
  };
}

export type ThrottleEvent = { kind: 'primary' | 'secondary'; retryAfter: number; url: string };

/**
 * The daemon's client stack: Octokit with plugin-throttling and plugin-retry. Limit callbacks are
 * recorded in `events` and decline to retry (answer false) unless `retryLimits` is set.
 */
export function octokitFor(url: string, token: string, opts: { retryLimits?: boolean; retries?: number } = {}) {
  const events: ThrottleEvent[] = [];
  const ThrottledOctokit = Octokit.plugin(throttling, retry);
  const octokit = new ThrottledOctokit({
    auth: token,
    baseUrl: url,
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    request: { retries: opts.retries ?? 0 },
    retry: { retryAfterBaseValue: 10 },
    throttle: {
      onRateLimit: (retryAfter: number, options: { url: string }) => {
        events.push({ kind: 'primary', retryAfter, url: options.url });
        return opts.retryLimits ?? false;
      },
      onSecondaryRateLimit: (retryAfter: number, options: { url: string }) => {
        events.push({ kind: 'secondary', retryAfter, url: options.url });
        return opts.retryLimits ?? false;
      },
    },
  });
  return { octokit, events };
}

/** Plain Octokit without throttling (no 1 s spacing of writes), for tests about job flow. */
export function plainOctokit(url: string, token: string): Octokit {
  return new Octokit({ auth: token, baseUrl: url, log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
}

/** Waits (polling in real time) until `cond` holds; fails after `limitMs` scenario ms. */
export async function until(ctx: SimContext, cond: () => boolean, limitMs = 600_000): Promise<void> {
  const deadline = ctx.clock.nowMs() + limitMs;
  while (!cond()) {
    if (ctx.clock.nowMs() > deadline) throw new Error(`condition not reached within ${limitMs} scenario ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
