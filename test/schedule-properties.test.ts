/**
 * sizesInForce and nextRuleChange against a brute force: a minute-by-minute walk of the wall clock
 * (read with a different Intl formatter than the code's) that fires every rule whose cron matches
 * a reading the clock reaches for the first time, with its own cron matcher. Random schedules and
 * instants around six daylight-saving changes, including Lord Howe's half-hour one.
 */
import fc from 'fast-check';
import type { ScheduleRule } from '../src/config/types.js';
import { nextRuleChange, sizesInForce } from '../src/config/schedule.js';

const SEED = 20261201;
const MIN = 60_000;
const DAY = 1440 * MIN;

/** 2026's changes: the instant the offset changes. */
const CHANGES = [
  { zone: 'Europe/Berlin', at: Date.parse('2026-03-29T01:00:00Z') },
  { zone: 'Europe/Berlin', at: Date.parse('2026-10-25T01:00:00Z') },
  { zone: 'America/New_York', at: Date.parse('2026-03-08T07:00:00Z') },
  { zone: 'America/New_York', at: Date.parse('2026-11-01T06:00:00Z') },
  { zone: 'Australia/Lord_Howe', at: Date.parse('2026-04-04T15:00:00Z') },
  { zone: 'Australia/Lord_Howe', at: Date.parse('2026-10-03T15:30:00Z') },
] as const;
const SPAN = 10 * DAY; // the walk covers the change ± SPAN; rules fire at least weekly

/** Wall readings (local time read as UTC, in ms) for each minute of the walk, per change. */
const walls = new Map<number, number[]>();
function wallsAround(k: number): number[] {
  let w = walls.get(k);
  if (w) return w;
  const { zone, at } = CHANGES[k]!;
  const fmt = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  w = [];
  for (let t = at - SPAN; t <= at + SPAN; t += MIN) {
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)$/.exec(fmt.format(t));
    if (!m) throw new Error(`unexpected format ${fmt.format(t)}`);
    w.push(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])));
  }
  walls.set(k, w);
  return w;
}

interface Field {
  text: string;
  values: readonly number[];
}
const range = (a: number, b: number, step = 1) => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);
const MINUTES: Field[] = [
  { text: '*', values: range(0, 59) },
  { text: '0', values: [0] },
  { text: '30', values: [30] },
  { text: '59', values: [59] },
  { text: '*/15', values: [0, 15, 30, 45] },
  { text: '5,35', values: [5, 35] },
  { text: '10-20', values: range(10, 20) },
];
const HOURS: Field[] = [
  { text: '*', values: range(0, 23) },
  { text: '0', values: [0] },
  { text: '1', values: [1] },
  { text: '2', values: [2] },
  { text: '3', values: [3] },
  { text: '1-3', values: [1, 2, 3] },
  { text: '*/6', values: [0, 6, 12, 18] },
  { text: '8', values: [8] },
  { text: '15,23', values: [15, 23] },
];
const WEEKDAYS: Field[] = [
  { text: '*', values: range(0, 6) },
  { text: '1-5', values: range(1, 5) },
  { text: '0', values: [0] },
  { text: '6', values: [6] },
  { text: '0,3', values: [0, 3] },
  { text: 'SAT,SUN', values: [0, 6] },
];

interface GenRule extends ScheduleRule {
  matches(wall: number): boolean;
}
/** Field values of a wall reading, by arithmetic (1 Jan 1970 was a Thursday). */
const fieldMatch = (m: Field, h: Field, d: Field) => {
  const [ms, hs, ds] = [new Set(m.values), new Set(h.values), new Set(d.values)];
  return (wall: number) => ms.has((wall / MIN) % 60) && hs.has(Math.floor(wall / 3_600_000) % 24) && ds.has((Math.floor(wall / DAY) + 4) % 7);
};
const EVERY_DAY = WEEKDAYS[0]!;
const arbRule: fc.Arbitrary<GenRule> = fc
  .record({ m: fc.constantFrom(...MINUTES), h: fc.constantFrom(...HOURS), d: fc.constantFrom(...WEEKDAYS), sizes: fc.oneof(fc.record({ hot: fc.nat(5) }), fc.record({ warm: fc.nat(5) }), fc.record({ hot: fc.nat(5), warm: fc.nat(5) })) })
  .map(({ m, h, d, sizes }) => ({ cron: `${m.text} ${h.text} * * ${d.text}`, ...sizes, matches: fieldMatch(m, h, d) }));

const arbCase = fc.record({
  change: fc.nat(CHANGES.length - 1),
  rules: fc.array(arbRule, { minLength: 1, maxLength: 4 }),
  base: fc.record({ hot: fc.nat(3), warm: fc.nat(3) }),
  // mostly within hours of the change, where the clock misbehaves; sometimes anywhere in ±1.5 days
  offset: fc.oneof(fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 }), fc.integer({ min: -1.5 * DAY, max: 1.5 * DAY })),
});

/** Every rule's firings in the walk: at each minute, the rules matching a reading first reached then. */
function firings(k: number, rules: readonly GenRule[]): number[][] {
  const w = wallsAround(k);
  const start = CHANGES[k]!.at - SPAN;
  const out = rules.map((): number[] => []);
  let reached = w[0]!;
  for (let i = 1; i < w.length; i++) {
    for (let r = reached + MIN; r <= w[i]!; r += MIN) rules.forEach((rule, j) => rule.matches(r) && out[j]!.push(start + i * MIN));
    reached = Math.max(reached, w[i]!);
  }
  return out;
}

function expected(rules: readonly GenRule[], fired: number[][], base: { hot: number; warm: number }, now: number) {
  const pick = (k: 'hot' | 'warm') => {
    let best: { at: number; j: number } | undefined;
    rules.forEach((r, j) => {
      if (r[k] === undefined) return;
      const last = fired[j]!.filter((t) => t <= now).at(-1);
      if (last !== undefined && (!best || last >= best.at)) best = { at: last, j };
    });
    return best === undefined ? { size: base[k], rule: undefined } : { size: rules[best.j]![k]!, rule: best.j };
  };
  const [hot, warm] = [pick('hot'), pick('warm')];
  const next = Math.min(...fired.flatMap((f) => f.filter((t) => t > now).slice(0, 1)));
  return { sizes: { hot: hot.size, warm: warm.size, hotRule: hot.rule, warmRule: warm.rule }, next };
}

describe('the schedule against a minute-by-minute walk of the wall clock', () => {
  it('agrees on the sizes in force, the rules that set them, and the next firing', () => {
    fc.assert(
      fc.property(arbCase, ({ change, rules, base, offset }) => {
        const { zone, at } = CHANGES[change]!;
        // any millisecond, not only whole minutes
        const now = at + offset;
        const pool = { schedule: rules.map(({ cron, hot, warm }) => ({ cron, hot, warm })), timezone: zone, sizes: base };
        const want = expected(rules, firings(change, rules), base, now);
        expect(sizesInForce(pool, now)).toEqual(want.sizes);
        expect(nextRuleChange([pool], now)).toBe(want.next);
      }),
      { seed: SEED, numRuns: 200, endOnFailure: false },
    );
  });

  it('agrees exactly at, and just before, each firing near a change', () => {
    // Every 10 minutes over the 3 hours around each change, at the minute and 1 ms before it, for
    // rules at every minute field and the hours a change touches.
    const all: GenRule[] = MINUTES.flatMap((m, x) => HOURS.slice(1, 6).map((h, i): GenRule => ({ cron: `${m.text} ${h.text} * * *`, ...((x + i) % 2 === 0 ? { hot: i } : { warm: i }), matches: fieldMatch(m, h, EVERY_DAY) })));
    CHANGES.forEach(({ zone, at }, k) => {
      for (let j = 0; j < all.length; j += 5) {
        const rules = all.slice(j, j + 5);
        const fired = firings(k, rules);
        const pool = { schedule: rules.map(({ cron, hot, warm }) => ({ cron, hot, warm })), timezone: zone, sizes: { hot: 9, warm: 9 } };
        for (let now = at - 1.5 * 3_600_000; now <= at + 1.5 * 3_600_000; now += 10 * MIN) {
          for (const t of [now - 1, now]) expect([k, j, new Date(t).toISOString(), sizesInForce(pool, t)]).toEqual([k, j, new Date(t).toISOString(), expected(rules, fired, pool.sizes, t).sizes]);
        }
      }
    });
  });
});
