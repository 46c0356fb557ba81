/** systemd's EX_CONFIG: the unit is set not to restart on it, since a restart cannot fix a bad config. */
export const EXIT_CONFIG = 78;

/** The pseudo file name for problems in environment variables. */
export const ENVIRONMENT = 'environment';

/** One thing wrong with the configuration, precise enough to fix without reading our code. */
export interface ConfigProblem {
  /** The file as the user named it, or `environment`. */
  readonly file: string;
  /** Where inside it: `pools[2].labels`, a variable name, or `(top level)`. */
  readonly path: string;
  /** The 1-based source line of `path`, when known (YAML files). */
  readonly line?: number;
  readonly message: string;
  /** What would be valid. */
  readonly fix: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.path : `${p.path} (line ${p.line})`;
  return `${p.file}: ${where}: ${p.message} — fix: ${p.fix}`;
}

/** Every problem found, not just the first: fixing a config one error per restart is tedious. */
export class ConfigError extends Error {
  readonly exitCode = EXIT_CONFIG;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/** Throws a ConfigError when there is anything to report. */
export function throwIfProblems(problems: readonly ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigError(problems);
}
