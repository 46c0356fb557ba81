/**
 * The lag guard: a busy runner of ours that no listed job names stands for one job still listed
 * queued in its pool and scope, until the job listing names it; nothing else changes the demand.
 */
import { LagGuard } from '../src/daemon/lag-guard.js';
import type { ObservedRunner } from '../src/planner/observation.js';
import { gpu, job, REPO, ubuntu, ULABELS } from './helpers/planner-fixtures.js';

const runner = (name: string, over: Partial<ObservedRunner> = {}): ObservedRunner => ({ id: 1, name, scope: REPO, status: 'online', busy: true, ...over });

describe('lag guard', () => {
  it('leaves out the oldest queued job of the pool and scope a busy, unnamed runner of ours could be running, until a job names it', () => {
    const g = new LagGuard([ubuntu, gpu]);
    const older = job(ULABELS, { id: 1, createdAt: '2026-11-24T11:00:00Z' });
    const newer = job(ULABELS, { id: 2, createdAt: '2026-11-24T11:01:00Z' });
    const gpuJob = job([...ULABELS, 'gpu'], { id: 3, createdAt: '2026-11-24T10:59:00Z' });
    const busy = runner('ubuntu-200-ab12');
    const input = { jobs: [newer, gpuJob, older], runners: [busy], runnerScopes: [REPO], namedByJobs: new Set<string>() };

    const first = g.apply(input);
    expect(first.leftOut).toEqual([{ job: older, runner: 'ubuntu-200-ab12' }]);
    expect(first.jobs.map((j) => j.id)).toEqual([3, 2]);
    // Still unnamed on the next tick: still left out (the listing may lag more than a tick).
    expect(g.apply(input).jobs.map((j) => j.id)).toEqual([3, 2]);
    // Once a listed job names the runner, it explains nothing, also after its job left the listing.
    expect(g.apply({ ...input, namedByJobs: new Set(['ubuntu-200-ab12']) }).leftOut).toEqual([]);
    expect(g.apply(input).leftOut).toEqual([]);
  });

  it('changes nothing for idle, offline or foreign runners, other scopes, or scopes whose runner listing failed', () => {
    const g = new LagGuard([ubuntu]);
    const jobs = [job(ULABELS, { id: 5 })];
    const runners = [
      runner('ubuntu-201-cd34', { busy: false }),
      runner('ubuntu-202-ef56', { status: 'offline' }),
      runner('laptop'),
      runner('ubuntu-203-gh78', { scope: 'repo:acme/other' }),
    ];
    expect(g.apply({ jobs, runners, runnerScopes: [REPO, 'repo:acme/other'], namedByJobs: new Set() }).leftOut).toEqual([]);
    expect(g.apply({ jobs, runners: [runner('ubuntu-204-ij90')], runnerScopes: [], namedByJobs: new Set() }).leftOut).toEqual([]);
  });
});
