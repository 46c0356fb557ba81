import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonEnv } from '../src/cli/demo.js';
import { systemClock } from '../src/clock.js';
import { loadSettings } from '../src/config/index.js';
import { wire } from '../src/daemon/wire.js';
import { memoryLogger, Redactor } from '../src/log.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { ROOT } from './helpers/e2e.js';

const repos = Array.from({ length: 50 }, (_, i) => `acme/repo-${String(i).padStart(2, '0')}`);

function githubCounts(sim: Simulator) {
  let requests = 0;
  let counted = 0;
  let notModified = 0;
  for (const r of sim.ctx.recorder.requests.values()) {
    if (r.side !== 'github') continue;
    requests += r.count;
    counted += r.counted;
    notModified += r.notModified;
  }
  return { requests, counted, notModified };
}

describe('e2e: 50 idle repositories', () => {
  it('cost no rate limit after the first tick: every poll is a 304', async () => {
    const sim = new Simulator(
      parseScenario(`
seed: 3
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
github:
  repos: [${repos.join(', ')}]
workload: []
`),
      { speed: 1 },
    );
    const endpoints = await sim.start();
    const dir = mkdtempSync(join(tmpdir(), 'pvr-idle-'));
    const pools = join(dir, 'pools.yaml');
    writeFileSync(
      pools,
      `github:\n  repos: [${repos.join(', ')}]\npools:\n  - name: ubuntu-2404\n    template: ubuntu-2404-runner-template\n    labels: [self-hosted, linux]\n    vmid_range: [200, 209]\n    max_runners: 2\n    node: pve1\n    user_data: ${join(ROOT, 'cloud-init', 'ubuntu-2404.yaml')}\n`,
    );
    // 150 listings a tick at 60 s fit the ticks' budget (360 points a minute): every tick lists all
    const settings = loadSettings({ ...daemonEnv(endpoints, pools, 1), POLL_INTERVAL: '60' }, { cwd: dir });
    const { log, lines } = memoryLogger({ format: 'json' });
    const w = wire(settings, { clock: systemClock, log, redactor: new Redactor() });
    try {
      await w.daemon.tick();
      const first = githubCounts(sim);
      expect(first.counted).toBeGreaterThanOrEqual(150); // 50 × (queued runs, running runs, runners)
      await w.daemon.tick();
      const second = githubCounts(sim);
      await w.daemon.tick();
      const third = githubCounts(sim);
      expect(second.requests - first.requests).toBe(first.requests);
      expect(second.counted - first.counted).toBe(0);
      expect(second.notModified - first.notModified).toBe(first.requests);
      expect(third.counted - second.counted).toBe(0);
      expect(w.github.budget()?.remaining).toBe(5000 - first.counted);
      expect(lines.filter((l) => l.includes('"level":"error"') || l.includes('"level":"warning"'))).toEqual([]);
    } finally {
      await sim.stop();
    }
  });
});
