/**
 * Quick looks between ticks (src/daemon/quick-look.ts): the daemon's loop, observer and GitHub
 * client against the simulated GitHub over real HTTP, on a clock only the test moves. Jobs here
 * match no pool, so ticks only observe (no VM is made): what a tick saw shows in the simulator's
 * request log (a run's jobs are read by full ticks only) and in the daemon's warnings.
 */
import type { Clock } from '../src/clock.js';
import type { Config, PoolConfig } from '../src/config/types.js';
import { Daemon } from '../src/daemon/daemon.js';
import { Executor } from '../src/daemon/execute.js';
import { Observer } from '../src/daemon/observe.js';
import { PollSchedule } from '../src/daemon/poll-schedule.js';
import { QuickLook } from '../src/daemon/quick-look.js';
import { RepoActivity } from '../src/daemon/repo-activity.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { memoryLogger } from '../src/log.js';
import { GithubSim } from '../src/sim/github/index.js';
import { Recorder, type LoggedRequest } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';
import { FakeProxmox, FakeSnippets } from './helpers/fakes.js';
import { ManualClock } from './helpers/manual-clock.js';
import { GiB, ULABELS, pool } from './helpers/planner-fixtures.js';

const POLL = 15_000;
const GPU = ['self-hosted', 'gpu']; // no pool has these: the job stays queued and is only observed

/** The daemon's clock over the manual one; knows which of the daemon's sleeps are pending. */
class SteppedClock implements Clock {
  readonly pending = new Set<{ at: number }>();
  constructor(private readonly m: ManualClock) {}
  now(): number {
    return this.m.wallEpochAt(this.m.nowMs());
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { at: this.m.nowMs() + ms };
      const done = () => {
        cancel();
        this.pending.delete(entry);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.pending.add(entry);
      const cancel = this.m.after(ms, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

interface Harness {
  clock: ManualClock;
  sim: GithubSim;
  log: LoggedRequest[];
  lines: string[];
  quickLook: QuickLook;
  proxmox: FakeProxmox;
  /** moves scenario time to `t`, one daemon wake-up at a time, each once the daemon is parked again */
  runTo(t: number): Promise<void>;
  stop(): Promise<void>;
}

async function start(repos: string[], opts: { webhook?: boolean; schedule?: boolean } = {}): Promise<Harness> {
  const scenario = parseScenario(`
seed: 5
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
github:
  repos: [${repos.join(', ')}]
workload: []
`, 'quick-look.yaml');
  const clock = new ManualClock();
  const recorder = new Recorder(() => clock.nowMs(), undefined, true, true);
  const sim = new GithubSim({ scenario, clock, rng: new Rng(scenario.seed), recorder });
  const { url, token } = await sim.start();
  const daemonClock = new SteppedClock(clock);
  const { log, lines } = memoryLogger({ format: 'json', level: 'debug' });
  const github = new OctokitGithubApi(createGithubClient({ apiUrl: url, auth: { kind: 'token', token }, log, clock: daemonClock }));
  const ubuntu: PoolConfig = pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 209 }, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } });
  const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos, orgs: [] }, maxTotalRunners: 8, pools: [ubuntu] };
  const calls: string[] = [];
  const proxmox = new FakeProxmox(calls);
  proxmox.nodes.push({ node: 'pve1', online: true, maxmem: 64 * GiB, mem: 0 });
  const snippets = new FakeSnippets(calls);
  const timings = defaultTimings(POLL);
  const activity = new RepoActivity();
  // as wire.ts has it: the poll schedule chooses the repositories and tells the looks what ticks cost
  const schedule = opts.schedule ? new PollSchedule({ github, activity, log, timings, webhook: false, auth: 'token' }) : undefined;
  const observer = new Observer({ config, github, proxmox, snippets, log, activity, ...(schedule ? { schedule } : {}) });
  const executor = new Executor({ config, github, githubApiUrl: url, proxmox, snippets, clock: daemonClock, log, timings, suffix: () => 'zz99' });
  const quickLook = new QuickLook({ github, activity, clock: daemonClock, log, timings, ...(schedule ? { tickMs: () => schedule.tickMs(), ticks: schedule } : {}) });
  const planConfig = { pools: config.pools, maxTotalRunners: 8, disableCleanup: false, pauseOnStopped: false, vmidCooldownMs: timings.vmidCooldownMs, hiddenVmidWindowMs: timings.cloneTimeoutMs };
  const daemon = new Daemon({ planConfig, observer, executor, github, proxmox, clock: daemonClock, log, timings, random: () => 0, webhook: opts.webhook, quickLook, ...(schedule ? { tickMs: () => schedule.tickMs() } : {}) });
  const stopper = new AbortController();
  let running: Promise<void> | undefined;
  // The daemon is parked when each of its activities waits on the clock: the loop (in a pause, or
  // the gap after one) and, while one runs, the quick look. Real time only bounds a hang.
  let watching = 0;
  const watch = quickLook.watch.bind(quickLook);
  quickLook.watch = async (signal, wake) => {
    watching++;
    try {
      await watch(signal, wake);
    } finally {
      watching--;
    }
  };
  const parked = async () => {
    const deadline = Date.now() + 30_000;
    while (daemonClock.pending.size < 1 + watching) {
      if (Date.now() > deadline) throw new Error(`daemon not parked at t=${clock.nowMs()}: ${daemonClock.pending.size} sleeps pending, ${watching} quick look(s) running`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return {
    clock, sim, log: recorder.requestLog, lines, quickLook, proxmox,
    async runTo(t) {
      running ??= daemon.run(stopper.signal);
      for (;;) {
        await parked();
        const next = Math.min(...[...daemonClock.pending].map((p) => p.at));
        if (next > t) break;
        clock.advance(next - clock.nowMs());
      }
      clock.advance(t - clock.nowMs());
    },
    async stop() {
      stopper.abort();
      await running;
      await sim.stop();
    },
  };
}

const path = (r: LoggedRequest) => (r.target ?? '').replace(/^GET /, '');
/** Times of full ticks: each lists the runners of every repository, which quick looks never do. */
const tickTimes = (log: LoggedRequest[], repo: string) => log.filter((r) => path(r) === `/repos/${repo}/actions/runners?per_page=100`).map((r) => r.t);
const queuedListings = (log: LoggedRequest[], repo: string) => log.filter((r) => path(r).startsWith(`/repos/${repo}/actions/runs?`) && path(r).includes('status=queued'));
/** Queued-run listings of `repo` made between ticks. */
function quickLooks(log: LoggedRequest[], repo: string): LoggedRequest[] {
  const ticks = new Set(tickTimes(log, repo));
  return queuedListings(log, repo).filter((r) => !ticks.has(r.t));
}
const firstJobsRead = (log: LoggedRequest[], runId: number) => log.find((r) => path(r).startsWith(`/repos/`) && path(r).includes(`/actions/runs/${runId}/jobs`))?.t;

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('quick looks between full ticks (no webhook)', () => {
  it('a job queued just after a tick in an active repository is seen well before the next full tick; an idle repository is never looked at', async () => {
    h = await start(['acme/active', 'acme/idle']);
    h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000); // GitHub lists a new run 3 s late (lag.jobs)
    await h.runTo(3_000); // first tick at 3 s: acme/active has a queued run, acme/idle nothing
    expect(tickTimes(h.log, 'acme/active')).toEqual([3_000]);

    const b = h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    const c = h.sim.queueRun('acme/idle', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    await h.runTo(7_000 + POLL + 1);

    // listed from 6 s; looks come every 2 s from the pause's start: the one at 7 s sees it
    const seenB = firstJobsRead(h.log, b)!;
    expect(seenB).toBe(7_000);
    expect(tickTimes(h.log, 'acme/active')).toEqual([3_000, 7_000, 22_000]);
    expect(h.lines.filter((l) => l.includes('"level":"info"') && l.includes('early tick'))).toEqual([expect.stringContaining(`"message":"quick look: run ${b} queued in acme/active, which the last tick did not see: early tick"`)]);
    // the idle repository's job waited for a full tick (the early one), and nothing looked at it before
    expect(firstJobsRead(h.log, c)).toBe(7_000);
    expect(quickLooks(h.log, 'acme/idle').filter((r) => r.t < 7_000)).toEqual([]);
    // (the look at 7 s shares its time with the tick it woke: two listings then)
    expect(queuedListings(h.log, 'acme/active').filter((r) => r.t === 7_000)).toHaveLength(2);
    expect(quickLooks(h.log, 'acme/active').map((r) => r.t)).toEqual([5_000, 9_000, 11_000, 13_000, 15_000, 17_000, 19_000, 21_000]);
    // from the early tick on, acme/idle has a queued run: it is active and looked at too
    expect(quickLooks(h.log, 'acme/idle').map((r) => r.t)).toEqual([9_000, 11_000, 13_000, 15_000, 17_000, 19_000, 21_000]);
  });

  it('unchanged listings are 304s: quick looks spend nothing of the primary limit', async () => {
    h = await start(['acme/active', 'acme/idle']);
    h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 4 * POLL + 1);
    const looks = quickLooks(h.log, 'acme/active');
    expect(looks.length).toBeGreaterThanOrEqual(4 * 6);
    expect(looks.filter((r) => r.status !== 304 || r.countedAgainstRateLimit)).toEqual([]);
    // between ticks, the primary remainder does not move
    const ticks = tickTimes(h.log, 'acme/active');
    const countedBetween = h.log.filter((r) => r.countedAgainstRateLimit && !ticks.includes(r.t));
    expect(countedBetween).toEqual([]);
  });

  it('the look rate never exceeds the cadence the budget allows', async () => {
    const repos = ['acme/a', 'acme/b', 'acme/c', 'acme/quiet'];
    h = await start(repos);
    for (const r of repos.slice(0, 3)) h.sim.queueRun(r, 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 6 * POLL + 1);
    const plan = h.quickLook.lastPlan;
    if (!plan?.on) throw new Error(`quick looks off: ${JSON.stringify(plan)}`);
    expect(plan.repos).toBe(3);
    const looks = repos.flatMap((r) => quickLooks(h!.log, r));
    expect(quickLooks(h.log, 'acme/quiet')).toEqual([]);
    // grouped by time, each look lists at most plan.repos repositories, looks at least everyMs apart
    const times = [...new Set(looks.map((r) => r.t))].sort((x, y) => x - y);
    for (const t of times) expect(looks.filter((r) => r.t === t).length).toBeLessThanOrEqual(plan.repos);
    for (let i = 1; i < times.length; i++) if (!tickTimes(h.log, 'acme/a').some((x) => x > times[i - 1]! && x < times[i]!)) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(plan.everyMs);
    // and over every minute, points within what the plan gives the looks
    for (let from = 3_000; from + 60_000 <= 3_000 + 6 * POLL; from += 15_000) {
      const points = looks.filter((r) => r.t >= from && r.t < from + 60_000).length;
      expect(points).toBeLessThanOrEqual(plan.pointsPerMinute / 2);
    }
    expect(looks.length).toBeGreaterThan(0);
  });

  it('early ticks come at once while the minute has room, and never more a minute than the plan allows', async () => {
    // 20 repositories, so the full ticks cost enough that the early ones are few a minute
    const repos = Array.from({ length: 20 }, (_, i) => `acme/r${String(i).padStart(2, '0')}`);
    h = await start(repos);
    h.sim.queueRun('acme/r00', 'CI', [{ labels: GPU, durationMs: 600_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 1);
    // a new run every 6 s for two minutes: more than the early ticks may chase
    for (let t = 3_000; t < 123_000; t += 6_000) {
      h.sim.queueRun('acme/r00', 'CI', [{ labels: GPU, durationMs: 600_000 }], false);
      await h.runTo(t + 6_000);
    }
    const plan = h.quickLook.lastPlan;
    if (!plan?.on) throw new Error(`quick looks off: ${JSON.stringify(plan)}`);
    const allowed = Math.floor(plan.earlyTicksPerMinute);
    expect(allowed).toBeGreaterThanOrEqual(1);
    expect(allowed).toBeLessThan(10);
    const early = h.lines.filter((l) => l.includes('which the last tick did not see: early tick')).length;
    expect(early).toBeGreaterThanOrEqual(2 * allowed - 1);
    // in any minute: the full ticks (4, one more at a window's edge) and at most `allowed` early ones
    const ticks = tickTimes(h.log, 'acme/r00');
    for (const from of ticks) expect(ticks.filter((t) => t >= from && t < from + 60_000).length).toBeLessThanOrEqual(5 + allowed);
  });

  it('makes no quick look when the full ticks already spend the secondary budget (60 repositories at 15 s)', async () => {
    const repos = Array.from({ length: 60 }, (_, i) => `acme/r${String(i).padStart(2, '0')}`);
    h = await start(repos);
    const late = h.sim.queueRun('acme/r00', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 1);
    h.sim.queueRun('acme/r00', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    await h.runTo(3_000 + 3 * POLL + 1);
    expect(h.quickLook.lastPlan).toEqual({ on: false, why: expect.stringMatching(/^full ticks already spend \d+ of 720 secondary-limit points a minute$/) });
    expect(repos.flatMap((r) => quickLooks(h!.log, r))).toEqual([]);
    expect(tickTimes(h.log, 'acme/r00')).toEqual([3_000, 18_000, 33_000, 48_000]);
    expect(firstJobsRead(h.log, late)).toBe(3_000);
  });

  it('looks during the first sweep of many repositories: its one-off first listings are not taken for a rate that would empty the hour', async () => {
    // 200 repositories: the schedule lists ~30 never-listed ones a tick, each counted once (no ETag
    // yet), ~90 counted a tick for minutes; taken as a rate (240 ticks to the reset) that would be
    // ~21,000 of 5,000, and the looks stopped for the whole sweep
    const repos = Array.from({ length: 200 }, (_, i) => `acme/r${String(i).padStart(3, '0')}`);
    h = await start(repos, { schedule: true });
    h.sim.queueRun('acme/r000', 'CI', [{ labels: GPU, durationMs: 600_000 }], false);
    h.clock.advance(3_000);
    // queued 2 s before the tick at 33 s, listed from 34 s: the tick misses it, the look at 35 s sees it
    await h.runTo(3_000 + 2 * POLL - 2_000 + 1);
    const late = h.sim.queueRun('acme/r000', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    await h.runTo(3_000 + 2 * POLL + 1);
    const ticksBefore = tickTimes(h.log, 'acme/r000').length;
    await h.runTo(3_000 + 3 * POLL - 1);
    expect(h.quickLook.lastPlan).toMatchObject({ on: true });
    expect(h.lines.filter((l) => l.includes('no quick looks: primary limit'))).toEqual([]);
    // seen by a look, and the early tick it woke came at once, the first this minute (spread evenly,
    // the early ticks the full ticks' ~90 points leave room for would come 2.5 s after a tick)
    const sawAt = queuedListings(h.log, 'acme/r000').find((r) => r.t > 33_001 && r.status === 200)!.t;
    expect(firstJobsRead(h.log, late)).toBe(sawAt);
    expect(firstJobsRead(h.log, late)).toBeLessThan(3_000 + 3 * POLL);
    expect(tickTimes(h.log, 'acme/r000').length).toBeGreaterThan(ticksBefore);
  });

  it('makes no quick look while the loop backs off after a failed tick', async () => {
    h = await start(['acme/active']);
    h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 1);
    h.proxmox.failNext.set('listVms', [new Error('connect ECONNREFUSED 127.0.0.1:8006')]);
    await h.runTo(18_000 + 1); // the tick at 18 s fails: the next comes 2 intervals later
    const b = h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    await h.runTo(48_000 + 1);
    expect(h.lines.filter((l) => l.includes('tick failed (1 in a row)'))).toHaveLength(1);
    expect(quickLooks(h.log, 'acme/active').filter((r) => r.t > 18_000)).toEqual([]);
    expect(firstJobsRead(h.log, b)).toBe(48_000);
  });

  it('makes no quick look when a webhook is configured', async () => {
    h = await start(['acme/active'], { webhook: true });
    h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    h.clock.advance(3_000);
    await h.runTo(3_000 + 1);
    const b = h.sim.queueRun('acme/active', 'CI', [{ labels: GPU, durationMs: 60_000 }], false);
    await h.runTo(3_000 + POLL + 1);
    expect(quickLooks(h.log, 'acme/active')).toEqual([]);
    expect(firstJobsRead(h.log, b)).toBe(18_000);
  });
});
