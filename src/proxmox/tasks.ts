import type { Clock } from '../clock.js';
import { upidNode, type ProxmoxApi } from './api.js';
import { ProxmoxError, TaskFailedError, TaskTimeoutError } from './errors.js';

export interface TaskWait {
  timeoutMs: number;
  /** First poll after this; doubles up to maxPollMs (clones take seconds, configs milliseconds). */
  pollMs: number;
  maxPollMs: number;
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
  const deadline = clock.now() + w.timeoutMs;
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
    poll = Math.min(poll * 2, w.maxPollMs);
  }
}
