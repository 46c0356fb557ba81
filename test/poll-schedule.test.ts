/**
 * The poll schedule (src/daemon/poll-schedule.ts) over the plan: active repositories every tick,
 * idle ones in turn, a repository a webhook named at once, one warning when the budget cannot hold
 * POLL_INTERVAL.
 */
import { PollSchedule, type PolledRepo } from '../src/daemon/poll-schedule.js';
import { RepoActivity } from '../src/daemon/repo-activity.js';
import { defaultTimings } from '../src/daemon/timings.js';
import type { RateBudget } from '../src/github/api.js';
import { memoryLogger } from '../src/log.js';

const NOW = Date.UTC(2026, 11, 1, 12);
const repos: PolledRepo[] = Array.from({ length: 300 }, (_, i) => ({ repo: `acme/r${String(i).padStart(3, '0')}`, withRunners: true }));

function setUp(o: { webhook?: boolean } = {}) {
  const activity = new RepoActivity();
  let budget: RateBudget | undefined = { limit: 5000, remaining: 5000, resetAt: NOW + 3_600_000 };
  const { log, lines } = memoryLogger({ format: 'json' });
  const schedule = new PollSchedule({ github: { budget: () => budget }, activity, log, timings: defaultTimings(15_000), webhook: o.webhook ?? false, auth: 'token' });
  /** one tick at `now`: chooses, then "lists" what it chose (3 points each, as an idle repository costs) */
  const tick = (now: number) => {
    const chosen = schedule.choose(repos, 0, now);
    for (const r of chosen) schedule.listed(r, 3, now);
    return chosen;
  };
  return { activity, schedule, lines, tick, setBudget: (b: RateBudget | undefined) => (budget = b) };
}

describe('PollSchedule', () => {
  it('lists 30 of 300 idle repositories a tick (90 points at 15 s), each once in 10 ticks', () => {
    const { tick } = setUp();
    const seen = new Map<string, number>();
    for (let t = 0; t < 10; t++) {
      const chosen = tick(NOW + t * 15_000);
      expect(chosen.size).toBe(30);
      for (const r of chosen) seen.set(r, (seen.get(r) ?? 0) + 1);
    }
    expect(seen.size).toBe(300);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('lists an active repository every tick, and one a webhook named at the next tick', () => {
    const { tick, activity, schedule } = setUp();
    activity.saw('acme/r299', [7], 0, NOW);
    for (let t = 0; t < 5; t++) expect(tick(NOW + t * 15_000).has('acme/r299')).toBe(true);
    // five ticks listed r000–r149; r250's turn would be the ninth: a webhook's delivery brings it forward
    schedule.nudge('ACME/r250');
    const next = tick(NOW + 5 * 15_000);
    expect(next.has('acme/r250')).toBe(true);
    expect(next.has('acme/r150')).toBe(true);
    // the active one costs 3 of the 90 points: 29 idle ones, the named one first
    expect(next.size).toBe(30);
    // once: the nudge is spent
    expect(tick(NOW + 6 * 15_000).has('acme/r250')).toBe(false);
  });

  it('an early tick within an interval of the last sweep lists only the active and the named repositories; the next full tick lists the idle ones the whole period allows', () => {
    const { tick, activity, schedule } = setUp();
    activity.saw('acme/r299', [7], 0, NOW);
    expect(tick(NOW).size).toBe(30);
    expect(schedule.lastSwept()).toBe(true);
    // 5 s later (a quick look saw a run): r299 and the repository a webhook named, nothing in turn
    schedule.nudge('acme/r200');
    expect([...tick(NOW + 5_000)].sort()).toEqual(['acme/r200', 'acme/r299']);
    expect(schedule.lastSwept()).toBe(false);
    expect(schedule.earlyTickPoints()).toBe(3);
    // 20 s after the sweep: 20 s of the turn (120 points less r299's 3 → 39), none lost to the early tick
    const full = tick(NOW + 20_000);
    expect(schedule.lastSwept()).toBe(true);
    expect(full.has('acme/r299')).toBe(true);
    expect(full.size).toBe(40);
  });

  it('an early tick 1 s after a sweep still lists every repository a webhook named, up to an interval\'s share', () => {
    const { tick, schedule } = setUp({ webhook: true });
    tick(NOW);
    const named = ['acme/r100', 'acme/r150', 'acme/r200', 'acme/r250', 'acme/r299'];
    for (const r of named) schedule.nudge(r);
    expect([...tick(NOW + 1_000)].sort()).toEqual(named);
  });

  it('early ticks coming often never starve the idle repositories: the first tick an interval after the last sweep sweeps', () => {
    const { tick } = setUp();
    const seen = new Set<string>();
    let listings = 0;
    // a tick every 5 s for 10 minutes: every third one is 15 s after the last sweep
    for (let t = 0; t <= 600_000; t += 5_000) {
      const chosen = tick(NOW + t);
      listings += chosen.size;
      for (const r of chosen) seen.add(r);
    }
    expect(seen.size).toBe(300);
    // and the sweeps spend 360 points a minute in all, 3 a repository
    expect(listings).toBeLessThanOrEqual(10 * 120 + 30);
    expect(listings).toBeGreaterThanOrEqual(10 * 120 - 30);
  });

  it('warns once, at the first tick, with the interval it can hold', () => {
    const { tick, lines } = setUp();
    tick(NOW);
    tick(NOW + 15_000);
    const warnings = lines.filter((l) => l.includes('"level":"warning"'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('300 repositories cannot all be listed every 15s');
    expect(warnings[0]).toContain('the interval it can hold for all of them is 2.5 min');
    expect(warnings[0]).toContain('each at least every 2.5 min');
  });

  it('stretches the time between ticks when the primary limit would not last until the reset, at the rate measured over ticks', () => {
    const { schedule, setBudget } = setUp();
    const tickAt = (t: number, remaining: number, n: number) => {
      setBudget({ limit: 5000, remaining, resetAt: NOW + 3_600_000 });
      for (const r of schedule.choose(repos.slice(0, n), 0, NOW + t)) schedule.listed(r, 3, NOW + t);
    };
    tickAt(0, 1500, 5);
    tickAt(15_000, 1485, 10);
    // 15 counted, all by the 5 repositories listed for the first time: counted once, not a rate
    tickAt(30_000, 1470, 10);
    expect(schedule.tickMs()).toBe(15_000);
    // then 50 counted every 15 s: 100 in the 45 s measured, 33 a tick; 370 left above the margin
    // last 11 ticks, the reset is 59 min away
    tickAt(45_000, 1420, 10);
    tickAt(60_000, 1370, 10);
    expect(schedule.tickMs()).toBeCloseTo(((100 / 45_000) * 15_000 * (3_600_000 - 60_000)) / 370, 0);
    expect(schedule.plan?.limitedBy).toBe('primary');
  });

  it('takes 2,000 never-listed repositories only as fast as a personal token’s hour allows, and fills its other slots with repositories listed before', () => {
    const { schedule, setBudget } = setUp();
    const many: PolledRepo[] = Array.from({ length: 2000 }, (_, i) => ({ repo: `acme/m${String(i).padStart(4, '0')}`, withRunners: true }));
    const listedOnce = new Set<string>();
    let counted = 0;
    for (let t = 0; t < 240; t++) {
      const now = NOW + t * 15_000;
      setBudget({ limit: 5000, remaining: 5000 - counted, resetAt: NOW + 3_600_000 });
      for (const r of schedule.choose(many, 0, now)) {
        // a first listing is counted (3 requests); later ones are 304s
        if (!listedOnce.has(r)) counted += 3;
        listedOnce.add(r);
        schedule.listed(r, 3, now);
      }
    }
    // 4,000 counted allowed above the 20 % margin before the reset, spread over the hour; without the
    // allowance the secondary limit alone would take all 6,000 in the first 24 minutes
    expect(counted).toBeLessThanOrEqual(4000);
    expect(counted).toBeGreaterThan(3000);
    // the slots left over went to repositories listed before: every one of those was seen again
    expect(listedOnce.size).toBe(counted / 3);
  });
});
