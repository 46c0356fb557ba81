/**
 * The webhook as the daemon runs it: the listener with its /webhook route, feeding the nudges that
 * wake the reconcile loop. Built by wire(), started and stopped by the command that runs the loop.
 */
import type { Clock } from '../clock.js';
import type { WebhookSettings } from '../config/env-webhook.js';
import { DEFAULT_NUDGE_TIMINGS, Nudges, type NudgeTarget } from '../daemon/nudges.js';
import type { Logger } from '../log.js';
import { HttpListener, type BoundAddress, type Routes } from './listener.js';
import { WEBHOOK_PATH, webhookHandler } from './webhook.js';

export class WebhookService {
  readonly nudges: Nudges;
  readonly listener: HttpListener;

  constructor(private readonly settings: WebhookSettings, d: { target: NudgeTarget; clock: Clock; log: Logger; timeScale: number; routes?: Routes }) {
    const scale = (ms: number) => ms / d.timeScale;
    this.nudges = new Nudges({
      target: d.target, clock: d.clock, log: d.log,
      timings: { ...DEFAULT_NUDGE_TIMINGS, debounceMs: scale(DEFAULT_NUDGE_TIMINGS.debounceMs), followUpMs: scale(DEFAULT_NUDGE_TIMINGS.followUpMs) },
    });
    const handler = webhookHandler({
      secret: settings.secret,
      log: d.log,
      onWorkflowJob: (j) => {
        if (j.action === 'queued') {
          d.log.info(`webhook: job ${j.jobId} queued in ${j.repo} (delivery ${j.delivery}): early tick`, { job: j.jobId });
          this.nudges.queued(j.jobId, j.repo);
        } else if (j.action === 'in_progress' || j.action === 'completed') this.nudges.left(j.jobId);
      },
    });
    // the one listener: /healthz, /readyz (and /metrics when METRICS_LISTEN is the same address) too
    this.listener = new HttpListener(new Map([[WEBHOOK_PATH, handler], ...(d.routes ?? [])]), d.log);
  }

  async start(): Promise<BoundAddress> {
    return this.listener.start(this.settings.host, this.settings.port);
  }

  async stop(): Promise<void> {
    this.nudges.stop();
    await this.listener.stop();
  }
}
