/**
 * Hostile YAML in pools.yaml, through the binary: alias expansion ("billion laughs") and tags that
 * would make a value something other than plain data are configuration errors (exit 78 with the
 * line and the fix), never a stack trace and never silently accepted.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readPoolsConfig } from '../src/config/index.js';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pools(edit: (t: string) => string): string {
  const s = shippedPools(edit);
  dirs.push(s.dir);
  return s.pools;
}

const LAUGHS = [
  'x-lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((n, k) => `x-${n}: &${n} [${Array(9).fill(`*${'abcdefgh'[k]}`).join(', ')}]`),
].join('\n');

describe('hostile YAML in pools.yaml', () => {
  it('refuses a "billion laughs" file with exit 78 and a message, not a stack trace', async () => {
    const file = pools((t) => `${LAUGHS}\n${t}`);
    const r = await runCli(['check'], validEnv(file));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${file}: (top level): its aliases (*name) expand to more than YAML loading allows, as in a "billion laughs" attack — fix: write the repeated values out, or repeat fewer of them through aliases`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('still accepts ordinary anchors and aliases', async () => {
    const file = pools((t) => t.replace('labels: [self-hosted, linux, x64, ubuntu-24.04]', 'labels: &l24 [self-hosted, linux, x64, ubuntu-24.04]'));
    expect(readPoolsConfig({ file: 'pools.yaml', path: file }).problems).toEqual([]);
  });

  it.each([
    ['!!js/function', /node: pve1 .*/, 'node: !!js/function "pve1"', '!!js/function'],
    ['!foo', /node: pve1 .*/, 'node: !foo pve1', '!foo'],
    ['!!binary', /node: pve1 .*/, 'node: !!binary cHZlMQ==', '!!binary'],
    ['!!set on a mapping', /labels: \[self-hosted, windows, x64, windows-2022\]/, 'labels: !!set {self-hosted, windows}', '!!set'],
  ])('refuses the tag %s, naming its line', async (_name, from, to, shown) => {
    const file = pools((t) => t.replace(from, to));
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(to)) + 1;
    expect(line).toBeGreaterThan(0);
    const r = await runCli(['check'], validEnv(file));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${file}: line ${line}, column `);
    expect(r.stderr).toContain(`: the tag ${shown} is not allowed — fix: remove it: pools.yaml holds only plain strings, numbers, booleans, lists and mappings (!!str, !!int, !!float, !!bool, !!null, !!seq and !!map are accepted)`);
  });

  it('accepts the core tags', async () => {
    const file = pools((t) => t.replace('cores: 4\n    memory: 8192\n\n  - name: ubuntu-2204', 'cores: !!int "4"\n    memory: 8192\n\n  - name: ubuntu-2204').replace('node: pve1 ', 'node: !!str pve1 '));
    const { config, problems } = readPoolsConfig({ file: 'pools.yaml', path: file });
    expect(problems).toEqual([]);
    expect(config!.pools[0]!.cores).toBe(4);
    expect(config!.pools[2]!.nodes).toEqual(['pve1']);
  });
});
