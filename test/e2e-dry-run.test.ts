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
    // demo.yaml's workload held: the test queues its first entry (6 ubuntu-24.04 jobs) and nothing
    // else arrives, however long the machine takes to get to each command
    const sim = new Simulator(loadScenario(join(ROOT, 'scenarios', 'demo.yaml')), { speed: 20, holdWorkload: true });
    const endpoints = await sim.start();
    try {
      sim.releaseWorkload(0);
      const env = { ...process.env, ...daemonEnv(endpoints, join(ROOT, 'pools.yaml'), 20) };
      const dry = await run(process.execPath, [CLI, 'once', '--dry-run'], { env });
      const plan = JSON.parse(dry.stdout) as { actions: Array<{ kind: string; pool: string; reason: string }>; notes: string[] };
      // the six jobs of the first workload entry (the only one released): four VMs (max_runners 4)
      expect(plan.actions.filter((a) => a.kind === 'create' && a.pool === 'ubuntu-2404')).toHaveLength(4);
      expect(plan.actions.every((a) => a.reason.length > 10)).toBe(true);
      expect(plan.notes.some((n) => n.includes("VMID 205 in pool ubuntu-2404's range is taken by a VM this token cannot see"))).toBe(true);
      expect(sim.pve.ourVms()).toEqual([]);
      expect(sim.github.leaks().registrations).toEqual([]);
      expect(sim.github.issuedSecrets()).toEqual([]);

      const real = await run(process.execPath, [CLI, 'once'], { env });
      // exactly what the plan said: four VMs of pool ubuntu-2404 (its max_runners), nothing else
      expect(sim.pve.ourVms().map((v) => v.tags.find((t) => t.startsWith('pvr-pool.')))).toEqual(Array(4).fill('pvr-pool.ubuntu-2404'));
      expect(sim.github.issuedSecrets().length).toBeGreaterThanOrEqual(4);
      const output = [...dry.stdout.split('\n'), ...dry.stderr.split('\n'), ...real.stdout.split('\n'), ...real.stderr.split('\n')];
      expect(leakedSecrets(output, sim.secrets())).toEqual([]);
      expect(real.stderr).toContain('runner VM started');
    } finally {
      await sim.stop();
    }
  }, 60_000);
});
