/**
 * Checks across pools that a JSON Schema cannot express. Each problem is reported at the later of
 * the two pools involved (the earlier one is the one that already "owns" the name, VMIDs or labels).
 */
import type { ConfigProblem } from './errors.js';
import { normalizeLabels, shadowingPool } from './labels.js';
import type { YamlSource } from './yaml-source.js';

/** What the checks need of each pool, as written (after schema validation). */
export interface PoolFacts {
  readonly name: string;
  readonly prefix?: string;
  readonly labels: readonly string[];
  readonly vmid_range: readonly [number, number];
  readonly template?: string | number;
}

const overlaps = (a: readonly [number, number], b: readonly [number, number]) => a[0] <= b[1] && b[0] <= a[1];
const range = (r: readonly [number, number]) => `[${r[0]}, ${r[1]}]`;

/** `defaultTemplate`: defaults.template, which pools without their own inherit. */
export function crossPoolProblems(pools: readonly PoolFacts[], source: YamlSource, defaultTemplate?: string | number): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const who = (i: number) => `pools[${i}] (${pools[i]!.name})`;

  pools.forEach((p, j) => {
    const i = pools.findIndex((q) => q.name === p.name);
    if (i !== j) problems.push(source.problem(['pools', j, 'name'], `'${p.name}' is already the name of pools[${i}]`, 'give every pool its own name (it is part of the Proxmox tag that marks the pool\'s VMs)'));
  });

  const prefixOf = (p: PoolFacts) => p.prefix ?? p.name;
  pools.forEach((p, j) => {
    const i = pools.findIndex((q) => prefixOf(q) === prefixOf(p));
    // Same-name pools are reported above; their prefixes clash only as a consequence.
    if (i === j || pools[i]!.name === p.name) return;
    problems.push(
      source.problem(['pools', j, p.prefix === undefined ? 'name' : 'prefix'], `runner names of ${who(j)} would start '${prefixOf(p)}-' like those of ${who(i)}, so neither could tell its runners apart`, 'set a prefix on one of them that no other pool uses'),
    );
  });

  pools.forEach((p, j) => {
    pools.slice(0, j).forEach((q, i) => {
      if (p.vmid_range[0] > p.vmid_range[1] || q.vmid_range[0] > q.vmid_range[1]) return;
      if (!overlaps(p.vmid_range, q.vmid_range)) return;
      problems.push(
        source.problem(['pools', j, 'vmid_range'], `${range(p.vmid_range)} overlaps ${range(q.vmid_range)} of ${who(i)}`, `give each pool VMIDs of its own, e.g. start ${who(j)} above ${Math.max(...pools.slice(0, j).map((x) => x.vmid_range[1]))}`),
      );
    });
  });

  const templates: { vmid: number; at: (string | number)[]; of: string }[] = [];
  pools.forEach((p, i) => {
    if (typeof p.template === 'number') templates.push({ vmid: p.template, at: ['pools', i, 'template'], of: who(i) });
  });
  if (typeof defaultTemplate === 'number' && pools.some((p) => p.template === undefined)) {
    templates.push({ vmid: defaultTemplate, at: ['defaults', 'template'], of: 'defaults' });
  }
  for (const t of templates) {
    pools.forEach((q, k) => {
      if (t.vmid < q.vmid_range[0] || t.vmid > q.vmid_range[1]) return;
      problems.push(source.problem(t.at, `template VMID ${t.vmid} of ${t.of} lies in the vmid_range ${range(q.vmid_range)} of ${who(k)}`, `move ${who(k)}'s vmid_range off ${t.vmid}: a pool owns every VMID in its range`));
    });
  }

  const labelled = pools.map((p) => ({ labelsLower: normalizeLabels(p.labels) }));
  labelled.forEach((p, j) => {
    const winner = shadowingPool(labelled, p);
    if (!winner) return;
    const i = labelled.indexOf(winner);
    problems.push(
      source.problem(
        ['pools', j, 'labels'],
        `${who(j)} can never be chosen: ${who(i)} comes first with the same labels [${winner.labelsLower.join(', ')}], so it gets every job ${pools[j]!.name} fits`,
        `add a label to one of them that tells the two apart (e.g. ${pools[j]!.name}), or remove ${who(j)}`,
      ),
    );
  });

  return problems;
}
