/**
 * e2e (the built daemon as a child process serving the simulator): its METRICS_LISTEN scraped by
 * Debian's real `prometheus` through a demo run, then every query of dashboards/pve-runners.json
 * asked of that Prometheus; `promtool check metrics` on the last exposition; the pickup histogram
 * (from GitHub's timestamps) against the simulator's report; no credential anywhere in it. And
 * /readyz: red once Proxmox has been unreachable for 3 poll intervals, green again after.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, ROOT, runE2e, zeroLeaks } from './helpers/e2e.js';
import { freePort, TestPrometheus } from './helpers/prometheus.js';
import { poolsFile } from './helpers/pools-variant.js';
import { tierPools, TWO_NODES } from './helpers/tier-scenarios.js';
import { describeWithTools, PROMETHEUS, PROMTOOL } from './helpers/tools.js';

/** le → cumulative count of one histogram, summed over all its label sets */
function buckets(exposition: string, name: string): Array<[number, number]> {
  const sums = new Map<number, number>();
  for (const line of exposition.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{(.*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)![1]!;
    const bound = le === '+Inf' ? Infinity : Number(le);
    sums.set(bound, (sums.get(bound) ?? 0) + Number(m[2]));
  }
  return [...sums].sort(([a], [b]) => a - b);
}

/** Prometheus' histogram_quantile: the bucket holding the rank, interpolated linearly within it. */
function quantile(q: number, b: Array<[number, number]>): { value: number; bucket: number } {
  const total = b.at(-1)![1];
  const rank = q * total;
  const i = b.findIndex(([, c]) => c >= rank);
  const [upper, count] = b[i]!;
  const [lower, below] = i === 0 ? [0, 0] : b[i - 1]!;
  const value = upper === Infinity ? lower : lower + ((upper - lower) * (rank - below)) / (count - below);
  return { value, bucket: i };
}

const bucketOf = (b: Array<[number, number]>, v: number) => b.findIndex(([le]) => v <= le);

describeWithTools([PROMTOOL, PROMETHEUS], 'metrics through a demo run, scraped by a real Prometheus', () => {
  let prom: TestPrometheus | undefined;
  afterAll(async () => prom?.stop());

  it('promtool finds the exposition clean; every dashboard query returns data; pickup p50 agrees with the report; no secret, VMID or runner name in it', async () => {
    const port = await freePort();
    prom = new TestPrometheus(`127.0.0.1:${port}`);
    await prom.start();
    let last = '';
    let lastAt = 0;
    let scraping = false;
    // The last exposition before the daemon stops, and when it was read: the queries are asked at that moment.
    const during = () => {
      if (scraping) return;
      scraping = true;
      void fetch(`http://127.0.0.1:${port}/metrics`)
        .then(async (r) => {
          if (r.ok) {
            last = await r.text();
            lastAt = Date.now() / 1000;
          }
        })
        .catch(() => {})
        .finally(() => (scraping = false));
    };
    let sim: Simulator | undefined;
    // the demo with GitHub's webhook on: WEBHOOK_LISTEN (127.0.0.1:0) and METRICS_LISTEN are two listeners, and its secret is one more not to leak
    const demo = readFileSync(join(ROOT, 'scenarios', 'demo.yaml'), 'utf8');
    expect(demo).toContain('\ngithub:\n  repos: [acme/app]\n');
    const scenario = demo.replace('\ngithub:\n  repos: [acme/app]\n', '\ngithub:\n  repos: [acme/app]\n  webhook: true\n');
    const r = await runE2e(scenario, { speed: 20, env: { METRICS_LISTEN: `127.0.0.1:${port}` }, during, inspect: (s) => (sim = s) });
    expect(r.logs.some((l) => l.includes('"message":"webhook listener on '))).toBe(true);
    expect(r.secrets.length).toBeGreaterThan(3);
    zeroLeaks(r.report);
    expect(sim).toBeDefined();
    expect(last).toContain('pve_runners_ticks_total{outcome="ok"}');

    // promtool: Prometheus' own linter of the text format and its naming rules
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: last, encoding: 'utf8' });
    expect({ status: lint.status, out: `${lint.stdout}${lint.stderr}` }).toEqual({ status: 0, out: '' });

    // no credential, and no unbounded label value (VMID, runner name, job id)
    expect(leakedSecrets(last.split('\n'), r.secrets)).toEqual([]);
    const labels = [...last.matchAll(/[{,](\w+)="([^"]*)"/g)].map((m) => ({ name: m[1]!, value: m[2]! }));
    // ours, and prom-client's process metrics (Node.js version, heap space, GC kind)
    const allowed = new Set(['pool', 'tier', 'reason', 'kind', 'outcome', 'service', 'endpoint', 'status', 'state', 'cap', 'le', 'version', 'major', 'minor', 'patch', 'space', 'type']);
    expect([...new Set(labels.map((l) => l.name))].filter((n) => !allowed.has(n))).toEqual([]);
    const names = r.report.pickup.jobs.map((j) => j.runner);
    const numbers = new Set(r.report.pickup.jobs.flatMap((j) => [String(j.job), ...(j.vmid === null ? [] : [String(j.vmid)])]));
    expect(names.length).toBeGreaterThan(0);
    expect(labels.filter((l) => names.some((n) => l.value.includes(n)) || (l.name !== 'le' && l.name !== 'status' && l.value.split(/[/{}\s]+/).some((t) => numbers.has(t))) || /UPID|!/.test(l.value))).toEqual([]);

    // every job our runners took is in the pickup histogram once, and its p50 lies within a bucket of the report's
    const pickup = buckets(last, 'pve_runners_job_pickup_seconds');
    expect(pickup.at(-1)![1]).toBe(r.report.pickup.jobs.length);
    // the same GitHub timestamps the report reads: the sum agrees to the millisecond
    const sum = [...last.matchAll(/^pve_runners_job_pickup_seconds_sum\{.*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(sum).toBeCloseTo(r.report.pickup.jobs.reduce((n, j) => n + j.github_pickup_s!, 0), 3);
    const p50 = quantile(0.5, pickup);
    const reported = r.report.jobs.pickup_latency_s.p50!;
    expect(Math.abs(p50.bucket - bucketOf(pickup, reported))).toBeLessThanOrEqual(1);

    // Prometheus scraped the daemon: wait until its data reaches the moment of the last scrape
    await prom.until('the daemon scraped up to the end', async () => (await prom!.query('up{job="pve-runners"} == 1', lastAt)).length === 1 && (await prom!.query('pve_runners_ticks_total', lastAt)).length > 0);
    const fromProm = await prom.query('histogram_quantile(0.5, sum by (le) (pve_runners_job_pickup_seconds_bucket))', lastAt);
    expect(Math.abs(bucketOf(pickup, Number(fromProm[0]!.value[1])) - bucketOf(pickup, reported))).toBeLessThanOrEqual(1);

    const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'pve-runners.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(12);
    const empty: string[] = [];
    for (const { panel, expr } of exprs) if ((await prom.query(expr, lastAt)).length === 0) empty.push(`${panel}: ${expr}`);
    expect(empty).toEqual([]);
  }, 240_000);
});

describe('/readyz follows the ticks; pickup tiers', () => {
  it('turns 503 once Proxmox has been unreachable for 3 poll intervals, 200 again after; /healthz stays 200; hot, warm and cold pickups counted as the report tiers them', async () => {
    type Step = 'ready' | 'down' | 'red' | 'up' | 'green';
    const seen: Array<{ step: Step; status: number; body: string; health?: number }> = [];
    let step: Step = 'ready';
    let busy = false;
    let url: string | undefined;
    let last = '';
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      return { status: res.status, body: (await res.text()).trim() };
    };
    const during = (sim: Simulator, logs: readonly string[]) => {
      url ??= logs.map((l) => /"metrics":"(http:\/\/[^"]+)"/.exec(l)?.[1]).find((u) => u !== undefined);
      if (!url || busy) return;
      busy = true;
      void (async () => {
        if (step === 'green') {
          const m = await fetch(`${url}/metrics`);
          if (m.ok) last = await m.text();
          return;
        }
        const r = await get('/readyz');
        const health = (await get('/healthz')).status;
        if (step === 'ready' && r.status === 200) {
          seen.push({ step, ...r, health });
          await sim.pve.unreachable();
          step = 'down';
        } else if (step === 'down' && r.status === 503) {
          seen.push({ step: 'red', ...r, health });
          await sim.pve.reachable();
          step = 'up';
        } else if (step === 'up' && r.status === 200) {
          seen.push({ step: 'green', ...r, health });
          step = 'green';
        }
      })()
        .catch(() => {})
        .finally(() => (busy = false));
    };
    // a hot runner and a warm VM are ready long before the jobs come: one job each, and a cold one
    const scenario = `
seed: 5
time_limit: 900s
${TWO_NODES.trim()}
github:
  repos: [acme/app]
  timings: {runner_connect: 3s}
workload:
  - {at: 240s, repo: acme/app, jobs: 3, runs: 3, labels: [self-hosted, linux, ubuntu-24.04], duration: 20s}
`;
    const pools = poolsFile(tierPools(['acme/app'], 6, '    hot: 1\n    warm: 1\n'));
    const r = await runE2e(scenario, { speed: 20, pools, env: { METRICS_LISTEN: '127.0.0.1:0', POLL_INTERVAL: '10' }, during });
    expect(seen.map((s) => [s.step, s.status, s.health])).toEqual([['ready', 200, 200], ['red', 503, 200], ['green', 200, 200]]);
    expect(seen[1]!.body).toMatch(/^not ready: the last tick that succeeded ended [\d.]+s ago, more than 3 poll intervals \(30s\); [1-9]\d* failed since/);
    expect(seen[2]!.body).toMatch(/^ready: the last tick succeeded [\d.]+s ago$/);
    // red because the ticks failed against the unreachable Proxmox, not for another reason
    expect(r.logs.some((l) => l.includes('tick failed'))).toBe(true);
    expect(r.report.jobs.completed).toBe(3);
    zeroLeaks(r.report);
    // the daemon's tiers (its runner listed online before the job was queued; a warm VM started) are the simulator's
    const tiers = r.report.pickup.by_pool['ubuntu-2404']!;
    const counted = (tier: string) => Number(new RegExp(`^pve_runners_job_pickup_seconds_count\\{pool="ubuntu-2404",tier="${tier}"\\} (\\d+)$`, 'm').exec(last)?.[1]);
    expect({ hot: counted('hot'), warm: counted('warm'), cold: counted('cold') }).toEqual({ hot: tiers.hot?.jobs ?? 0, warm: tiers.warm?.jobs ?? 0, cold: tiers.cold?.jobs ?? 0 });
    expect(tiers.hot?.jobs).toBeGreaterThanOrEqual(1);
    expect(tiers.warm?.jobs).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
