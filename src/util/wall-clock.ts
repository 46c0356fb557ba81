/**
 * A time zone's wall clock as a function of the instant, in epoch milliseconds: "wall time" is the
 * local date and time read as if it were UTC. Schedules are matched against the wall clock, and
 * this file answers the two questions daylight-saving changes make hard: how far the wall clock has
 * got by an instant (it runs backwards once a year), and when it first reaches a given reading (some
 * readings are skipped, some shown twice).
 *
 * Assumes a zone changes its offset at most once within any two days, true of every zone's
 * daylight-saving rules (offsets are sampled one day either side).
 */
const DAY = 86_400_000;
const SECOND = 1000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // h23: some engines print midnight as 24 with hour12: false
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws RangeError when the host does not know `timeZone`. */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

/** The host's zone, for schedules that name none. */
export function hostTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The zone's offset from UTC at instant `t` (whole seconds). */
export function offsetMs(timeZone: string, t: number): number {
  const n: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(t)) if (p.type !== 'literal') n[p.type] = Number(p.value);
  const wall = Date.UTC(n.year ?? 1970, (n.month ?? 1) - 1, n.day ?? 1, n.hour ?? 0, n.minute ?? 0, n.second ?? 0);
  return wall - Math.floor(t / SECOND) * SECOND;
}

export function wallTime(timeZone: string, t: number): number {
  return t + offsetMs(timeZone, t);
}

/** The first second in (lo, hi] whose offset differs from lo's, given that hi's does. */
function transition(timeZone: string, lo: number, hi: number): number {
  const before = offsetMs(timeZone, lo);
  let a = Math.floor(lo / SECOND) * SECOND;
  let b = Math.ceil(hi / SECOND) * SECOND;
  while (b - a > SECOND) {
    const mid = a + Math.floor((b - a) / (2 * SECOND)) * SECOND;
    if (offsetMs(timeZone, mid) === before) a = mid;
    else b = mid;
  }
  return b;
}

/**
 * The latest wall time shown at or before `t`. It is wallTime(t) except in the repeated hour after
 * the clock went back, where the clock has already shown later readings (up to the change).
 */
export function highWater(timeZone: string, t: number): number {
  const now = offsetMs(timeZone, t);
  const dayAgo = offsetMs(timeZone, t - DAY);
  if (dayAgo <= now) return t + now;
  const change = transition(timeZone, t - DAY, t);
  return Math.max(t + now, change - 1 + dayAgo);
}

/**
 * The first instant at which the wall clock shows `wall` or later: the instant it shows `wall`, the
 * earlier of two when the reading is repeated, and the moment of the change when the reading is
 * skipped. That is Vixie cron's rule (cron(8), "Daylight Saving Time"): a job due in the skipped
 * interval runs right after the change, one due in the repeated interval is not run again (Vixie
 * cron exempts rules with a wildcard hour or minute; here they fire once too, like every rule).
 */
export function firstReach(timeZone: string, wall: number): number {
  const before = offsetMs(timeZone, wall - DAY);
  const after = offsetMs(timeZone, wall + DAY);
  const shown = [wall - before, wall - after].filter((t, k) => offsetMs(timeZone, t) === (k === 0 ? before : after));
  if (shown.length > 0) return Math.min(...shown);
  // Skipped: the clock jumped forward (after > before) from below `wall` to above it.
  return transition(timeZone, wall - after, wall - before);
}
