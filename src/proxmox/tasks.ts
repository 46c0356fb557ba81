import type { Clock } from '../clock.js';
import { upidNode, type ProxmoxApi } from './api.js';
import { ProxmoxError, TaskFailedError, TaskTimeoutError } from './errors.js';

export interface TaskWait {
  timeoutMs: number;
  /** Polled this often while the task is young; then the interval doubles up to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
  /**
   * How long the task counts as young (default 0: doubling from the first poll). Clones, starts and
   * configs take seconds: a doubling interval would notice their end up to as long again after it,
   * on the path of a job waiting for its runner.
   */
  fastForMs?: number;
}

/** exitstatus values Proxmox counts as success (pve-common UPID.pm). */
export function taskSucceeded(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || /^WARNINGS: \d+$/.test(exitstatus ?? '');
}

/**
 * Polls a task until it stops; resolves if it ended OK, throws TaskFailedError with Proxmox's
 * exitstatus otherwise, TaskTimeoutError when it outlives `timeoutMs`. A status read that fails
 * transiently is retried until the deadline.
 */
export async function awaitTask(api: ProxmoxApi, clock: Clock, upid: string, operation: string, w: TaskWait): Promise<void> {
  const node = upidNode(upid);
  if (!node) throw new Error(`${operation}: Proxmox returned '${upid}', not a task id`);
  const started = clock.now();
  const deadline = started + w.timeoutMs;
  let poll = w.pollMs;
  for (;;) {
    try {
      const s = await api.taskStatus(node, upid);
      if (s.status === 'stopped') {
        if (taskSucceeded(s.exitstatus)) return;
        throw new TaskFailedError(upid, s.exitstatus ?? 'unknown', operation);
      }
    } catch (e) {
      if (!(e instanceof ProxmoxError) || !e.isTransient) throw e;
    }
    if (clock.now() + poll > deadline) throw new TaskTimeoutError(upid, operation, w.timeoutMs);
    await clock.sleep(poll);
    if (clock.now() - started >= (w.fastForMs ?? 0)) poll = Math.min(poll * 2, w.maxPollMs);
  }
}
