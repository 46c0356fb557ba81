import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, parsePoolsConfig, selectPool } from '../src/config/index.js';
import type { ConfigFs } from '../src/config/index.js';
import { Rng } from '../src/sim/rng.js';

const pool = (name: string, labels: string[]) => ({ name, labelsLower: labels.map((l) => l.toLowerCase()) });

describe('selectPool follows GitHub: case-insensitive subset, fewest labels, ties by file order', () => {
  const pools = [
    pool('linux', ['self-hosted', 'linux', 'x64']),
    pool('ubuntu-2404', ['self-hosted', 'linux', 'x64', 'ubuntu-24.04']),
    pool('gpu', ['self-hosted', 'linux', 'x64', 'gpu']),
    pool('arm', ['self-hosted', 'linux', 'arm64']),
    pool('arm-big', ['self-hosted', 'linux', 'ARM64', 'Big']),
    pool('tie-first', ['self-hosted', 'tie', 'a']),
    pool('tie-second', ['self-hosted', 'tie', 'b']),
  ];

  it.each([
    [['self-hosted'], 'linux'],                           // linux, arm and tie-* fit with 3 labels: the earliest wins
    [['self-hosted', 'linux'], 'linux'],                  // linux and arm fit with 3 labels, ubuntu-2404 with 4
    [['Self-Hosted', 'LINUX', 'X64'], 'linux'],           // case-insensitive
    [['ubuntu-24.04'], 'ubuntu-2404'],                    // a subset is enough
    [['linux', 'ubuntu-24.04', 'self-hosted'], 'ubuntu-2404'], // order does not matter
    [['gpu', 'x64'], 'gpu'],
    [['arm64'], 'arm'],                                   // arm (3) beats arm-big (4)
    [['big'], 'arm-big'],                                 // only arm-big has it, in any case
    [['tie'], 'tie-first'],                               // equal counts: file order
    [['b'], 'tie-second'],
    [['self-hosted', 'windows'], undefined],              // no pool has windows
    [['gpu', 'arm64'], undefined],                        // no single pool has both
    [['ubuntu-24.04', 'gpu'], undefined],
  ])('%j → %s', (job, expected) => {
    expect(selectPool(pools, job)?.name).toBe(expected);
  });

  it('ties go to the earlier pool whichever way round they are listed', () => {
    const a = pool('a', ['x', 'y']);
    const b = pool('b', ['x', 'z']);
    expect(selectPool([a, b], ['x'])).toBe(a);
    expect(selectPool([b, a], ['x'])).toBe(b);
  });

  it('finds nothing among no pools', () => expect(selectPool([], ['self-hosted'])).toBeUndefined());
});

/** pools.yaml text for label sets, everything else valid. */
function poolsYaml(labelSets: string[][]): string {
  const pools = labelSets.map((labels, i) => `  - {name: p${i}, labels: [${labels.join(', ')}], vmid_range: [${100 + i * 10}, ${109 + i * 10}]}`);
  return `github: {repos: [acme/app]}\ndefaults: {node: pve1, template: tpl, user_data: u.yaml}\npools:\n${pools.join('\n')}\n`;
}

// Loading trial-renders each pool's user_data, so it must be a template the renderer accepts.
const template = readFileSync(resolve('test/fixtures/config/cloud-init/ubuntu-2404.yaml'), 'utf8');
const fs: ConfigFs = { readText: () => template, exists: () => true };

/** Indexes of the pools the load-time check reports as never chosen. */
function flagged(labelSets: string[][]): number[] {
  const { problems } = parsePoolsConfig(poolsYaml(labelSets), { file: 'pools.yaml', path: '/cfg/pools.yaml' }, { fs });
  const other = problems.filter((p) => !/^pools\[\d+\]\.labels$/.test(p.path) || !p.message.includes('can never be chosen'));
  if (other.length) throw new ConfigError(other);
  return problems.map((p) => Number(/^pools\[(\d+)\]/.exec(p.path)![1]));
}

describe('the shadow check', () => {
  it.each([
    ['the same labels later in the file', [['linux', 'x64'], ['x64', 'linux']], [1]],
    ['the same labels in another case', [['Linux'], ['linux']], [1]],
    ['a third copy', [['a'], ['b'], ['a'], ['a']], [2, 3]],
  ])('flags %s', (_what, sets, expected) => expect(flagged(sets)).toEqual(expected));

  it.each([
    // An earlier pool whose labels are a subset still loses the jobs that need the extra label.
    ['an earlier subset', [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu']]],
    ['a later subset', [['self-hosted', 'linux', 'gpu'], ['self-hosted', 'linux']]],
    // A superset earlier in the file never wins a job both fit: it has more labels.
    ['an earlier superset', [['a', 'b', 'c'], ['a', 'b']]],
    ['pools covered together by others', [['a', 'b'], ['b', 'c'], ['a', 'b', 'c']]],
    ['the same count, different labels', [['a', 'b'], ['a', 'c']]],
  ])('does not flag %s', (_what, sets) => expect(flagged(sets)).toEqual([]));

  /** The oracle, written independently of selectPool: sort the fitting pools and take the first. */
  function winner(sets: string[][], job: string[]): number | undefined {
    const lower = sets.map((s) => new Set(s.map((l) => l.toLowerCase())));
    const fitting = lower.map((s, i) => ({ i, n: s.size, fits: job.every((l) => s.has(l)) })).filter((p) => p.fits);
    fitting.sort((x, y) => x.n - y.n || x.i - y.i);
    return fitting[0]?.i;
  }

  it('flags exactly the pools that no job label set selects (random pool sets, every possible job)', () => {
    const universe = ['a', 'b', 'c', 'd', 'e'];
    const jobs = Array.from({ length: 1 << universe.length }, (_, mask) => universe.filter((_, k) => mask & (1 << k)));
    const rng = new Rng(20260101);
    let shadowedSeen = 0;
    for (let round = 0; round < 300; round++) {
      const sets = Array.from({ length: rng.int(2, 6) }, () => {
        const picked = universe.filter(() => rng.chance(0.5));
        const labels = picked.length ? picked : [universe[rng.int(0, universe.length - 1)]!];
        return labels.map((l) => (rng.chance(0.3) ? l.toUpperCase() : l));
      });
      const selectable = new Set(jobs.map((job) => winner(sets, job)).filter((i) => i !== undefined));
      const expected = sets.map((_, i) => i).filter((i) => !selectable.has(i));
      expect({ sets, flagged: flagged(sets) }).toEqual({ sets, flagged: expected });
      shadowedSeen += expected.length;
    }
    // The random sets must actually exercise the check, not only pass it vacuously.
    expect(shadowedSeen).toBeGreaterThan(20);
  });
});
