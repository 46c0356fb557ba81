/**
 * sizesInForce / nextRuleChange: the sizes a pool's schedule puts in force at an instant, read in
 * the pool's time zone, across daylight-saving changes (2026: Berlin 29 Mar and 25 Oct at 01:00Z,
 * New York 8 Mar at 07:00Z and 1 Nov at 06:00Z).
 */
import type { ScheduleRule } from '../src/config/types.js';
import { cronProblem, nextRuleChange, sizesInForce, timeZoneProblem, type Scheduled } from '../src/config/schedule.js';

const at = (iso: string) => Date.parse(iso);
const pool = (schedule: ScheduleRule[], timezone: string | undefined = 'UTC', sizes = { hot: 0, warm: 0 }): Scheduled => ({ schedule, timezone, sizes });
const officeHours = (timezone: string) =>
  pool(
    [
      { cron: '0 8 * * 1-5', hot: 4, warm: 4 },
      { cron: '0 19 * * *', hot: 0, warm: 1 },
    ],
    timezone,
  );

describe('sizesInForce', () => {
  it('takes the latest rule that fired, at or before the instant, in the pool\'s time zone', () => {
    const p = officeHours('Europe/Berlin');
    // Tuesday 1 Dec 2026: 08:00 CET = 07:00Z
    expect(sizesInForce(p, at('2026-12-01T06:59:59.999Z'))).toEqual({ hot: 0, warm: 1, hotRule: 1, warmRule: 1 });
    expect(sizesInForce(p, at('2026-12-01T07:00:00.000Z'))).toEqual({ hot: 4, warm: 4, hotRule: 0, warmRule: 0 });
    expect(sizesInForce(p, at('2026-12-01T17:59:59.999Z'))).toMatchObject({ hot: 4, warm: 4 });
    expect(sizesInForce(p, at('2026-12-01T18:00:00.000Z'))).toMatchObject({ hot: 0, warm: 1 });
    // Saturday: the weekday rule last fired on Friday, the evening rule after it
    expect(sizesInForce(p, at('2026-12-05T12:00:00Z'))).toMatchObject({ hot: 0, warm: 1, hotRule: 1 });
  });

  it('is the same in another zone only at that zone\'s 08:00', () => {
    const p = officeHours('America/New_York');
    expect(sizesInForce(p, at('2026-12-01T07:00:00Z')).hot).toBe(0);
    expect(sizesInForce(p, at('2026-12-01T12:59:00Z')).hot).toBe(0);
    expect(sizesInForce(p, at('2026-12-01T13:00:00Z')).hot).toBe(4); // 08:00 EST
  });

  it('keeps a base size no rule names, and takes each size from the latest rule naming it', () => {
    const p = pool(
      [
        { cron: '0 8 * * *', hot: 3 },
        { cron: '0 9 * * *', warm: 5 },
        { cron: '0 10 * * *', hot: 1 },
      ],
      'UTC',
      { hot: 7, warm: 2 },
    );
    expect(sizesInForce(p, at('2026-12-01T09:30:00Z'))).toEqual({ hot: 3, warm: 5, hotRule: 0, warmRule: 1 });
    expect(sizesInForce(p, at('2026-12-01T10:00:00Z'))).toEqual({ hot: 1, warm: 5, hotRule: 2, warmRule: 1 });
    expect(sizesInForce(pool([{ cron: '0 8 * * *', hot: 3 }], 'UTC', { hot: 7, warm: 2 }), at('2026-12-01T00:00:00Z'))).toEqual({ hot: 3, warm: 2, hotRule: 0, warmRule: undefined });
    expect(sizesInForce(pool([], 'UTC', { hot: 7, warm: 2 }), at('2026-12-01T00:00:00Z'))).toEqual({ hot: 7, warm: 2, hotRule: undefined, warmRule: undefined });
  });

  it('lets the later rule in the file win when two fire at once', () => {
    const rules = [
      { cron: '0 8 * * *', hot: 1 },
      { cron: '0 8 * * 1-5', hot: 2 },
    ];
    expect(sizesInForce(pool(rules), at('2026-12-01T08:00:00Z'))).toMatchObject({ hot: 2, hotRule: 1 });
    expect(sizesInForce(pool([...rules].reverse()), at('2026-12-01T08:00:00Z'))).toMatchObject({ hot: 1, hotRule: 1 });
  });

  it('finds a rule that fires once a year, or once in four years, however long ago', () => {
    expect(sizesInForce(pool([{ cron: '0 0 1 1 *', hot: 2 }, { cron: '0 0 1 7 *', hot: 5 }], 'Europe/Berlin'), at('2026-12-01T00:00:00Z'))).toMatchObject({ hot: 5, hotRule: 1 });
    expect(sizesInForce(pool([{ cron: '0 0 1 1 *', hot: 2 }, { cron: '0 0 1 7 *', hot: 5 }], 'Europe/Berlin'), at('2026-12-31T23:00:00Z'))).toMatchObject({ hot: 2, hotRule: 0 });
    expect(sizesInForce(pool([{ cron: '0 0 29 2 *', warm: 3 }, { cron: '0 0 1 3 *', warm: 1 }]), at('2028-02-29T00:00:00Z'))).toMatchObject({ warm: 3, warmRule: 0 });
    expect(sizesInForce(pool([{ cron: '0 0 29 2 *', warm: 3 }, { cron: '@yearly', warm: 1 }]), at('2027-12-31T00:00:00Z'))).toMatchObject({ warm: 1, warmRule: 1 });
    expect(sizesInForce(pool([{ cron: '0 0 29 2 *', warm: 3 }, { cron: '0 0 2 1 *', warm: 1 }]), at('2027-01-01T00:00:00Z'))).toMatchObject({ warm: 1, warmRule: 1 });
  });

  describe('daylight-saving changes', () => {
    it('Berlin, spring: a time the clock skips takes effect when it jumps (02:00 CET → 03:00 CEST at 01:00Z)', () => {
      const p = pool([{ cron: '30 2 * * *', hot: 4 }, { cron: '0 12 * * *', hot: 0 }], 'Europe/Berlin');
      expect(sizesInForce(p, at('2026-03-29T00:59:59.999Z')).hot).toBe(0);
      expect(sizesInForce(p, at('2026-03-29T01:00:00Z')).hot).toBe(4);
      expect(nextRuleChange([p], at('2026-03-28T13:00:00Z'))).toBe(at('2026-03-29T01:00:00Z'));
      // the day after, 02:30 CEST again
      expect(nextRuleChange([p], at('2026-03-29T11:00:00Z'))).toBe(at('2026-03-30T00:30:00Z'));
    });

    it('Berlin, autumn: a time the clock shows twice takes effect once (03:00 CEST → 02:00 CET at 01:00Z)', () => {
      const p = pool([{ cron: '30 2 * * *', hot: 4 }, { cron: '45 2 * * *', hot: 1 }], 'Europe/Berlin');
      expect(sizesInForce(p, at('2026-10-25T00:30:00Z')).hot).toBe(4); // 02:30 CEST
      expect(sizesInForce(p, at('2026-10-25T00:45:00Z')).hot).toBe(1); // 02:45 CEST
      expect(sizesInForce(p, at('2026-10-25T01:40:00Z')).hot).toBe(1); // 02:40 CET: 02:30 does not fire again
      expect(sizesInForce(p, at('2026-10-25T01:50:00Z')).hot).toBe(1);
      expect(nextRuleChange([p], at('2026-10-25T00:50:00Z'))).toBe(at('2026-10-26T01:30:00Z')); // 02:30 CET next day
    });

    it('New York, spring: office hours start at 08:00 EDT (12:00Z) on the first Monday, 08:00 EST (13:00Z) the Friday before', () => {
      const p = officeHours('America/New_York');
      expect(sizesInForce(p, at('2026-03-06T12:59:00Z')).hot).toBe(0);
      expect(sizesInForce(p, at('2026-03-06T13:00:00Z')).hot).toBe(4);
      expect(sizesInForce(p, at('2026-03-09T11:59:00Z')).hot).toBe(0);
      expect(sizesInForce(p, at('2026-03-09T12:00:00Z')).hot).toBe(4);
      expect(nextRuleChange([p], at('2026-03-08T00:00:00Z'))).toBe(at('2026-03-08T23:00:00Z')); // 19:00 EDT Sunday
    });

    it('New York: 02:30 skipped on 8 Mar takes effect at the jump (07:00Z); 01:30 shown twice on 1 Nov, once', () => {
      const spring = pool([{ cron: '30 2 * * *', warm: 3 }, { cron: '0 12 * * *', warm: 0 }], 'America/New_York');
      expect(sizesInForce(spring, at('2026-03-08T06:59:00Z')).warm).toBe(0);
      expect(sizesInForce(spring, at('2026-03-08T07:00:00Z')).warm).toBe(3);
      const autumn = pool([{ cron: '30 1 * * *', warm: 3 }, { cron: '45 1 * * *', warm: 1 }], 'America/New_York');
      expect(sizesInForce(autumn, at('2026-11-01T05:30:00Z')).warm).toBe(3); // 01:30 EDT
      expect(sizesInForce(autumn, at('2026-11-01T05:45:00Z')).warm).toBe(1);
      expect(sizesInForce(autumn, at('2026-11-01T06:35:00Z')).warm).toBe(1); // 01:35 EST
      expect(nextRuleChange([autumn], at('2026-11-01T06:00:00Z'))).toBe(at('2026-11-02T06:30:00Z'));
    });
  });
});

describe('a pool without timezone', () => {
  it('reads its schedule in the host\'s zone', () => {
    const zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    const rules = officeHours(zone).schedule;
    const hostPool: Scheduled = { schedule: rules, timezone: undefined, sizes: { hot: 0, warm: 0 } };
    for (const t of ['2026-12-01T06:00:00Z', '2026-12-01T12:00:00Z', '2026-12-01T20:00:00Z']) {
      expect(sizesInForce(hostPool, at(t))).toEqual(sizesInForce(pool([...rules], zone), at(t)));
    }
    expect(nextRuleChange([hostPool], at('2026-12-01T06:00:00Z'))).toBe(nextRuleChange([pool([...rules], zone)], at('2026-12-01T06:00:00Z')));
  });
});

describe('nextRuleChange', () => {
  it('is the earliest next firing of any rule of any pool, after the instant', () => {
    const pools = [officeHours('Europe/Berlin'), officeHours('America/New_York')];
    expect(nextRuleChange(pools, at('2026-12-01T06:00:00Z'))).toBe(at('2026-12-01T07:00:00Z'));
    expect(nextRuleChange(pools, at('2026-12-01T07:00:00Z'))).toBe(at('2026-12-01T13:00:00Z'));
    expect(nextRuleChange(pools, at('2026-12-01T13:00:00Z'))).toBe(at('2026-12-01T18:00:00Z'));
    expect(nextRuleChange(pools, at('2026-12-01T18:00:00Z'))).toBe(at('2026-12-02T00:00:00Z'));
  });

  it('is undefined with no schedule', () => {
    expect(nextRuleChange([pool([]), pool([])], at('2026-12-01T06:00:00Z'))).toBeUndefined();
  });
});

describe('cronProblem and timeZoneProblem', () => {
  it.each([
    ['0 8 * * 1-5', undefined],
    ['@daily', undefined],
    ['0 0 29 2 *', undefined],
    ['0 8 * * MON-FRI', undefined],
    ['0 8 * * THU', undefined],
    ['61 8 * * *', 'Constraint error, got value 61 expected range 0-59'],
    ['0 8 * *', 'has 4 fields, not 5'],
    ['0 0 8 * * *', 'has 6 fields, not 5'],
    ['H 8 * * *', 'uses H (a random value), which would move the rule each time it is read'],
    ['@secondly', "'@secondly' is not one of @yearly, @annually, @monthly, @weekly, @daily, @hourly, @minutely, @weekdays, @weekends"],
    ['0 0 30 2 *', 'Invalid explicit day of month definition'],
  ])('%s', (cron, problem) => {
    expect(cronProblem(cron)).toBe(problem);
  });

  it('knows IANA zones and refuses others', () => {
    expect(timeZoneProblem('Europe/Berlin')).toBeUndefined();
    expect(timeZoneProblem('Mars/Olympus')).toBe('is not a time zone this host knows');
  });
});
