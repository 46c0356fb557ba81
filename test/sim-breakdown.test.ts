/**
 * The breakdown's arithmetic on hand-made timelines: consecutive points clipped to [queued, taken],
 * stages before the job was queued count 0, detection bounded by the VM's first step after the job,
 * and the daemon's share is what no request, task or cap explains.
 */
import { breakdownJob, covered, tierOf } from '../src/sim/breakdown.js';
import type { JobTimes } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import type { VmLife } from '../src/sim/timeline.js';

const job = (queuedAt: number, takenAt: number, listedAt?: number): JobTimes => ({ id: 1, repo: 'acme/app', labels: [], queuedAt, takenAt, listedAt, runnerName: 'p-200-abcd' });
const vm = (o: Partial<VmLife>): VmLife => ({ vmid: 200, name: 'p-200-abcd', pool: 'p', full: false, cloneRequestMs: 0, online: true, busy: true, spans: [], ...o });
const cold = { cloneRequestMs: 10_000, cloneEndMs: 13_000, startRequestMs: 14_000, startEndMs: 16_000, runnerStartMs: 41_000, onlineMs: 44_000 };

describe('pickup breakdown', () => {
  it('cold: each stage runs from one recorded moment to the next', () => {
    const b = breakdownJob({ job: job(1_000, 44_000, 6_000), vm: vm(cold), counts: [] });
    expect(b.tier).toBe('cold');
    expect(b.stages_s).toEqual({ detection: 5, capacity: 4, clone: 3, configure: 1, start: 2, boot: 25, registration: 3, assignment: 0 });
    expect(b.pickup_s).toBe(43);
    // no request recorded: from detection to the start task's end all is the daemon's
    expect(b.daemon_s).toBe(10);
  });

  it("the daemon's share leaves out the VM's requests and tasks and the time its pool was at a cap", () => {
    const spans = [{ startMs: 10_000, endMs: 13_000 }, { startMs: 13_500, endMs: 13_800 }, { startMs: 14_000, endMs: 16_000 }];
    const counts = [{ tMs: 0, total: 4, pools: { p: 4 } }, { tMs: 8_000, total: 3, pools: { p: 3 } }];
    const b = breakdownJob({ job: job(1_000, 44_000, 6_000), vm: vm({ ...cold, spans }), counts, caps: { pools: { p: 4 } } });
    // 6–8 s at the cap, 8–10 s the daemon's, 10–13 clone, 13–13.5 daemon, 13.5–13.8 config, 13.8–14 daemon, 14–16 start
    expect(b.daemon_s).toBeCloseTo(2 + 0.5 + 0.2, 6);
    expect(b.daemon_stages_s).toEqual({ capacity: 2, clone: 0, configure: 0.7, start: 0 });
  });

  it('hot: a runner online before the job was queued leaves only assignment', () => {
    const v = vm({ ...cold, onlineMs: 44_000 });
    const b = breakdownJob({ job: job(50_000, 50_400, 53_000), vm: v, counts: [] });
    expect(tierOf(job(50_000, 50_400), v)).toBe('hot');
    expect(b.stages_s).toEqual({ detection: 0, capacity: 0, clone: 0, configure: 0, start: 0, boot: 0, registration: 0, assignment: 0.4 });
    expect(b.daemon_s).toBe(0);
  });

  it('warm: the clone before the job counts 0; detection, then configure until the start request', () => {
    const v = vm({ ...cold, startRequestMs: 30_000, startEndMs: 32_000, runnerStartMs: 57_000, onlineMs: 60_000 });
    const b = breakdownJob({ job: job(20_000, 60_000, 25_000), vm: v, counts: [] });
    expect(b.tier).toBe('warm');
    expect(b.stages_s).toEqual({ detection: 5, capacity: 0, clone: 0, configure: 5, start: 2, boot: 25, registration: 3, assignment: 0 });
  });

  it('a VM made for an earlier job: detection ends at its first step after this one was queued', () => {
    // queued at 12 s while the VM's clone (requested at 10 s) runs; listed at 20 s, after the clone ended
    const b = breakdownJob({ job: job(12_000, 44_000, 20_000), vm: vm(cold), counts: [] });
    expect(b.tier).toBe('cold');
    expect(b.stages_s).toEqual({ detection: 1, capacity: 0, clone: 0, configure: 1, start: 2, boot: 25, registration: 3, assignment: 0 });
  });

  it('stages always add up to the pickup, whatever order the moments came in', () => {
    const rng = new Rng(9);
    for (let k = 0; k < 500; k++) {
      const r = () => rng.int(0, 100_000);
      const points = [r(), r(), r(), r(), r(), r()].sort((a, b) => a - b);
      const [q, t] = [r(), r()].sort((a, b) => a - b) as [number, number];
      const v = vm({ cloneRequestMs: points[0]!, cloneEndMs: points[1], startRequestMs: points[2], startEndMs: points[3], runnerStartMs: points[4], onlineMs: Math.min(points[5]!, t) });
      const b = breakdownJob({ job: job(q + 0.4, t + 0.3, k % 3 === 0 ? undefined : r()), vm: v, counts: [] });
      const sumMs = Object.values(b.stages_s).reduce((n, s) => n + Math.round(s * 1000), 0);
      expect(sumMs).toBe(Math.round(b.pickup_s * 1000));
      expect(Object.values(b.stages_s).every((s) => s >= 0)).toBe(true);
    }
  });

  it('covered() is the length of a union of spans inside a window', () => {
    expect(covered([{ startMs: 0, endMs: 5 }, { startMs: 3, endMs: 8 }, { startMs: 10, endMs: 12 }, { startMs: 11, endMs: 11.5 }], 2, 11)).toBe(7);
    expect(covered([], 0, 10)).toBe(0);
  });
});
