import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';

const completed = (sim: Simulator) => [...sim.ctx.recorder.jobs.values()].filter((j) => j.completedAt !== undefined).length;
const cloning = (sim: Simulator) => sim.pve.ourVms().filter((v) => v.lock === 'clone').map((v) => v.vmid);

/*
 * burst.yaml's cluster and caps (8 in all, 4 per pool) with more demand than the caps allow. The
 * first kill lands mid-clone for certain: the test holds every clone task past its end (the
 * simulator keeps them locked, as a slow storage would) until the new daemon has finished its first
 * tick. Those half-made clones are placeholders a pool-scoped token cannot even see until the task
 * ends; a new daemon that does not count them creates past max_total_runners, one that does not
 * finish or remove them leaks them.
 */
const scenario = `
seed: 11
time_limit: 3600s
proxmox:
  nodes:
    - {name: pve1, memory_mb: 262144}
    - {name: pve2, memory_mb: 131072}
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9101, node: pve2}
  timings: {clone: 10s, config: 200ms, start: 2s, boot: 25s, stop: 1s, shutdown: 3s, destroy: 2s}
github:
  repos: [acme/app]
workload:
  - {at: 0s, repo: acme/app, jobs: 8, runs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 60s}
  - {at: 0s, repo: acme/app, jobs: 6, runs: 2, labels: [self-hosted, linux, ubuntu-22.04], duration: 45s}
`;

describe('e2e: the daemon is SIGKILLed in the middle of a burst', () => {
  it('a new daemon counts and finishes what the killed one left half-made, creates nothing past the caps and leaks nothing', async () => {
    let halfMade: number[] = [];
    let killedAt = 0;
    // the half-made clones still running when the new daemon's first tick had ended
    let stillCloningAfterFirstTick: number[] | undefined;
    let events: Array<{ t: number; what: string }> = [];
    const { report, logs, progress, secrets, sim } = await runE2e(scenario, {
      killWhen: [
        // mid-clone: VMs of ours exist, still locked by their clone tasks, which stay so
        (s) => {
          s.pve.holdTasks('qmclone');
          halfMade = cloning(s);
          killedAt = s.clock.nowMs();
          return halfMade.length > 0;
        },
        // mid-creation of the second wave, after the first jobs finished; before that, once the new
        // daemon's first tick has met the half-made clones, let every clone end
        (s, daemonLogs) => {
          if (stillCloningAfterFirstTick === undefined && daemonLogs.some((l) => l.includes('"message":"tick:'))) {
            stillCloningAfterFirstTick = cloning(s).filter((v) => halfMade.includes(v));
            s.pve.releaseTasks('qmclone');
          }
          return completed(s) >= 4 && daemonLogs.some((l) => l.includes('creating runner VM'));
        },
        // mid-removal
        (_s, daemonLogs) => daemonLogs.some((l) => l.includes('removing runner VM')),
      ],
      // A daemon that cannot see a clone until it ends may make a runner more than the demand needs
      // (never more than the caps); idle_timeout (15m) removes it, so give it that long to settle.
      maxSettleTicks: 90,
      inspect: (s) => {
        events = [...s.ctx.recorder.events];
      },
    });
    expect(progress.filter((l) => l.includes('SIGKILL'))).toHaveLength(3);
    expect(logs.filter((l) => l.includes('pve-runners starting'))).toHaveLength(4);
    // the first kill really landed mid-clone, and the new daemon met those clones still in progress
    expect(halfMade.length).toBeGreaterThan(0);
    expect(stillCloningAfterFirstTick).toEqual(halfMade);

    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(14);
    // nothing made beyond the caps, half-made clones counted from the moment they existed
    expect(report.cap_violation_details).toEqual([]);
    // No VM here is someone else's: a hidden VMID taken for one is a clone of ours that ended while
    // a tick observed, counted for no pool (the daemon then made one too many; adopted, it broke the cap)
    expect(logs.filter((l) => l.includes('no clone of ours is unaccounted for'))).toEqual([]);
    expect(report.vms.peak_total).toBeLessThanOrEqual(8);
    expect(report.vms.peak_by_pool['ubuntu-2404']).toBeLessThanOrEqual(4);
    expect(report.vms.peak_by_pool['ubuntu-2204']).toBeLessThanOrEqual(4);
    // every half-made VM was finished (given its pool tag after the kill) or removed before its VMID
    // was used again, and in the end gone
    const after = events.filter((e) => e.t > killedAt).map((e) => e.what);
    for (const vmid of halfMade) {
      const fate = after.filter((w) => w.startsWith(`vm ${vmid} `))[0];
      expect([vmid, fate?.replace(/ pooled .*/, ' pooled')]).toEqual([vmid, expect.stringMatching(/ (pooled|destroyed)$/)]);
      expect(after).toContain(`vm ${vmid} destroyed`);
    }
    zeroLeaks(report);
    // no runner served two jobs, none was made twice
    for (const [runner, jobs] of sim.jobsByRunner) expect([runner, jobs.length]).toEqual([runner, 1]);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 300_000);
});
