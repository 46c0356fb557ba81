import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { daemonEnv } from '../src/cli/demo.js';
import { loadScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { CLI, ROOT } from './helpers/e2e.js';

describe('e2e: SIGTERM', () => {
  it('finishes the actions in flight, starts no new ones, and exits 0', async () => {
    const scenario = loadScenario(join(ROOT, 'scenarios', 'burst.yaml'));
    const sim = new Simulator(scenario, { speed: 5 });
    const endpoints = await sim.start();
    try {
      const env = { ...process.env, ...daemonEnv(endpoints, join(ROOT, 'pools.yaml'), 5) };
      const child = spawn(process.execPath, [CLI, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: string[] = [];
      let signalled = -1;
      createInterface({ input: child.stderr! }).on('line', (l) => {
        lines.push(l);
        if (signalled < 0 && l.includes('creating runner VM')) {
          signalled = lines.length;
          child.kill('SIGTERM');
        }
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(signalled).toBeGreaterThan(0);
      const creating = lines.filter((l) => l.includes('creating runner VM')).length;
      const started = lines.filter((l) => l.includes('runner VM started')).length;
      expect(creating).toBeGreaterThanOrEqual(1);
      // every creation that had begun was carried through to a started VM
      expect(started).toBe(creating);
      expect(lines.some((l) => l.includes('signal received'))).toBe(true);
      expect(lines.at(-1)).toContain('stopped cleanly');
      const afterSignal = lines.slice(lines.findIndex((l) => l.includes('signal received')));
      expect(afterSignal.filter((l) => l.includes('"message":"tick:'))).toEqual([]);
      expect(sim.pve.ourVms().filter((v) => v.status === 'running')).toHaveLength(creating);
    } finally {
      await sim.stop();
    }
  }, 60_000);
});
