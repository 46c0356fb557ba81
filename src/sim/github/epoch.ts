import type { SimClock } from '../clock.js';

/**
 * Epoch ms of a scenario time. The clock's epoch origin is a whole millisecond; reading epochMs()
 * and nowMs() one after the other differs by the time between the reads, so round it away
 * (otherwise a reset at exactly 10 s can round up to the next second).
 */
export function epochAt(clock: SimClock, scenarioMs: number): number {
  return Math.round(clock.epochMs() - clock.nowMs()) + scenarioMs;
}
