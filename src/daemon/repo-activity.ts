/**
 * Which repositories had work at the last full tick, and which queued runs that tick saw in each:
 * what the quick looks between ticks compare against. Written by the observer, nothing else.
 */
export interface ActiveRepo {
  /** owner/name */
  repo: string;
  /** runs the last full tick that listed this repository saw queued */
  knownQueued: ReadonlySet<number>;
  /** epoch ms of the last tick that saw a queued or running run in it */
  lastActiveAt: number;
}

export class RepoActivity {
  private readonly repos = new Map<string, ActiveRepo>();

  /** One repository's listings at a tick (call only when both listings were read). */
  saw(repo: string, queuedRunIds: readonly number[], inProgressRuns: number, now: number): void {
    const before = this.repos.get(repo);
    const active = queuedRunIds.length > 0 || inProgressRuns > 0;
    if (!active && before === undefined) return;
    this.repos.set(repo, { repo, knownQueued: new Set(queuedRunIds), lastActiveAt: active ? now : before!.lastActiveAt });
  }

  /** Repositories active within `recentMs` of `now`, most recently active first. */
  active(now: number, recentMs: number): ActiveRepo[] {
    for (const [k, r] of this.repos) if (now - r.lastActiveAt > recentMs) this.repos.delete(k);
    return [...this.repos.values()].sort((a, b) => b.lastActiveAt - a.lastActiveAt || a.repo.localeCompare(b.repo));
  }
}
