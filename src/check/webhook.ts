/**
 * `check` with WEBHOOK_LISTEN: binds the listener once and lets go. A port already taken is only a
 * warning: the usual reason is the running daemon itself holding it.
 */
import { ConfigError } from '../config/errors.js';
import type { WebhookService } from '../http/webhook-service.js';
import { fail, ok, warn, type CheckLine } from './result.js';

export async function probeWebhook(service: WebhookService): Promise<CheckLine> {
  const what = 'webhook listener (WEBHOOK_LISTEN)';
  try {
    const at = await service.start();
    await service.stop();
    return ok(what, `can listen on ${at.url}/webhook; GitHub's webhook (Workflow jobs, application/json, Secret = WEBHOOK_SECRET) must reach it`);
  } catch (e) {
    const problem = e instanceof ConfigError ? (e.problems[0]?.message ?? e.message) : String(e);
    const fix = e instanceof ConfigError ? (e.problems[0]?.fix ?? '') : 'see the error';
    if (problem.includes('the port is in use')) return warn(what, `${problem} (by the running daemon?)`, 'nothing, if `systemctl status pve-runners` shows it running; otherwise free the port or choose another');
    return fail(what, problem, fix);
  }
}
