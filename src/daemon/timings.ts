/**
 * Every interval and timeout of the daemon, in real milliseconds. `scaled(n)` divides them all by n:
 * the demo runs the daemon against a simulator that is n times faster than real time.
 */
export interface Timings {
  pollIntervalMs: number;
  /** random extra delay per tick, up to this fraction of the interval, so daemons do not beat in step */
  jitter: number;
  /** shortest time between two tick starts when a destroyed VM wakes the loop early */
  minTickGapMs: number;
  /** while jobs wait on a cap: how often Proxmox is checked for runner VMs that powered off */
  capWatchMs: number;
  /** shortest time between two quick looks at active repositories (github/budget.ts may space them more) */
  quickLookMinMs: number;
  /** a repository stays active, and quick-looked, this long after a tick last saw a run in it */
  recentActivityMs: number;
  taskPollMs: number;
  taskMaxPollMs: number;
  /** a task is polled every taskPollMs for this long, then less often (see TaskWait.fastForMs) */
  taskFastPollForMs: number;
  cloneTimeoutMs: number;
  configTimeoutMs: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  destroyTimeoutMs: number;
  /** delivery: guest-agent: how often a started VM's guest agent is pinged until it answers */
  agentPollMs: number;
  /** first delay before retrying a Proxmox lock contention; doubles */
  lockRetryMs: number;
  lockRetries: number;
  /** the longest a linked clone or destroy is started to wait for its storage lock: half of PVE's 10 s (lock-spacing.ts) */
  lockWaitMs: number;
  vmidCooldownMs: number;
  /**
   * how long /cluster/resources may lag behind a VM (pvestatd refreshes status, name and memory
   * about every 10 s): a VM this process just started counts as still being created for this long
   */
  statusLagMs: number;
  /**
   * a VMID taken by a VM the token cannot see, once past the window in which it may be a clone of
   * ours (the clone timeout), is asked about again this rarely: only to learn it became free
   */
  hiddenReprobeMs: number;
  /** a scope whose registrations GitHub refused for a missing permission gets no new VM for this long */
  permissionRetryMs: number;
  /** how long to wait before asking GitHub's listing again for something it lists late (a registration just made) */
  listingLagRetryMs: number;
  /** a registration this process deleted is not acted on again for this long (GitHub lists deleted runners for a while) */
  deletedRunnerMemoryMs: number;
  /** a warm pool's template config is read again at most this often (a rebuild gives it a new ctime) */
  templateRecheckMs: number;
  /** longest wait after repeated failed ticks */
  maxBackoffMs: number;
  /** how long a graceful stop waits for in-flight actions */
  shutdownGraceMs: number;
  /** divides GitHub's retry-after and write spacing (Octokit's throttling) */
  scale: number;
}

export function defaultTimings(pollIntervalMs: number): Timings {
  return {
    pollIntervalMs,
    jitter: 0.1,
    minTickGapMs: 1000,
    capWatchMs: 3000,
    quickLookMinMs: 2000,
    recentActivityMs: 5 * 60_000,
    taskPollMs: 250,
    taskMaxPollMs: 2000,
    taskFastPollForMs: 15_000,
    cloneTimeoutMs: 15 * 60_000,
    configTimeoutMs: 60_000,
    startTimeoutMs: 3 * 60_000,
    stopTimeoutMs: 2 * 60_000,
    destroyTimeoutMs: 5 * 60_000,
    agentPollMs: 2000,
    lockRetryMs: 1000,
    lockRetries: 4,
    lockWaitMs: 5_000,
    vmidCooldownMs: 60_000,
    statusLagMs: 30_000,
    hiddenReprobeMs: 5 * 60_000,
    permissionRetryMs: 10 * 60_000,
    deletedRunnerMemoryMs: 5 * 60_000,
    listingLagRetryMs: 2_000,
    templateRecheckMs: 60_000,
    maxBackoffMs: 5 * 60_000,
    shutdownGraceMs: 5 * 60_000,
    scale: 1,
  };
}

export function scaled(t: Timings, factor: number): Timings {
  if (factor === 1) return t;
  const out = { ...t, scale: t.scale * factor };
  for (const k of Object.keys(out) as Array<keyof Timings>) {
    if (k.endsWith('Ms')) (out as Record<string, number>)[k] = (t[k] as number) / factor;
  }
  return out;
}
