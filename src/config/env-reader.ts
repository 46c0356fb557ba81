/**
 * Reading the environment record: typed values, with every problem collected (not thrown at the
 * first) so one start-up names every bad variable. No secret's value is ever put in a problem.
 */
import { isAbsolute, resolve } from 'node:path';
import { ENVIRONMENT } from './errors.js';
import type { ConfigProblem } from './errors.js';
import type { ConfigFs } from './fs.js';

export type Env = Readonly<Record<string, string | undefined>>;

const BOOLEANS: Record<string, boolean> = { '1': true, true: true, yes: true, '0': false, false: false, no: false };

export class EnvReader {
  readonly problems: ConfigProblem[] = [];

  constructor(private readonly env: Env, readonly fs: ConfigFs, private readonly cwd: string) {}

  problem(path: string, message: string, fix: string, file = ENVIRONMENT): void {
    this.problems.push({ file, path, message, fix });
  }

  /** Empty means unset: `FOO=` in an env file is how people blank a variable. */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return dflt;
    const b = BOOLEANS[v.toLowerCase()];
    if (b === undefined) this.problem(name, `'${v}' is not a boolean`, `set ${name} to one of 1, 0, true, false, yes, no`);
    return b ?? dflt;
  }

  int(name: string, min: number, fix: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
      this.problem(name, `'${v}' is not a whole number >= ${min}`, fix);
      return undefined;
    }
    return Number(v);
  }

  fsRead(path: string, maxBytes: number): string {
    return this.fs.readText(path, maxBytes);
  }

  path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.cwd, p);
  }
}
