/**
 * 500 repository scopes at POLL_INTERVAL 5 s: listing them all costs 1,500 secondary-limit points a
 * tick, 18,000 a minute, where GitHub allows 900 and the ticks plan for 360. The daemon says so at
 * start-up, `check` says the same, and the run lists the active repositories every tick and the
 * idle ones in turn — every job served, the idle repository's too, and no scenario minute above
 * GitHub's limit.
 */
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { ROOT, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';

const REPOS = Array.from({ length: 500 }, (_, i) => `acme/r${String(i).padStart(3, '0')}`);
const LABELS = '[self-hosted, linux, x64, ubuntu-24.04]';
const SCENARIO = `
seed: 5
time_limit: 1800s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}]
  templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}]
  timings: {clone: 2s, config: 200ms, start: 1s, boot: 10s, stop: 1s, shutdown: 2s, destroy: 1s}
github:
  repos: [${REPOS.join(', ')}]
workload:
  - {at: 0s, repo: acme/r007, jobs: 2, labels: ${LABELS}, duration: 200s}
  - {at: 30s, repo: acme/r007, jobs: 1, labels: ${LABELS}, duration: 20s}
  - {at: 60s, repo: acme/r250, jobs: 1, labels: ${LABELS}, duration: 20s}
`;
const POOLS = `github:
  repos: [${REPOS.join(', ')}]
max_total_runners: 8
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: ${LABELS}
    vmid_range: [200, 229]
    max_runners: 8
    node: pve1
    user_data: cloud-init/ubuntu-2404.yaml
`;
const ENV = { POLL_INTERVAL: '5' };
// 500 idle repositories × 3 points at 360 points a minute: 250 s for all; 10 a tick at 5 s
const HOLD = 'the interval it can hold for all of them is 4.2 min';

describe('e2e: more repositories than the budget holds at POLL_INTERVAL', () => {
  it('check warns with the interval it can hold', async () => {
    const sim = new Simulator(parseScenario(SCENARIO), { speed: 1 });
    try {
      const endpoints = await sim.start();
      const out: string[] = [];
      const code = await checkCommand({ env: { ...daemonEnv(endpoints, poolsFile(POOLS), 1), ...ENV }, cwd: ROOT, out: (l) => out.push(l), write: () => {} });
      const line = out.find((l) => l.startsWith('! GitHub request budget'));
      expect(line).toContain('500 repositories cannot all be listed every 5s');
      expect(line).toContain(HOLD);
      expect(line).toContain('webhooks (WEBHOOK_LISTEN');
      // 150 repositories probed (3 points each), the other 150 named, and GitHub never refused it
      expect(out.filter((l) => l.includes('✓ repository acme/r'))).toHaveLength(150);
      expect(out.find((l) => l.includes('repositories beyond the first 150'))).toContain('acme/r150, acme/r151, acme/r152 and 347 more not probed');
      expect(sim.ctx.recorder.githubSecondary.limited).toBe(0);
      expect(code).toBe(0);
    } finally {
      await sim.stop();
    }
  }, 120_000);

  it('the daemon warns at start-up, then lists idle repositories in turn, serves every job and keeps every minute under the limit', async () => {
    // cumulative GitHub requests at scenario times, sampled every loop turn (~100 ms real, 2 s scenario)
    const samples: Array<{ t: number; n: number }> = [];
    const githubRequests = (sim: Simulator) => [...sim.ctx.recorder.requests.values()].filter((r) => r.side === 'github').reduce((n, r) => n + r.count, 0);
    let pickups = new Map<string, number>();
    const { report, logs } = await runE2e(SCENARIO, {
      pools: poolsFile(POOLS),
      env: ENV,
      during: (sim) => samples.push({ t: sim.ctx.clock.nowMs(), n: githubRequests(sim) }),
      inspect: (sim) => {
        pickups = new Map([...sim.ctx.recorder.jobs.values()].map((j) => [`${j.repo}#${j.id}`, ((j.takenAt ?? Infinity) - j.queuedAt) / 1000]));
      },
    });
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(4);
    zeroLeaks(report);

    const warnings = logs.filter((l) => l.includes('"level":"warning"'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('500 repositories cannot all be listed every 5s');
    expect(warnings[0]).toContain(HOLD);
    expect(logs.findIndex((l) => l.includes('GitHub budget: 500'))).toBeLessThan(logs.findIndex((l) => l.includes('"message":"tick: ')));

    // Idle repositories are listed in turn: a tick lists the runs (two listings) of far fewer than
    // 500. However late a loaded machine makes the ticks, one spends at most half a minute's share
    // (180 points: 60 repositories), where listing all would be 1,000 run listings a tick.
    const ticks = logs.filter((l) => l.includes('"message":"tick: ')).length;
    const runListings = report.github.by_endpoint['GET /repos/{owner}/{repo}/actions/runs'] ?? 0;
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(runListings / ticks).toBeLessThan(1000 / 4);
    // …and every job was served, the idle repository's too (report.jobs.completed above)
    const idlePickup = [...pickups].find(([k]) => k.startsWith('acme/r250#'))![1];
    expect(Number.isFinite(idlePickup)).toBe(true);
    // The secondary limit: no scenario minute saw more than 900 requests (the plan spends ≤ 360 a minute on ticks)
    let worst = 0;
    for (const s of samples) {
      const before = [...samples].reverse().find((x) => x.t <= s.t - 60_000);
      if (before) worst = Math.max(worst, s.n - before.n);
    }
    // eslint-disable-next-line no-console
    console.log(`budget e2e: ${ticks} ticks, ${report.github.requests} GitHub requests (${runListings} run listings, ${(runListings / ticks).toFixed(1)} a tick; 1,000 a tick without the schedule), worst scenario minute ${worst} requests; pickups ${[...pickups].map(([k, v]) => `${k} ${v.toFixed(0)}s`).join(', ')}`);
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(720);
    // …and the simulator, enforcing GitHub's 900 points a minute per credential, refused nothing
    expect(report.github.secondary_limited).toBe(0);
    expect(report.github.peak_points_per_minute).toBeLessThanOrEqual(720);
  }, 300_000);
});
