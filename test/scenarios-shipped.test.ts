import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../src/sim/scenario.js';

describe('shipped scenarios', () => {
  const dir = join(process.cwd(), 'scenarios');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('include a demo, a burst and a faulty one', () => {
    expect(files).toEqual(expect.arrayContaining(['demo.yaml', 'burst.yaml', 'faulty.yaml']));
  });

  it.each(files)('%s is valid', (f) => {
    const s = loadScenario(join(dir, f));
    expect(s.workload.length).toBeGreaterThan(0);
  });

  it('the burst scenario queues 40 jobs over two label sets', () => {
    const s = loadScenario(join(dir, 'burst.yaml'));
    expect(s.workload.reduce((n, w) => n + w.jobs, 0)).toBe(40);
    expect(new Set(s.workload.map((w) => w.labels.join(','))).size).toBe(2);
  });
});
