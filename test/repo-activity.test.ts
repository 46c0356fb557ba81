/** Which repositories the quick looks visit (src/daemon/repo-activity.ts), as the observer reports them. */
import { RepoActivity } from '../src/daemon/repo-activity.js';

const MIN = 60_000;

describe('RepoActivity', () => {
  it('a repository with queued or running runs is active, with the queued runs the tick saw; one never busy is not', () => {
    const a = new RepoActivity();
    a.saw('acme/queued', [11, 12], 0, 0);
    a.saw('acme/running', [], 1, 0);
    a.saw('acme/idle', [], 0, 0);
    expect(a.active(0, 5 * MIN).map((r) => [r.repo, [...r.knownQueued]])).toEqual([['acme/queued', [11, 12]], ['acme/running', []]]);
  });

  it('stays active for the recent window after its last run, then is dropped; the queued runs are always the latest tick’s', () => {
    const a = new RepoActivity();
    a.saw('acme/app', [11], 0, 0);
    a.saw('acme/app', [], 0, 1 * MIN); // its run started and ended between ticks
    expect(a.active(5 * MIN, 5 * MIN).map((r) => [r.repo, [...r.knownQueued], r.lastActiveAt])).toEqual([['acme/app', [], 0]]);
    expect(a.active(5 * MIN + 1, 5 * MIN)).toEqual([]);
    // busy again: active again
    a.saw('acme/app', [12], 0, 6 * MIN);
    expect(a.active(6 * MIN, 5 * MIN).map((r) => r.repo)).toEqual(['acme/app']);
  });

  it('most recently active first', () => {
    const a = new RepoActivity();
    a.saw('acme/old', [1], 0, 0);
    a.saw('acme/new', [2], 0, MIN);
    expect(a.active(MIN, 5 * MIN).map((r) => r.repo)).toEqual(['acme/new', 'acme/old']);
  });
});
