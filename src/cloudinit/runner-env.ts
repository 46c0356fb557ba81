/**
 * The one writer and reader of `/etc/pve-runners/runner.env` (`C:\ProgramData\pve-runners\runner.env`
 * on Windows): the runner's inputs, handed from the daemon to run-once through cloud-init.
 *
 * Format (also implemented by runners/linux/run-once.sh and runners/windows-2022/scripts/run-once.ps1):
 * one `KEY="VALUE"` per line; blank lines and `#` comments ignored. Inside the quotes every byte is
 * literal except two escapes: `\\` for a backslash and `\xHH` (HH < 0x80) for an ASCII byte. The writer
 * escapes every control character, `"`, `$` and the backtick, so a value can never end its line or
 * its quotes, and even a reader that wrongly `source`s the file as shell would expand nothing.
 */
import type { Registration } from './render.js';

export const RUNNER_ENV_KEYS = ['RUNNER_NAME', 'RUNNER_JITCONFIG', 'RUNNER_URL', 'RUNNER_TOKEN', 'RUNNER_LABELS', 'RUNNER_GROUP'] as const;

const KEY_RE = /^[A-Z_][A-Z0-9_]*$/;
const LINE_RE = /^([A-Z_][A-Z0-9_]*)="((?:[^"\\\x00-\x1f\x7f]|\\\\|\\x[0-7][0-9A-Fa-f])*)"$/;

export class RunnerEnvError extends Error {}

/** Characters written as `\xHH`: all ASCII controls, and those a shell would treat specially inside double quotes. */
function needsHexEscape(code: number): boolean {
  return code < 0x20 || code === 0x7f || code === 0x22 /* " */ || code === 0x24 /* $ */ || code === 0x60 /* ` */;
}

export function quoteRunnerEnvValue(value: string): string {
  if (value.includes('\0')) throw new RunnerEnvError('runner.env values cannot contain NUL bytes');
  // A lone surrogate has no UTF-8 form: it would come back as U+FFFD, not as what went in.
  if (/[\uD800-\uDFFF]/u.test(value)) throw new RunnerEnvError('runner.env values must be well-formed Unicode');
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (needsHexEscape(code)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}

function unquote(inner: string): string {
  return inner.replace(/\\(\\|x([0-7][0-9A-Fa-f]))/g, (_m, esc: string, hex: string | undefined) =>
    hex === undefined ? esc : String.fromCharCode(parseInt(hex, 16)),
  );
}

export function formatRunnerEnvLines(entries: ReadonlyArray<readonly [string, string]>): string {
  return entries
    .map(([key, value]) => {
      if (!KEY_RE.test(key)) throw new RunnerEnvError(`invalid runner.env key '${key}'`);
      return `${key}=${quoteRunnerEnvValue(value)}\n`;
    })
    .join('');
}

/** The file's text for one runner. Labels are comma-joined, as `config.sh --labels` takes them. */
export function formatRunnerEnv(runnerName: string, reg: Registration): string {
  if (reg.kind === 'jit') {
    return formatRunnerEnvLines([
      ['RUNNER_NAME', runnerName],
      ['RUNNER_JITCONFIG', reg.encodedJitConfig],
    ]);
  }
  for (const label of reg.labels) {
    if (label === '' || label.includes(',') || label.trim() !== label) {
      throw new RunnerEnvError(`runner label ${JSON.stringify(label)} cannot be passed to config.sh --labels: labels must be non-empty, without commas or surrounding spaces`);
    }
  }
  return formatRunnerEnvLines([
    ['RUNNER_NAME', runnerName],
    ['RUNNER_URL', reg.url],
    ['RUNNER_TOKEN', reg.token],
    ['RUNNER_LABELS', reg.labels.join(',')],
    // An organisation runner joins its group at config.sh time (a registration token carries none).
    ...(reg.group !== undefined ? [['RUNNER_GROUP', reg.group] as const] : []),
  ]);
}

/**
 * Parses the file as data, never as shell. Any line that is not a comment, blank or a well-formed
 * `KEY="VALUE"` is an error (the message gives the line number, never the line: it may hold a secret).
 */
export function parseRunnerEnv(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const m = LINE_RE.exec(line);
    if (!m) throw new RunnerEnvError(`runner.env line ${i + 1} is not KEY="VALUE" with only \\\\ and \\xHH escapes`);
    const key = m[1]!;
    if (Object.hasOwn(result, key)) throw new RunnerEnvError(`runner.env line ${i + 1}: ${key} is set twice`);
    result[key] = unquote(m[2]!);
  });
  return result;
}

/** Reads the file back into what was registered — the inverse of formatRunnerEnv. */
export function parseRunnerRegistration(text: string): { runnerName: string; registration: Registration } {
  const env = parseRunnerEnv(text);
  const runnerName = env.RUNNER_NAME;
  if (!runnerName) throw new RunnerEnvError('runner.env has no RUNNER_NAME');
  if (env.RUNNER_JITCONFIG !== undefined) return { runnerName, registration: { kind: 'jit', encodedJitConfig: env.RUNNER_JITCONFIG } };
  const { RUNNER_URL: url, RUNNER_TOKEN: token, RUNNER_LABELS: labels } = env;
  if (url === undefined || token === undefined || labels === undefined) {
    throw new RunnerEnvError('runner.env holds neither RUNNER_JITCONFIG nor all of RUNNER_URL, RUNNER_TOKEN, RUNNER_LABELS');
  }
  return { runnerName, registration: { kind: 'token', url, token, labels: labels.split(','), ...(env.RUNNER_GROUP !== undefined ? { group: env.RUNNER_GROUP } : {}) } };
}
