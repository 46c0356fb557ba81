/**
 * `systemctl reload` (SIGHUP): pools.yaml and its user_data templates read and checked again by the
 * loader the start-up uses. Valid: it applies from the next tick, and one line says what changed.
 * Not valid: every problem is logged at err (file, path, fix) and the daemon carries on with what
 * it runs on. The environment is not read again: a change there needs a restart.
 */
import type { Clock } from '../clock.js';
import { describeChanges, diffConfigs } from '../config/diff.js';
import { formatProblem, type ConfigProblem } from '../config/errors.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';

export interface ReloadState {
  /** epoch ms of the reload */
  at: number;
  ok: boolean;
  /** what changed (ok), as logged */
  changes?: string;
  /** every problem found (failed), formatted as `file: path: message — fix: …` */
  errors: string[];
}

export interface ReloaderDeps {
  /** pools.yaml read and checked now, with the options of the environment given at start */
  read: () => { config: Config | undefined; problems: readonly ConfigProblem[] };
  /** the configuration to take over from the next tick */
  apply: (config: Config) => void;
  /** what runs now (or is about to, after an earlier reload) */
  initial: Config;
  clock: Clock;
  log: Logger;
  /** told of each reload's outcome (the state file `status` reads) */
  onReloaded?: (s: ReloadState) => void;
}

export const ENV_NOT_RELOADED = 'environment variables are not re-read by a reload: change them with systemctl restart';

export class Reloader {
  private current: Config;
  private last: ReloadState | undefined;

  constructor(private readonly d: ReloaderDeps) {
    this.current = d.initial;
  }

  /** The outcome of the last reload, if any. */
  state(): ReloadState | undefined {
    return this.last;
  }

  reload(): ReloadState {
    const { log } = this.d;
    const at = this.d.clock.now();
    let read: ReturnType<ReloaderDeps['read']>;
    try {
      read = this.d.read();
    } catch (e) {
      // The loader reports problems rather than throwing; anything else is a bug, not a reason to stop serving.
      read = { config: undefined, problems: [{ file: this.current.file, path: '(file)', message: `cannot be reloaded: ${(e as Error).message}`, fix: 'see the error; the daemon keeps its configuration' }] };
    }
    if (!read.config) {
      const errors = read.problems.map(formatProblem);
      for (const e of errors) log.error(`reload: ${e}`);
      log.error(`reload of ${this.current.file} failed with ${errors.length} problem(s): still running on the configuration loaded before; fix them and reload again`);
      this.last = { at, ok: false, errors };
    } else {
      const changes = describeChanges(diffConfigs(this.current, read.config));
      this.current = read.config;
      this.d.apply(read.config);
      log.info(`reload of ${read.config.file}: ${changes}; applies from the next tick (${ENV_NOT_RELOADED})`);
      this.last = { at, ok: true, changes, errors: [] };
    }
    this.d.onReloaded?.(this.last);
    return this.last;
  }
}
