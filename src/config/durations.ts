/**
 * The range each duration setting may take. Each bound says what makes sense for the setting; all of
 * them are far below Node's setTimeout limit (2^31-1 ms, about 24.8 days), past which a timer fires
 * at once — a POLL_INTERVAL of 3000000 used to tick every second.
 */
import { formatDuration } from '../util/duration.js';

export interface DurationBounds {
  readonly minMs: number;
  readonly maxMs: number;
  /** What the setting is for, for the fix. */
  readonly what: string;
  readonly example: string;
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

export const DURATION_BOUNDS = Object.freeze({
  // Under a second hammers both APIs; over an hour, queued jobs wait that long for a runner.
  POLL_INTERVAL: { minMs: 1 * S, maxMs: 1 * H, what: 'the time between ticks', example: '15' },
  // A runner VM needs tens of seconds to boot and register; GitHub removes an ephemeral runner that
  // never connected after a day, so waiting longer for one is pointless.
  boot_timeout: { minMs: 30 * S, maxMs: 1 * D, what: 'how long a new VM may take to register its runner', example: '10m' },
  // GitHub cancels a self-hosted job that has waited 24 h in the queue: no idle runner needs to wait longer.
  idle_timeout: { minMs: 10 * S, maxMs: 1 * D, what: 'how long a runner may wait for a job', example: '15m' },
  // GitHub ends a self-hosted job after 5 days of execution; the VM also needs its boot time.
  max_job_duration: { minMs: 1 * M, maxMs: 6 * D, what: 'the longest a runner VM lives', example: '6h' },
  // Each replacement costs a clone and a boot: more often than every 10 minutes is churn. Past a
  // week, the image and registration the issue wants fresh are not.
  hot_max_age: { minMs: 10 * M, maxMs: 7 * D, what: 'how long a hot runner waits for a job before it is replaced', example: '12h' },
} satisfies Record<string, DurationBounds>);

export type DurationSetting = keyof typeof DURATION_BOUNDS;

const show = (ms: number) => (ms % D === 0 ? `${ms / D}d` : formatDuration(ms));

/** Undefined when `ms` is in range, else the problem's message and fix. */
export function durationProblem(name: DurationSetting, shown: string, ms: number): { message: string; fix: string } | undefined {
  const b = DURATION_BOUNDS[name];
  if (ms >= b.minMs && ms <= b.maxMs) return undefined;
  const range = `${show(b.minMs)} to ${show(b.maxMs)}`;
  return {
    message: `${shown} is ${ms < b.minMs ? 'shorter' : 'longer'} than ${name} allows (${range})`,
    fix: `set ${name} (${b.what}) to a duration from ${range}, e.g. ${b.example}`,
  };
}
