/**
 * Jobs through the runner broker: runners connect with JIT configs or registration tokens, GitHub
 * dispatches the oldest fitting job, runs and jobs move through their states as the REST API shows
 * them, and ephemeral registrations disappear after their job.
 */
import type { Octokit } from '@octokit/rest';
import type { RunnerExit } from '../src/sim/contracts.js';
import { NO_LAG, plainOctokit, startGithub, until, type RunningGithub } from './helpers/github-sim.js';

const owner = 'acme';
const repo = 'app';
const LINUX = ['self-hosted', 'linux', 'x64'];

let gh: RunningGithub;
let octokit: Octokit;

async function start(extra = '', opts = {}): Promise<void> {
  gh = await startGithub(`github:\n  repos: [acme/app]\n  orgs: [{name: bigco, repos: [web]}]\n${NO_LAG}\n${extra}`, undefined, opts);
  octokit = plainOctokit(gh.url, gh.token);
}

afterEach(async () => {
  await gh.stop();
});

async function mint(name: string, labels = LINUX): Promise<string> {
  const r = await octokit.actions.generateRunnerJitconfigForRepo({ owner, repo, name, runner_group_id: 1, labels });
  return r.data.encoded_jit_config;
}

function connect(creds: Parameters<RunningGithub['sim']['connect']>[0]): { id: number | undefined; exits: RunnerExit[] } {
  const exits: RunnerExit[] = [];
  const id = gh.sim.connect(creds, (e) => exits.push(e));
  return { id, exits };
}

async function runState(runId: number): Promise<string> {
  const r = (await octokit.actions.getWorkflowRun({ owner, repo, run_id: runId })).data;
  return `${r.status}/${r.conclusion}`;
}

async function jobsOf(runId: number): Promise<string[]> {
  const jobs = (await octokit.actions.listJobsForWorkflowRun({ owner, repo, run_id: runId, filter: 'latest' })).data.jobs;
  return jobs.map((j) => `${j.status}/${j.conclusion}${j.runner_name ? `@${j.runner_name}` : ''}`);
}

const taken = (runner: string) => [...gh.ctx.recorder.jobs.values()].filter((j) => j.runnerName === runner);

describe('job lifecycle through the runner broker', () => {
  it('a JIT runner takes the oldest fitting job; the run goes queued → in_progress → completed; the registration goes away', async () => {
    await start('  timings: {runner_connect: 30s}'); // long enough to observe the run still queued after connect
    const first = gh.sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 20_000 }], false);
    await until(gh.ctx, () => gh.ctx.clock.nowMs() > 1_000);
    const second = gh.sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 20_000 }], false);
    const runner = connect({ kind: 'jit', encodedJitConfig: await mint('pvr-200-aaaa') });
    expect(runner.id).toEqual(expect.any(Number));
    expect(await runState(first)).toBe('queued/null');
    await until(gh.ctx, () => taken('pvr-200-aaaa').length === 1);
    expect(await runState(first)).toBe('in_progress/null');
    expect(await jobsOf(first)).toEqual(['in_progress/null@pvr-200-aaaa']);
    expect(await runState(second)).toBe('queued/null');
    const busy = (await octokit.actions.getSelfHostedRunnerForRepo({ owner, repo, runner_id: runner.id! })).data;
    expect(busy).toMatchObject({ status: 'online', busy: true, version: expect.any(String) });

    await until(gh.ctx, () => runner.exits.length === 1);
    const jobId = taken('pvr-200-aaaa')[0]!.id;
    expect(runner.exits).toEqual([{ reason: 'job-done', jobId, conclusion: 'success' }]);
    expect(await runState(first)).toBe('completed/success');
    expect((await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo })).data.total_count).toBe(0);
    expect(gh.sim.leaks().registrations).toEqual([]);
    expect(gh.sim.done()).toBe(false); // the second run still waits
  });

  it('leaves a job whose labels do not fit; label matching is case-insensitive', async () => {
    await start();
    const gpu = gh.sim.queueRun('acme/app', 'GPU', [{ labels: ['self-hosted', 'gpu'], durationMs: 5_000 }], false);
    const lint = gh.sim.queueRun('acme/app', 'Lint', [{ labels: ['Self-Hosted', 'LINUX'], durationMs: 5_000 }], false);
    const runner = connect({ kind: 'jit', encodedJitConfig: await mint('pvr-201-bbbb') });
    await until(gh.ctx, () => runner.exits.length === 1);
    expect(await runState(lint)).toBe('completed/success');
    expect(await runState(gpu)).toBe('queued/null');
    expect(await jobsOf(gpu)).toEqual(['queued/null']);
  });

  it('chain: job k+1 appears only when job k completes, and the run stays in_progress meanwhile', async () => {
    await start();
    const spec = { labels: ['self-hosted', 'linux'], durationMs: 5_000 };
    const run = gh.sim.queueRun('acme/app', 'Deploy', [spec, spec, spec], true);
    expect(await jobsOf(run)).toEqual(['queued/null']);
    for (let k = 1; k <= 3; k++) {
      const r = connect({ kind: 'jit', encodedJitConfig: await mint(`pvr-20${k}-cccc`) });
      await until(gh.ctx, () => r.exits.length === 1);
      const jobs = await jobsOf(run);
      if (k < 3) {
        expect(jobs).toHaveLength(k + 1);
        expect(jobs[k]).toBe('queued/null');
        expect(await runState(run)).toBe('in_progress/null');
        expect((await octokit.actions.listWorkflowRunsForRepo({ owner, repo, status: 'in_progress' })).data.workflow_runs.map((w) => w.id)).toEqual([run]);
      } else {
        expect(jobs).toEqual(['completed/success@pvr-201-cccc', 'completed/success@pvr-202-cccc', 'completed/success@pvr-203-cccc']);
      }
    }
    expect(await runState(run)).toBe('completed/success');
    expect(gh.sim.done()).toBe(true);
  });

  it('cancel_after cancels a job still queued; a failed link of a chain skips the rest', async () => {
    await start();
    const run = gh.sim.queueRun('acme/app', 'Slow', [{ labels: ['self-hosted', 'gpu'], durationMs: 5_000, cancelAfterMs: 10_000 }, { labels: ['self-hosted', 'gpu'], durationMs: 5_000 }], true);
    await until(gh.ctx, () => gh.sim.done());
    expect(await runState(run)).toBe('completed/cancelled');
    expect(await jobsOf(run)).toEqual(['completed/cancelled', 'completed/skipped']);
    const rec = [...gh.ctx.recorder.jobs.values()];
    expect(rec).toHaveLength(1); // the skipped job was never queued
    expect(rec[0]!.conclusion).toBe('cancelled');
    // Node timers may fire up to 1 real ms early by performance.now(): 50 scenario ms at speed 50.
    expect(rec[0]!.completedAt! - rec[0]!.queuedAt).toBeGreaterThanOrEqual(10_000 - 100);
  });

  it('foreign_after: a runner that is not ours takes a job still queued, and it completes', async () => {
    await start();
    const run = gh.sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'gpu'], durationMs: 5_000, foreignAfterMs: 3_000 }], false);
    await until(gh.ctx, () => gh.sim.done());
    const rec = [...gh.ctx.recorder.jobs.values()][0]!;
    expect(rec.takenByForeign).toBe(true);
    expect(rec.takenAt! - rec.queuedAt).toBeGreaterThanOrEqual(3_000 - 100);
    expect(rec.conclusion).toBe('success');
    expect(await runState(run)).toBe('completed/success');
    expect((await jobsOf(run))[0]).toMatch(/^completed\/success@elsewhere-/);
    expect(gh.sim.leaks().registrations).toEqual([]);
  });

  it('JIT configs are single-use, and a deleted registration cannot connect', async () => {
    await start();
    const cfg = await mint('pvr-210-dddd');
    const a = connect({ kind: 'jit', encodedJitConfig: cfg });
    const b = connect({ kind: 'jit', encodedJitConfig: cfg });
    expect(a.id).toEqual(expect.any(Number));
    expect(b.id).toBeUndefined();
    await until(gh.ctx, () => b.exits.length === 1);
    expect(b.exits[0]).toMatchObject({ reason: 'rejected', message: expect.stringContaining('already been used') });
    expect(JSON.stringify(b.exits)).not.toContain(cfg.slice(0, 40));

    const gone = await octokit.actions.generateRunnerJitconfigForRepo({ owner, repo, name: 'pvr-211-dddd', runner_group_id: 1, labels: LINUX });
    await octokit.actions.deleteSelfHostedRunnerFromRepo({ owner, repo, runner_id: gone.data.runner.id });
    const c = connect({ kind: 'jit', encodedJitConfig: gone.data.encoded_jit_config });
    expect(c.id).toBeUndefined();
    await until(gh.ctx, () => c.exits.length === 1);
    expect(c.exits[0]).toMatchObject({ reason: 'rejected', message: expect.stringContaining('deleted') });

    // Deleting an idle, connected runner ends its session: the guest learns it may stop.
    await until(gh.ctx, () => gh.ctx.recorder.events.some((e) => e.what === 'runner pvr-210-dddd online'));
    await octokit.actions.deleteSelfHostedRunnerFromRepo({ owner, repo, runner_id: a.id! });
    await until(gh.ctx, () => a.exits.length === 1);
    expect(a.exits[0]).toMatchObject({ reason: 'rejected' });
    expect(connect({ kind: 'jit', encodedJitConfig: 'bm90IGEgY29uZmln' }).id).toBeUndefined();
  });

  it('registration tokens: a runner registers with its labels; an expired token or a taken name is refused', async () => {
    await start('  registration_token_ttl: 30s');
    const url = 'https://github.com/acme/app';
    const { token } = (await octokit.actions.createRegistrationTokenForRepo({ owner, repo })).data;
    // minted no later than now: it has expired once 30 s more have passed (however long set-up took)
    const mintedBy = gh.ctx.clock.nowMs();
    const run = gh.sim.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'ubuntu-24.04'], durationMs: 5_000 }], false);
    const ok = connect({ kind: 'token', url, token, name: 'pvr-220-eeee', labels: ['self-hosted', 'linux', 'ubuntu-24.04'] });
    expect(ok.id).toEqual(expect.any(Number));
    const reg = (await octokit.actions.getSelfHostedRunnerForRepo({ owner, repo, runner_id: ok.id! })).data;
    expect(reg.labels.map((l) => l.name)).toEqual(['self-hosted', 'linux', 'ubuntu-24.04']);
    expect(reg.ephemeral).toBe(true);
    const dup = connect({ kind: 'token', url, token, name: 'pvr-220-eeee', labels: ['self-hosted'] });
    expect(dup.id).toBeUndefined();
    const wrongScope = connect({ kind: 'token', url: 'https://github.com/bigco', token, name: 'pvr-221-eeee', labels: ['self-hosted'] });
    expect(wrongScope.id).toBeUndefined();
    await until(gh.ctx, () => ok.exits.length === 1);
    expect(await runState(run)).toBe('completed/success');
    expect(dup.exits[0]).toMatchObject({ reason: 'rejected', message: expect.stringContaining('same name') });
    expect(wrongScope.exits[0]).toMatchObject({ reason: 'rejected' });

    await until(gh.ctx, () => gh.ctx.clock.nowMs() > mintedBy + 31_000);
    const late = connect({ kind: 'token', url, token, name: 'pvr-222-eeee', labels: ['self-hosted'] });
    expect(late.id).toBeUndefined();
    await until(gh.ctx, () => late.exits.length === 1);
    expect(late.exits[0]).toMatchObject({ reason: 'rejected', message: expect.stringContaining('expired') });
    expect(JSON.stringify(late.exits)).not.toContain(token);
    expect(gh.sim.leaks().registrations).toEqual([]);
  });

  it('organisation runners serve the organisation\'s repositories', async () => {
    await start();
    const minted = await octokit.actions.generateRunnerJitconfigForOrg({ org: 'bigco', name: 'pvr-230-ffff', runner_group_id: 1, labels: LINUX });
    gh.sim.queueRun('acme/app', 'CI', [{ labels: ['linux'], durationMs: 2_000 }], false); // not bigco's
    const web = gh.sim.queueRun('bigco/web', 'CI', [{ labels: ['linux'], durationMs: 2_000 }], false);
    const r = connect({ kind: 'jit', encodedJitConfig: minted.data.encoded_jit_config });
    await until(gh.ctx, () => r.exits.length === 1);
    const jobs = (await octokit.actions.listJobsForWorkflowRun({ owner: 'bigco', repo: 'web', run_id: web })).data.jobs;
    expect(jobs[0]).toMatchObject({ status: 'completed', runner_name: 'pvr-230-ffff' });
  });

  it('a lost runner fails its job and leaves its registration behind, offline', async () => {
    await start();
    const spec = { labels: ['linux'], durationMs: 600_000 };
    const run = gh.sim.queueRun('acme/app', 'CI', [spec, spec], true);
    const r = connect({ kind: 'jit', encodedJitConfig: await mint('pvr-240-gggg') });
    await until(gh.ctx, () => taken('pvr-240-gggg').length === 1);
    gh.sim.lost(r.id!);
    expect(await runState(run)).toBe('completed/failure');
    expect(await jobsOf(run)).toEqual(['completed/failure@pvr-240-gggg', 'completed/skipped']);
    expect(r.exits).toEqual([]); // the guest is gone; nobody to tell
    const reg = (await octokit.actions.getSelfHostedRunnerForRepo({ owner, repo, runner_id: r.id! })).data;
    expect(reg).toMatchObject({ status: 'offline', busy: false });
    expect(gh.sim.leaks().registrations).toEqual(['pvr-240-gggg']);
    expect(gh.sim.done()).toBe(true);
  });

  it('a new job goes to the idle runner online longest; online foreign runners take jobs too and stay registered', async () => {
    await start('  foreign_runners: [{repo: acme/app, name: laptop, labels: [self-hosted, linux, arm64], status: online}]');
    const older = connect({ kind: 'jit', encodedJitConfig: await mint('pvr-250-hhhh') });
    await until(gh.ctx, () => gh.ctx.recorder.events.some((e) => e.what === 'runner pvr-250-hhhh online'));
    const newer = connect({ kind: 'jit', encodedJitConfig: await mint('pvr-251-hhhh') });
    await until(gh.ctx, () => gh.ctx.recorder.events.some((e) => e.what === 'runner pvr-251-hhhh online'));
    gh.sim.queueRun('acme/app', 'A', [{ labels: ['x64'], durationMs: 3_000 }], false);
    gh.sim.queueRun('acme/app', 'B', [{ labels: ['x64'], durationMs: 3_000 }], false);
    gh.sim.queueRun('acme/app', 'C', [{ labels: ['arm64'], durationMs: 3_000 }], false);
    gh.sim.queueRun('acme/app', 'D', [{ labels: ['arm64'], durationMs: 3_000 }], false);
    // after GitHub's dispatch delay, in the order they were queued
    await until(gh.ctx, () => taken('pvr-250-hhhh').length + taken('pvr-251-hhhh').length === 2);
    expect(taken('pvr-250-hhhh').map((j) => j.id)).toHaveLength(1);
    expect(taken('pvr-251-hhhh').map((j) => j.id)).toHaveLength(1);
    expect(taken('pvr-250-hhhh')[0]!.id).toBeLessThan(taken('pvr-251-hhhh')[0]!.id);
    await until(gh.ctx, () => gh.sim.done());
    expect(taken('laptop')).toHaveLength(2); // C, then D once it was free again
    expect(older.exits).toHaveLength(1);
    expect(newer.exits).toHaveLength(1);
    expect((await octokit.actions.listSelfHostedRunnersForRepo({ owner, repo })).data.runners.map((r) => r.name)).toEqual(['laptop']);
    expect(gh.sim.leaks().registrations).toEqual([]);
  });
});
