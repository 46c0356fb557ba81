/**
 * Daemon.nudge: wakes the pause between ticks, never runs two ticks at once, and a nudge during a
 * tick makes one more tick right after it (once). Real Observer and Executor on fakes, manual clock.
 */
import type { Config, PoolConfig } from '../src/config/types.js';
import { Daemon } from '../src/daemon/daemon.js';
import { Executor } from '../src/daemon/execute.js';
import { Observer } from '../src/daemon/observe.js';
import { defaultTimings } from '../src/daemon/timings.js';
import { memoryLogger } from '../src/log.js';
import { FakeGithub, FakeProxmox, FakeSnippets, type Call } from './helpers/fakes.js';
import { ManualDaemonClock, settle } from './helpers/manual-daemon-clock.js';
import { GiB, ULABELS, pool } from './helpers/planner-fixtures.js';

const ubuntu: PoolConfig = pool({ name: 'ubuntu', labels: ULABELS, vmidRange: { lo: 200, hi: 209 }, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } });
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu] };
const POLL = 120_000;

function setup() {
  const calls: Call[] = [];
  const clock = new ManualDaemonClock();
  const proxmox = new FakeProxmox(calls);
  proxmox.nodes.push({ node: 'pve1', online: true, maxmem: 64 * GiB, mem: 0 });
  const { log } = memoryLogger({ format: 'json' });
  const github = new FakeGithub(calls);
  const snippets = new FakeSnippets(calls);
  const timings = defaultTimings(POLL);
  const executor = new Executor({ config, github, githubApiUrl: 'https://api.github.com', proxmox, snippets, clock, log, timings, suffix: () => 'zz99' });
  const observer = new Observer({ config, github, proxmox, snippets, log });
  const starts: number[] = [];
  let running = 0;
  let mostAtOnce = 0;
  let duringNextTick: (() => void) | undefined;
  const observe = observer.observe.bind(observer);
  observer.observe = async (...args) => {
    starts.push(clock.manual.nowMs());
    mostAtOnce = Math.max(mostAtOnce, ++running);
    const during = duringNextTick;
    duringNextTick = undefined;
    try {
      during?.();
      await settle(1);
      return await observe(...args);
    } finally {
      running--;
    }
  };
  const planConfig = { pools: config.pools, maxTotalRunners: 8, disableCleanup: false, pauseOnStopped: false, vmidCooldownMs: timings.vmidCooldownMs, hiddenVmidWindowMs: timings.cloneTimeoutMs };
  const ticked: number[] = [];
  const daemon = new Daemon({ planConfig, observer, executor, github, proxmox, clock, log, timings, random: () => 0, onTicked: () => ticked.push(clock.manual.nowMs()) });
  return { clock, daemon, starts, ticked, mostAtOnce: () => mostAtOnce, during: (f: () => void) => (duringNextTick = f) };
}

describe('Daemon.nudge', () => {
  it('ends the pause: the next tick comes after minTickGap, not after the poll interval; many nudges, one tick', async () => {
    const s = setup();
    const stop = new AbortController();
    const run = s.daemon.run(stop.signal);
    await settle();
    expect(s.ticked).toEqual([0]);
    await s.clock.advance(30_000);
    expect(s.ticked).toEqual([0]);
    for (let i = 0; i < 5; i++) s.daemon.nudge(`delivery ${i}`);
    await settle();
    expect(s.ticked).toEqual([0, 30_000]); // the tick started 30 s ago, so minTickGap is long past
    await s.clock.advance(POLL - 1);
    expect(s.ticked).toEqual([0, 30_000]);
    await s.clock.advance(1);
    expect(s.ticked).toEqual([0, 30_000, 30_000 + POLL]);
    stop.abort();
    await run;
    expect(s.mostAtOnce()).toBe(1);
  });

  it('right after a tick it waits for minTickGap (1 s) before the early tick', async () => {
    const s = setup();
    const stop = new AbortController();
    const run = s.daemon.run(stop.signal);
    await settle();
    s.daemon.nudge('at once');
    await settle();
    expect(s.ticked).toEqual([0]);
    await s.clock.advance(999);
    expect(s.ticked).toEqual([0]);
    await s.clock.advance(1);
    expect(s.ticked).toEqual([0, 1000]);
    stop.abort();
    await run;
  });

  it('a nudge during a tick makes one more tick right after it, once, never two at once', async () => {
    const s = setup();
    const stop = new AbortController();
    const run = s.daemon.run(stop.signal);
    await settle();
    await s.clock.advance(10_000);
    s.during(() => {
      s.daemon.nudge('during the tick');
      s.daemon.nudge('and again');
    });
    s.daemon.nudge('wake');
    await settle();
    expect(s.ticked).toEqual([0, 10_000]);
    await s.clock.advance(1000); // minTickGap after the tick that was nudged while running
    expect(s.ticked).toEqual([0, 10_000, 11_000]);
    await s.clock.advance(POLL - 1);
    expect(s.ticked).toEqual([0, 10_000, 11_000]); // once: then the poll interval again
    await s.clock.advance(1);
    expect(s.ticked).toHaveLength(4);
    expect(s.mostAtOnce()).toBe(1);
    stop.abort();
    await run;
  });
});
