/**
 * A template whose baked runner is older than GitHub's minimum: its runner registers (JIT) and
 * connects, the listener is told "Runner version v2.320.0 is deprecated and cannot receive
 * messages." and exits; run-once.sh powers the VM off and the daemon cleans up. No job ever runs on
 * such a runner, the current template's pool is unaffected, and nothing leaks.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runE2e, zeroLeaks } from './helpers/e2e.js';

const SCENARIO = `
seed: 11
proxmox:
  nodes: [{name: pve1, memory_mb: 131072}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1, runner_version: 2.320.0}
    - {name: windows-2022-runner-template, vmid: 9002, node: pve1, memory: 8192}
  timings: {clone: 2s, config: 200ms, start: 1s, boot: 15s, stop: 1s, shutdown: 2s, destroy: 1s}
github:
  repos: [acme/app]
  minimum_runner_version: 2.329.0
  timings: {runner_connect: 2s}
workload:
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s, workflow: build}
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-22.04], duration: 30s, cancel_after: 4m, workflow: old}
`;

describe('e2e: a runner below GitHub minimum version', () => {
  it('never gets a job; its VMs are removed and nothing leaks', async () => {
    const consoles: string[][] = [];
    const r = await runE2e(SCENARIO, {
      inspect: (sim) => {
        for (let vmid = 230; vmid <= 259; vmid++) {
          const inside = sim.guests.inside(vmid);
          if (inside) consoles.push([...inside.console]);
        }
      },
    });
    // each old-template VM: the listener is refused and exits, then run-once.sh powers the VM off
    expect(consoles.length).toBeGreaterThanOrEqual(1);
    for (const c of consoles) {
      expect(c).toEqual(expect.arrayContaining([
        "Current runner version: '2.320.0'",
        'An error occurred: Runner version v2.320.0 is deprecated and cannot receive messages.',
        'Runner listener exit with terminated error, stop the service, no retry needed.',
        'pve-runners run-once: runner exited with status 0; powering off',
      ]));
    }
    // every job that ran, ran on the current template's runners
    const runners = [...r.sim.jobsByRunner.keys()];
    expect(runners.length).toBeGreaterThanOrEqual(1);
    expect(runners.every((n) => n.startsWith('ubuntu-2404-'))).toBe(true);
    expect(r.report.jobs.completed).toBe(2);
    expect(r.report.jobs.cancelled).toBe(1);
    zeroLeaks(r.report);
  }, 240_000);

  it('on a template that does not power off, the VM idles until boot_timeout removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvr-old-runner-'));
    const pools = join(dir, 'pools.yaml');
    writeFileSync(pools, readFileSync(join(ROOT, 'pools.yaml'), 'utf8')
      .replace(/user_data: cloud-init\//g, `user_data: ${ROOT}/cloud-init/`)
      .replace(`user_data: ${ROOT}/cloud-init/ubuntu-2204.yaml`, `user_data: ${ROOT}/test/fixtures/cloud-init/no-poweroff.yaml\n    boot_timeout: 3m`));
    const seen: Array<{ console: string[]; running: boolean }> = [];
    const r = await runE2e(SCENARIO, {
      pools,
      // a VM started for the old-runner job just before it was cancelled idles until its boot_timeout (3m)
      maxSettleTicks: 20,
      inspect: (sim) => {
        for (let vmid = 230; vmid <= 259; vmid++) {
          const inside = sim.guests.inside(vmid);
          if (inside) seen.push({ console: [...inside.console], running: false });
        }
      },
    });
    expect(seen.length).toBeGreaterThanOrEqual(1);
    for (const s of seen) {
      expect(s.console).toContain('An error occurred: Runner version v2.320.0 is deprecated and cannot receive messages.');
      expect(s.console).toContain('pve-runners run-once: runner exited with status 0; powering off');
      expect(s.console.some((l) => l.startsWith('cloud-init: '))).toBe(false);
    }
    // the daemon's reaper, not the guest, removed them (the VMs were still running)
    // (the daemon runs in real time: at speed 20 its boot_timeout of 3m reads 9s)
    expect(r.logs.some((l) => l.includes('runner not registered within boot_timeout') && l.includes('"pool":"ubuntu-2204"'))).toBe(true);
    expect([...r.sim.jobsByRunner.keys()].every((n) => n.startsWith('ubuntu-2404-'))).toBe(true);
    zeroLeaks(r.report);
  }, 240_000);
});
