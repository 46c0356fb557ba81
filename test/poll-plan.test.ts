/**
 * The poll plan (src/github/poll-plan.ts): which repositories a tick lists and how often ticks
 * come, inside the ticks' share of GitHub's secondary limit, and stretched when the primary limit's
 * remainder would not last until its reset.
 */
import { SECONDARY_POINTS_PER_MINUTE } from '../src/github/budget.js';
import { DEFAULT_POLL_POLICY, pickIdle, planWarning, pollPlan, tickPointsPerMinute, type PollPlanInput } from '../src/github/poll-plan.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.UTC(2026, 11, 1, 12);

/** `repos` repository scopes at POLL_INTERVAL 15 s, 5 of them active with 2 runs each. */
function input(repos: number, over: Partial<PollPlanInput> = {}): PollPlanInput {
  const active = Math.min(5, repos);
  return {
    minuteMs: MIN,
    pollIntervalMs: 15_000,
    everyTickPoints: active * (3 + 2),
    idleRepos: repos - active,
    idlePoints: 3,
    tickCounted: 10,
    primary: { limit: 5000, remaining: 4900, resetAt: NOW + HOUR },
    now: NOW,
    policy: DEFAULT_POLL_POLICY,
    ...over,
  };
}

/** Points a minute the ticks send under a plan. */
const spend = (i: PollPlanInput) => {
  const p = pollPlan(i);
  return ((i.everyTickPoints + p.idlePerTick * i.idlePoints) * i.minuteMs) / p.tickMs;
};

describe('pollPlan', () => {
  it('lists every repository every tick when the budget holds them all (10 repositories)', () => {
    const p = pollPlan(input(10));
    expect(p).toMatchObject({ tickMs: 15_000, idlePerTick: 5, idleEveryMs: 15_000, limitedBy: undefined });
    expect(p.allEveryMs).toBe(15_000);
  });

  it.each([
    // repos, idle per tick, idle bound (s), interval that holds all (s)
    [100, 21, 75, 52],
    [500, 21, 360, 252],
    [2000, 21, 1425, 1002],
  ])('at %i repositories lists the active ones every tick and %i idle ones, each within %i s; all would need %i s', (repos, perTick, boundS, allS) => {
    const i = input(repos);
    const p = pollPlan(i);
    expect(p.tickMs).toBe(15_000);
    expect(p.limitedBy).toBe('secondary');
    expect(p.idlePerTick).toBe(perTick);
    expect(p.idleEveryMs / 1000).toBe(boundS);
    expect(Math.round(p.allEveryMs / 1000)).toBe(allS);
    // never more than the ticks' share, which is below GitHub's 900 with the margin
    expect(spend(i)).toBeLessThanOrEqual(tickPointsPerMinute(DEFAULT_POLL_POLICY));
    expect(tickPointsPerMinute(DEFAULT_POLL_POLICY)).toBe(SECONDARY_POINTS_PER_MINUTE * 0.8 * 0.5);
  });

  it('stretches the interval when even the active repositories do not fit, and still lists one idle repository a tick', () => {
    const i = input(500, { everyTickPoints: 200 });
    const p = pollPlan(i);
    // (200 + 3) points at 360 a minute: a tick every 33.8 s
    expect(p.tickMs).toBeCloseTo((203 * MIN) / 360, 0);
    expect(p.idlePerTick).toBe(1);
    expect(p.idleEveryMs).toBeCloseTo(495 * p.tickMs, 0);
    expect(spend(i)).toBeLessThanOrEqual(360 + 1e-9);
  });

  it('stretches the interval when the primary limit left would not last until the reset', () => {
    // 40 counted a tick, 1,500 left of which 1,000 are the margin: 500 last 12.5 ticks, the reset is an hour away
    const p = pollPlan(input(10, { tickCounted: 40, primary: { limit: 5000, remaining: 1500, resetAt: NOW + HOUR } }));
    expect(p.limitedBy).toBe('primary');
    expect(p.tickMs).toBe((40 * HOUR) / 500);
    // with the margin spent, the next tick waits for the reset
    expect(pollPlan(input(10, { primary: { limit: 5000, remaining: 900, resetAt: NOW + 20 * MIN } })).tickMs).toBe(20 * MIN);
    // a few counted requests against a full budget change nothing
    expect(pollPlan(input(10, { tickCounted: 5 })).tickMs).toBe(15_000);
  });

  it('scales with the demo clock: a faster minute gives proportionally shorter intervals', () => {
    const real = pollPlan(input(500));
    // the simulator's hour is 3 real minutes too: its reset comes 20 times sooner
    const fast = pollPlan(input(500, { minuteMs: MIN / 20, pollIntervalMs: 15_000 / 20, primary: { limit: 5000, remaining: 4900, resetAt: NOW + HOUR / 20 } }));
    expect(fast.idleEveryMs * 20).toBeCloseTo(real.idleEveryMs, 6);
    expect(fast.idlePerTick).toBe(real.idlePerTick);
  });
});

describe('pickIdle', () => {
  it('takes the never-listed first, then the longest unlisted, by name on ties: a round robin', () => {
    const idle = [
      { repo: 'a/c', lastListedAt: 5 },
      { repo: 'a/b', lastListedAt: undefined },
      { repo: 'a/a', lastListedAt: 5 },
      { repo: 'a/d', lastListedAt: 1 },
    ];
    expect(pickIdle(idle, 2)).toEqual(['a/b', 'a/d']);
    expect(pickIdle(idle, 3)).toEqual(['a/b', 'a/d', 'a/a']);
    expect(pickIdle(idle, 9)).toHaveLength(4);
  });

  it('sees every one of 100 idle repositories within ⌈100 / n⌉ ticks', () => {
    const last = new Map<string, number | undefined>(Array.from({ length: 100 }, (_, i) => [`o/r${i}`, undefined]));
    const gaps: number[] = [];
    for (let tick = 0; tick < 60; tick++) {
      for (const r of pickIdle([...last].map(([repo, lastListedAt]) => ({ repo, lastListedAt })), 7)) {
        const was = last.get(r);
        if (was !== undefined) gaps.push(tick - was);
        last.set(r, tick);
      }
    }
    expect(Math.max(...gaps)).toBe(Math.ceil(100 / 7));
  });
});

describe('planWarning', () => {
  const words = { repos: 300, pollIntervalMs: 15_000, scale: 1, webhook: false, auth: 'token' as const };
  it('says nothing when every repository is listed every interval', () => {
    expect(planWarning(pollPlan(input(10)), words)).toBeUndefined();
  });
  it('names the interval it can hold and what would help', () => {
    const text = planWarning(pollPlan(input(300)), words)!;
    expect(text).toContain('300 repositories cannot all be listed every 15s');
    expect(text).toContain('the interval it can hold for all of them is 2.5 min');
    expect(text).toMatch(/idle ones 21 a tick, each at least every 3\.8 min/);
    expect(text).toContain('webhooks (WEBHOOK_LISTEN');
    expect(text).toContain('fewer scopes');
    expect(planWarning(pollPlan(input(300)), { ...words, webhook: true })).not.toContain('webhooks');
  });
  it('suggests a GitHub App when the primary limit is what holds, for a token', () => {
    const p = pollPlan(input(10, { tickCounted: 40, primary: { limit: 5000, remaining: 1500, resetAt: NOW + HOUR } }));
    expect(planWarning(p, words)).toContain('a GitHub App');
    expect(planWarning(p, { ...words, auth: 'app' })).not.toContain('a GitHub App');
  });
});
