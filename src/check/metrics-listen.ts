/**
 * `check` with METRICS_LISTEN on an address of its own: binds it once and lets go, like the
 * webhook's probe. A port already taken is only a warning: usually the running daemon holds it.
 */
import { ConfigError } from '../config/errors.js';
import type { MetricsService } from '../http/metrics-service.js';
import { fail, ok, warn, type CheckLine } from './result.js';

export async function probeMetricsListener(service: MetricsService): Promise<CheckLine> {
  const what = 'metrics listener (METRICS_LISTEN)';
  try {
    const at = await service.start();
    await service.stop();
    return ok(what, `can listen on ${at.url}: /metrics for Prometheus, /healthz, /readyz`);
  } catch (e) {
    const problem = e instanceof ConfigError ? (e.problems[0]?.message ?? e.message) : String(e);
    const fix = e instanceof ConfigError ? (e.problems[0]?.fix ?? '') : 'see the error';
    if (problem.includes('the port is in use')) return warn(what, `${problem} (by the running daemon?)`, 'nothing, if `systemctl status pve-runners` shows it running; otherwise free the port or choose another');
    return fail(what, problem, fix);
  }
}
