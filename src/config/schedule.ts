/**
 * Which hot/warm sizes a pool's schedule puts in force at an instant, and when the next rule fires.
 * Pure functions of the instant: the daemon asks each tick, so a restart comes back with the sizes of
 * the latest rules that fired before it, never "none until the next firing".
 *
 * A rule fires the first time the pool's wall clock reaches a reading its cron matches (see
 * util/wall-clock.ts for daylight-saving changes). cron-parser only ever matches readings, in UTC
 * where no reading is skipped or repeated: its own time zone handling answers next() and prev()
 * differently for a time skipped in spring.
 */
import { CronExpressionParser } from 'cron-parser';
import { checkTimeZone, firstReach, highWater, hostTimeZone } from '../util/wall-clock.js';
import type { PoolConfig } from './types.js';

export type Scheduled = Pick<PoolConfig, 'sizes' | 'schedule' | 'timezone'>;

export interface SizesInForce {
  readonly hot: number;
  readonly warm: number;
  /** Index in the schedule of the rule that set hot; undefined: the pool's base `hot`. */
  readonly hotRule?: number;
  /** Index in the schedule of the rule that set warm; undefined: the pool's base `warm`. */
  readonly warmRule?: number;
}

const MINUTE = 60_000;
/** Where load-time checks start looking for a firing: config loading reads no clock. */
const REFERENCE = Date.UTC(2000, 0, 1);
// cron-parser's predefined expressions, less @secondly (sizes that change every second make no sense)
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@weekdays', '@weekends'];

function readings(cron: string, from: number) {
  return CronExpressionParser.parse(cron.trim(), { currentDate: new Date(from), tz: 'UTC' });
}

/** Why `cron` cannot be a rule's cron, or undefined. */
export function cronProblem(cron: string): string | undefined {
  const text = cron.trim();
  if (text.startsWith('@')) {
    if (!MACROS.includes(text)) return `'${text}' is not one of ${MACROS.join(', ')}`;
  } else {
    const fields = text.split(/\s+/).length;
    // cron-parser pads fewer fields and reads six as seconds first: both would shift every field.
    if (fields !== 5) return `has ${fields} field${fields === 1 ? '' : 's'}, not 5`;
    // H is a random minute or hour, drawn anew at every parse: the rule would move between ticks.
    if (/\bH\b/i.test(text)) return 'uses H (a random value), which would move the rule each time it is read';
  }
  try {
    const r = readings(text, REFERENCE);
    r.next();
    r.prev();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    // e.g. 0 0 31 2,4 *: cron-parser gives up searching for a day that does not exist
    return /loop limit/i.test(why) ? 'never fires (no date matches it)' : why;
  }
  return undefined;
}

/** Why `timeZone` cannot be a schedule's time zone, or undefined. */
export function timeZoneProblem(timeZone: string): string | undefined {
  try {
    checkTimeZone(timeZone);
    return undefined;
  } catch {
    return 'is not a time zone this host knows';
  }
}

/** The latest instant at or before `now` at which `cron` fired in `timeZone`. */
export function lastFiring(cron: string, timeZone: string, now: number): number | undefined {
  const top = Math.floor(highWater(timeZone, now) / MINUTE) * MINUTE;
  let reading: number;
  try {
    // +1 ms: cron-parser's prev() is exclusive of a whole-second start, inclusive below it
    reading = readings(cron, top + 1).prev().getTime();
  } catch {
    return undefined;
  }
  return firstReach(timeZone, reading);
}

/** The first instant after `now` at which `cron` fires in `timeZone`. */
export function nextFiring(cron: string, timeZone: string, now: number): number | undefined {
  const top = Math.floor(highWater(timeZone, now) / MINUTE) * MINUTE;
  let reading: number;
  try {
    reading = readings(cron, top).next().getTime();
  } catch {
    return undefined;
  }
  return firstReach(timeZone, reading);
}

/**
 * Each size is the one set by the latest rule naming it that fired at or before `now` (the later
 * rule in the file when two fired at once); the pool's base size when none has.
 */
export function sizesInForce(pool: Scheduled, now: number): SizesInForce {
  const zone = pool.timezone ?? hostTimeZone();
  let hot: { at: number; rule: number } | undefined;
  let warm: { at: number; rule: number } | undefined;
  pool.schedule.forEach((r, rule) => {
    if (r.hot === undefined && r.warm === undefined) return;
    const at = lastFiring(r.cron, zone, now);
    if (at === undefined) return;
    if (r.hot !== undefined && (!hot || at >= hot.at)) hot = { at, rule };
    if (r.warm !== undefined && (!warm || at >= warm.at)) warm = { at, rule };
  });
  return {
    hot: hot ? pool.schedule[hot.rule]!.hot ?? pool.sizes.hot : pool.sizes.hot,
    warm: warm ? pool.schedule[warm.rule]!.warm ?? pool.sizes.warm : pool.sizes.warm,
    hotRule: hot?.rule,
    warmRule: warm?.rule,
  };
}

/** The first instant after `now` at which any pool's rule fires: when the sizes may next change. */
export function nextRuleChange(pools: readonly Scheduled[], now: number): number | undefined {
  let next: number | undefined;
  for (const p of pools) {
    const zone = p.timezone ?? hostTimeZone();
    for (const r of p.schedule) {
      const at = nextFiring(r.cron, zone, now);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
  }
  return next;
}
