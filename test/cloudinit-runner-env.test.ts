/** runner.env: the file format shared by the daemon, run-once.sh, run-once.ps1 and the simulator's guest. */
import { Rng } from '../src/sim/rng.js';
import {
  formatRunnerEnv,
  formatRunnerEnvLines,
  parseRunnerEnv,
  parseRunnerRegistration,
  quoteRunnerEnvValue,
  RunnerEnvError,
} from '../src/cloudinit/runner-env.js';

/** Random strings biased toward what breaks quoting: controls, quotes, shell metacharacters, escapes, non-ASCII. */
function nastyString(rng: Rng): string {
  const alphabet = ['a', 'Z', '0', ' ', '\t', '\n', '\r', '"', "'", '$', '(', ')', '`', '\\', 'x', '4', '1', '#', '=', ';', '|', '&', '\x01', '\x1b', '\x7f', 'é', 'ラ', '😀', '{', '}'];
  let s = '';
  const len = rng.int(0, 24);
  for (let i = 0; i < len; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

describe('runner.env format', () => {
  it('round-trips any value, one line per key, with nothing a shell would expand', () => {
    const rng = new Rng(20240601);
    for (let i = 0; i < 2000; i++) {
      const value = nastyString(rng);
      const text = formatRunnerEnvLines([['RUNNER_X', value], ['RUNNER_Y', 'after']]);
      expect(text.split('\n')).toHaveLength(3);
      expect(text).toMatch(/^RUNNER_X="[^"$`\n\r\t\x00-\x1f\x7f]*"\nRUNNER_Y="after"\n$/u);
      expect(parseRunnerEnv(text)).toEqual({ RUNNER_X: value, RUNNER_Y: 'after' });
    }
  });

  it('escapes only backslash and hex, so \\x41 written literally stays literal', () => {
    expect(quoteRunnerEnvValue('a\\x41"$`\n')).toBe('"a\\\\x41\\x22\\x24\\x60\\x0a"');
    expect(parseRunnerEnv('K="a\\\\x41"\n')).toEqual({ K: 'a\\x41' });
    expect(parseRunnerEnv('K="\\x41"')).toEqual({ K: 'A' });
  });

  it('formats both registration kinds and reads them back', () => {
    const jit = formatRunnerEnv('ci-205-ab12', { kind: 'jit', encodedJitConfig: 'eyJhIjoxfQ==' });
    expect(jit).toBe('RUNNER_NAME="ci-205-ab12"\nRUNNER_JITCONFIG="eyJhIjoxfQ=="\n');
    expect(parseRunnerRegistration(jit)).toEqual({ runnerName: 'ci-205-ab12', registration: { kind: 'jit', encodedJitConfig: 'eyJhIjoxfQ==' } });

    const reg = { kind: 'token' as const, url: 'https://github.com/acme', token: 'T0K', labels: ['self-hosted', 'a b', '$(x)'] };
    const token = formatRunnerEnv('ci-206-zz99', reg);
    expect(parseRunnerEnv(token)).toEqual({ RUNNER_NAME: 'ci-206-zz99', RUNNER_URL: 'https://github.com/acme', RUNNER_TOKEN: 'T0K', RUNNER_LABELS: 'self-hosted,a b,$(x)' });
    expect(parseRunnerRegistration(token)).toEqual({ runnerName: 'ci-206-zz99', registration: reg });
  });

  it('ignores comments, blank lines and CRLF line ends', () => {
    expect(parseRunnerEnv('# written by pve-runners\r\n\r\nA="1"\r\n  \nB="2"')).toEqual({ A: '1', B: '2' });
  });

  const malformed: Array<[string, string]> = [
    ['unquoted value', 'A=1'],
    ['single quotes', "A='1'"],
    ['an inner quote', 'A="1"2"'],
    ['a raw tab', 'A="1\t2"'],
    ['an unknown escape', 'A="\\n"'],
    ['a non-ASCII hex escape', 'A="\\xc3\\xa9"'],
    ['a lower-case key', 'a="1"'],
    ['export syntax', 'export A="1"'],
    ['a duplicate key', 'OK="2"'],
    ['trailing text', 'A="1" # c'],
  ];
  it.each(malformed)('rejects %s, by line number only', (_name, text) => {
    expect(() => parseRunnerEnv(`OK="secret-value"\n${text}\n`)).toThrow(RunnerEnvError);
    expect(() => parseRunnerEnv(`OK="secret-value"\n${text}\n`)).toThrow(/line 2/);
    try {
      parseRunnerEnv(`${text}\n`);
    } catch (e) {
      expect((e as Error).message).not.toContain(text);
    }
  });

  it('refuses values it could not give back: NUL and lone surrogates', () => {
    expect(() => quoteRunnerEnvValue('a\0b')).toThrow(/NUL/);
    expect(() => quoteRunnerEnvValue('a\uD800b')).toThrow(/well-formed/);
  });

  it('refuses token registrations whose labels config.sh would split or trim', () => {
    for (const label of ['', 'a,b', ' lead', 'trail ']) {
      expect(() => formatRunnerEnv('n', { kind: 'token', url: 'https://x', token: 't', labels: ['ok', label] })).toThrow(/cannot be passed to config.sh --labels/);
    }
  });
});
