import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';
import { tierPools, TWO_NODES } from './helpers/tier-scenarios.js';

/*
 * Issue 9: a schedule changes the warm size at the scenario times its rules fire (08:00 → 3,
 * 08:10 → 1; the pool's own size is 0), and a daemon SIGKILLed between the two rules comes back
 * with the earlier rule's size — not the pool's own 0 until the next firing, which would have
 * removed the warm VMs the first daemon made. Before 08:00 the size is 1: the latest rule to have
 * fired is yesterday's 08:10, not "none until the next firing".
 */
const SCENARIO = `
seed: 93
start_at: 2026-12-07T07:58:00Z
time_limit: 1500s
${TWO_NODES.trim()}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 900s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
`;

const POOLS = tierPools(['acme/app'], 8, `    timezone: UTC
    schedule:
      - {cron: "0 8 * * *", warm: 3}
      - {cron: "10 8 * * *", warm: 1}
`);

const FIRST_S = 120; // 08:00
const SECOND_S = 720; // 08:10
const KILL_S = 400;
/** a tick: 15 s poll + 10 % jitter, and 2 s for the daemon's own reaction at speed 20 on a loaded machine */
const TICK_S = 16.5 + 2;
/** time to act on a rule and see it met: a tick, then two linked clones one after the other under
 *  the node's storage lock (3 s each) with their configs, and margin for a loaded machine */
const MET_S = TICK_S + 2 * 3.5 + 15;

describe('e2e: sizes on a schedule', () => {
  it('follows each rule within a tick, and a restart between two rules keeps the earlier rule\'s sizes', async () => {
    const { report, logs, progress, secrets } = await runE2e(SCENARIO, { pools: poolsFile(POOLS), killAtMs: [KILL_S * 1000] });
    expect(progress.filter((l) => l.includes('SIGKILL'))).toHaveLength(1);
    expect(report.finished).toBe(true);
    expect(report.cap_violations).toBe(0);
    const series = report.pickup.tiers_over_time["ubuntu-2404"]!;
    const warmAt = (t: number) => [...series].reverse().find(([s]) => s <= t)?.[2] ?? 0;
    const between = (a: number, b: number) => series.filter(([s]) => s > a && s < b).map(([, , w]) => w);
    // 1 warm from the first tick (yesterday's 08:10 rule); 3 within a tick of 08:00; 3 all along to
    // 08:10, across the restart
    // (the daemon's first tick comes some scenario seconds in: a process start is long at speed 20)
    expect(between(0, FIRST_S)).toEqual([1]);
    expect(warmAt(FIRST_S)).toBe(1);
    // acted on within a tick: the first clone for 08:00's rule is asked for within TICK_S of it
    const clones = report.pickup.clone_requests_s['ubuntu-2404']!;
    expect(clones.find((t) => t >= FIRST_S)! - FIRST_S).toBeLessThanOrEqual(TICK_S);
    expect(warmAt(FIRST_S + MET_S)).toBe(3);
    expect(Math.min(...between(FIRST_S + MET_S, SECOND_S), warmAt(FIRST_S + MET_S))).toBe(3);
    expect(warmAt(SECOND_S - 1)).toBe(3);
    // 1 within a tick of 08:10 (removals only)
    expect(warmAt(SECOND_S + TICK_S + 3)).toBe(1);
    // both daemons said which rule was in force; the second from its first tick
    const inForce = logs.filter((l) => l.includes('hot 0, warm 3 in force (schedule rule #1)'));
    expect(inForce).toHaveLength(2);
    expect(logs.filter((l) => l.includes('warm VMs above the'))).toHaveLength(2); // 3 → 1 at 08:10, nothing at the restart
    zeroLeaks(report);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 900_000);
});
