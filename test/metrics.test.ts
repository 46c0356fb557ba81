/**
 * The metrics' parts on their own: /readyz's rule at its boundaries, the job tracker (pickup once
 * per job from GitHub's timestamps, tiers, job duration, boot-to-registered, bounded memory), the
 * bounded labels, and the exposition's names.
 */
import { JobTracker, type Tier } from '../src/metrics/job-tracker.js';
import { capCode, pveEndpoint, reasonCode } from '../src/metrics/labels.js';
import { Readiness } from '../src/metrics/readiness.js';
import { Metrics } from '../src/metrics/registry.js';
import type { ListedJob } from '../src/metrics/recorder.js';
import { plan } from '../src/planner/plan.js';
import type { Config } from '../src/config/types.js';
import { config, MIN, NOW, observation, ourVm, runnerFor, ubuntu } from './helpers/planner-fixtures.js';

const iso = (ms: number) => new Date(ms).toISOString();
const okTick = (o = observation()) => ({ ok: true as const, observation: o, plan: plan(config(), o) });

describe('readiness (/readyz)', () => {
  const poll = 15_000;
  it('not ready before a tick succeeded; ready up to 3 poll intervals after one; not ready past that, saying how many failed', () => {
    const r = new Readiness({ pollIntervalMs: poll, timeScale: 1 });
    expect(r.check(NOW)).toEqual({ ready: false, text: 'not ready: no tick has succeeded yet' });
    r.tickEnded(NOW, { ok: false });
    expect(r.check(NOW).text).toBe('not ready: no tick has succeeded yet (1 failed)');
    r.tickEnded(NOW + 1000, okTick());
    expect(r.check(NOW + 1000 + 3 * poll)).toEqual({ ready: true, text: 'ready: the last tick succeeded 45s ago' });
    r.tickEnded(NOW + 20_000, { ok: false });
    r.tickEnded(NOW + 40_000, { ok: false });
    expect(r.check(NOW + 1001 + 3 * poll)).toEqual({ ready: false, text: 'not ready: the last tick that succeeded ended 45s ago, more than 3 poll intervals (45s); 2 failed since — see the log' });
    r.tickEnded(NOW + 60_000, okTick());
    expect(r.check(NOW + 60_000).ready).toBe(true);
  });

  it('not ready while the configuration is not loaded', () => {
    const r = new Readiness({ pollIntervalMs: poll, timeScale: 1, configLoaded: () => false });
    r.tickEnded(NOW, okTick());
    expect(r.check(NOW)).toEqual({ ready: false, text: 'not ready: the configuration is not loaded' });
  });
});

describe('job tracker', () => {
  const setup = (since = NOW) => {
    const seen: Array<[string, string, number]> = [];
    const t = new JobTracker({
      pools: [ubuntu], wallTime: (n) => n, scale: 1, since,
      observe: { pickup: (p, tier: Tier, s) => seen.push(['pickup', `${p}/${tier}`, s]), job: (p, s) => seen.push(['job', p, s]), boot: (p, s) => seen.push(['boot', p, s]) },
    });
    return { t, seen };
  };
  const listed = (over: Partial<ListedJob> & { id: number }): ListedJob => ({ status: 'in_progress', labels: ubuntu.labels, createdAt: iso(NOW + 10_000), startedAt: iso(NOW + 52_000), completedAt: null, runnerName: 'ubuntu-201-abcd', ...over });

  it('a job our runner took: its pickup from created_at to started_at, once, however often it is listed; cold when no runner waited', () => {
    const { t, seen } = setup();
    for (const at of [NOW + 60_000, NOW + 75_000, NOW + 90_000]) {
      t.tickStarted(at);
      t.jobsListed([listed({ id: 1 }), listed({ id: 2, status: 'queued', startedAt: iso(NOW + 10_000), runnerName: null }), listed({ id: 3, runnerName: 'laptop' })], at);
      t.tickEnded(at, observation());
    }
    expect(seen.filter(([k]) => k === 'pickup')).toEqual([['pickup', 'ubuntu/cold', 42]]);
  });

  it('hot when its runner was listed online before the job was queued; warm when its VM was a warm VM started', () => {
    const { t, seen } = setup();
    const vm = ourVm(ubuntu, 201, { name: 'ubuntu-201-abcd' });
    t.tickStarted(NOW);
    t.tickEnded(NOW, observation({ vms: [vm], runners: [runnerFor(vm, { status: 'online' })] }));
    t.vmStarted('ubuntu', 'ubuntu-202-wxyz', true, NOW);
    t.tickStarted(NOW + 60_000);
    t.jobsListed([listed({ id: 1 }), listed({ id: 2, runnerName: 'ubuntu-202-wxyz' })], NOW + 60_000);
    expect(seen.filter(([k]) => k === 'pickup')).toEqual([['pickup', 'ubuntu/hot', 42], ['pickup', 'ubuntu/warm', 42]]);
  });

  it('job duration from completed_at when listed completed, else until a complete tick no longer lists it; not after a failed listing', () => {
    const { t, seen } = setup();
    t.tickStarted(NOW + 60_000);
    t.jobsListed([listed({ id: 1 }), listed({ id: 2 })], NOW + 60_000);
    t.tickEnded(NOW + 60_000, observation());
    t.tickStarted(NOW + 80_000);
    t.jobsListed([listed({ id: 1, status: 'completed', completedAt: iso(NOW + 70_000) })], NOW + 80_000);
    t.tickEnded(NOW + 80_000, observation({ jobScopesFailed: ['repo:acme/app'] }));
    expect(seen.filter(([k]) => k === 'job')).toEqual([['job', 'ubuntu', 18]]);
    t.tickStarted(NOW + 100_000);
    t.tickEnded(NOW + 100_000, observation());
    expect(seen.filter(([k]) => k === 'job')).toEqual([['job', 'ubuntu', 18], ['job', 'ubuntu', 48]]);
  });

  it('boot-to-registered: from the start task to the first tick that lists the runner online', () => {
    const { t, seen } = setup();
    const vm = ourVm(ubuntu, 201, { name: 'ubuntu-201-abcd' });
    t.vmStarted('ubuntu', vm.name, false, NOW);
    t.tickStarted(NOW + 15_000);
    t.tickEnded(NOW + 16_000, observation({ vms: [vm], runners: [runnerFor(vm, { status: 'offline' })] }));
    t.tickStarted(NOW + 30_000);
    t.tickEnded(NOW + 31_000, observation({ vms: [vm], runners: [runnerFor(vm, { status: 'online' })] }));
    t.tickStarted(NOW + 45_000);
    t.tickEnded(NOW + 46_000, observation({ vms: [vm], runners: [runnerFor(vm, { status: 'online' })] }));
    expect(seen).toEqual([['boot', 'ubuntu', 30]]);
  });

  it('jobs started before this process began are not counted again (a restart); memory is bounded', () => {
    const { t, seen } = setup(NOW + 100_000);
    t.tickStarted(NOW + 120_000);
    t.jobsListed([listed({ id: 1 })], NOW + 120_000);
    t.tickEnded(NOW + 120_000, observation());
    expect(seen).toEqual([]);
    for (let i = 0; i < 200; i++) {
      const at = NOW + 200_000 + i * 60 * MIN;
      t.tickStarted(at);
      t.jobsListed([listed({ id: 100 + i, createdAt: iso(at - 30_000), startedAt: iso(at - 5000) })], at);
      t.tickEnded(at, observation());
    }
    expect(seen.filter(([k]) => k === 'pickup')).toHaveLength(200);
    expect(t.size()).toBeLessThan(10);
  });
});

describe('bounded labels', () => {
  it('every removal reason the planner gives maps to a code, never "other"', () => {
    const o = observation({
      now: NOW,
      vms: [...observation().vms, ourVm(ubuntu, 201, { status: 'stopped' }), ourVm(ubuntu, 202, { ageMs: 20 * MIN }), ourVm(ubuntu, 203, { ageMs: 16 * MIN })],
      runners: [runnerFor(ourVm(ubuntu, 203), { status: 'online' })],
    });
    const actions = plan(config(), o).actions.filter((a) => a.kind === 'remove-vm');
    expect(actions.map((a) => reasonCode(a)).sort()).toEqual(['boot_timeout', 'idle_timeout', 'stopped']);
  });

  it('caps and Proxmox paths', () => {
    expect(['max_total_runners 8', 'max_runners 4', 'PAUSE_ON_STOPPED', 'no free VMID in 200-209', 'no online node with enough memory'].map(capCode)).toEqual(['max_total_runners', 'max_runners', 'pause_on_stopped', 'vmid_range', 'placement']);
    expect(pveEndpoint('/api2/json/nodes/pve1/tasks/UPID:pve1:0001:0002:6B0E:qmclone:9000:pve-runners@pve!daemon:/status')).toBe('/nodes/{node}/tasks/{upid}/status');
    expect(pveEndpoint('/api2/json/nodes/pve2/qemu/205/status/start')).toBe('/nodes/{node}/qemu/{vmid}/status/start');
    expect(pveEndpoint('/api2/json/nodes/pve2/storage/local/content')).toBe('/nodes/{node}/storage/{storage}/content');
    expect(pveEndpoint('/api2/json/cluster/resources')).toBe('/cluster/resources');
  });
});

describe('the exposition', () => {
  it('every metric of ours is prefixed pve_runners_, counters end in _total, durations are _seconds histograms', async () => {
    const cfg = { pools: [ubuntu], maxTotalRunners: 8, github: { repos: ['acme/app'], orgs: [] } } as unknown as Config;
    const m = new Metrics({ config: cfg, timeScale: 1, wallTime: (n) => n, now: NOW, githubBudget: () => ({ limit: 5000, remaining: 4321, resetAt: NOW + 3600_000 }) });
    const { text } = await m.exposition();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1]!, x[2]!] as const);
    expect(types.filter(([n]) => !n.startsWith('pve_runners_'))).toEqual([]);
    expect(types.filter(([n, t]) => (t === 'counter') !== n.endsWith('_total'))).toEqual([]);
    expect(types.filter(([n, t]) => n.endsWith('_seconds') && !n.includes('timestamp') && !n.startsWith('pve_runners_process_') && !n.startsWith('pve_runners_nodejs_') && t !== 'histogram')).toEqual([]);
    expect(text).toContain('pve_runners_github_rate_limit_remaining 4321');
    expect(text).toContain('pve_runners_pool_max_runners{pool="ubuntu"} 4');
  });
});
