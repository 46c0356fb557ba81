import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { daemonEnv } from '../src/cli/demo.js';
import { loadScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { CLI, leakedSecrets, ROOT } from './helpers/e2e.js';

const run = promisify(execFile);

describe('e2e: once --dry-run and once', () => {
  it('prints the plan with reasons, changes nothing, and never shows a secret; once then acts', async () => {
    const sim = new Simulator(loadScenario(join(ROOT, 'scenarios', 'demo.yaml')), { speed: 20 });
    const endpoints = await sim.start();
    try {
      const env = { ...process.env, ...daemonEnv(endpoints, join(ROOT, 'pools.yaml'), 20) };
      const dry = await run(process.execPath, [CLI, 'once', '--dry-run'], { env });
      const plan = JSON.parse(dry.stdout) as { actions: Array<{ kind: string; pool: string; reason: string }>; notes: string[] };
      // the six jobs queued at 0s: four VMs (max_runners 4); jobs the scenario queues 20s later (1s
      // real) are seen too when the tick is slower than that, so only the first pool's are certain
      expect(plan.actions.filter((a) => a.kind === 'create' && a.pool === 'ubuntu-2404')).toHaveLength(4);
      expect(plan.actions.every((a) => a.reason.length > 10)).toBe(true);
      expect(plan.notes.some((n) => n.includes('VM 205'))).toBe(true);
      expect(sim.pve.ourVms()).toEqual([]);
      expect(sim.github.leaks().registrations).toEqual([]);
      expect(sim.github.issuedSecrets()).toEqual([]);

      const real = await run(process.execPath, [CLI, 'once'], { env });
      // (more of the scenario's workload may have been queued meanwhile; the first four are certain)
      expect(sim.pve.ourVms().filter((v) => v.tags.includes('pvr-pool.ubuntu-2404'))).toHaveLength(4);
      expect(sim.github.issuedSecrets().length).toBeGreaterThanOrEqual(4);
      const output = [...dry.stdout.split('\n'), ...dry.stderr.split('\n'), ...real.stdout.split('\n'), ...real.stderr.split('\n')];
      expect(leakedSecrets(output, sim.secrets())).toEqual([]);
      expect(real.stderr).toContain('runner VM started');
    } finally {
      await sim.stop();
    }
  }, 60_000);
});
