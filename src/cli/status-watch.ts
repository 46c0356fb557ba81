/**
 * `pve-runners status --watch`: the running daemon's view — pools, queue, VMs by state, draining
 * VMs, the last reload, the last actions with reasons — redrawn every poll interval from the state
 * file the daemon writes each tick (so watching costs no API request). On a terminal each frame
 * overwrites the last (cursor home, erase each line's rest and what is below: no scrolling, no
 * flicker); piped (`pct exec … | tee`, a log), frames follow one another as plain text.
 */
import { systemClock, type Clock } from '../clock.js';
import { loadEnv, type Env } from '../config/index.js';
import { readState, type StateRead } from '../daemon/state-file.js';
import { formatActions, formatReload } from './status-daemon.js';
import { formatStatus, type StatusReport } from './status.js';

export interface WatchOptions {
  env: Env;
  cwd: string;
  /** raw output: frames, with the terminal's control sequences when isTTY */
  write: (s: string) => void;
  err?: (line: string) => void;
  isTTY: boolean;
  stopSignal: Promise<void>;
  clock?: Clock;
}

/** ESC [ H: cursor home; ESC [ K: erase to the end of the line; ESC [ J: erase below; ESC [ 2 J: erase all. */
export const HOME = '\x1b[H';
export const ERASE_LINE = '\x1b[K';
export const ERASE_BELOW = '\x1b[J';
export const CLEAR = '\x1b[2J';

/** One frame's lines: what the daemon last saw and did. */
export function frameLines(read: StateRead<StatusReport>, now: number): string[] {
  const head = `pve-runners status --watch  ${new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z')}  (Ctrl-C ends)`;
  if (!('state' in read)) return [head, ...formatReload(read, now)];
  const s = read.state;
  const table = s.lastTick ? formatStatus(s.lastTick.table) : ['waiting for the daemon\'s first tick'];
  return [head, ...table, ...formatReload(read, now), ...formatActions(s)];
}

/** A frame as written: redrawn in place on a terminal, appended with a blank line between otherwise. */
export function renderFrame(lines: readonly string[], isTTY: boolean, first: boolean): string {
  if (!isTTY) return `${lines.join('\n')}\n\n`;
  return `${first ? CLEAR : ''}${HOME}${lines.map((l) => `${l}${ERASE_LINE}`).join('\n')}\n${ERASE_BELOW}`;
}

export async function watchCommand(o: WatchOptions): Promise<number> {
  // The environment only: pools.yaml is the daemon's to read (an edit that a reload refused must not stop the view).
  const env = loadEnv(o.env, { cwd: o.cwd });
  const clock = o.clock ?? systemClock;
  const stop = new AbortController();
  void o.stopSignal.then(() => stop.abort());
  let first = true;
  while (!stop.signal.aborted) {
    const read = readState<StatusReport>(env.runtimeDir);
    o.write(renderFrame(frameLines(read, clock.now()), o.isTTY, first));
    first = false;
    // the daemon's own interval (time-scaled in the demo); without its state, POLL_INTERVAL
    await clock.sleep('state' in read ? read.state.pollIntervalMs : env.pollIntervalMs, stop.signal);
  }
  return 0;
}
