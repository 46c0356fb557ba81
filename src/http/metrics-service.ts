/**
 * The listener of METRICS_LISTEN when it is not WEBHOOK_LISTEN's address: /metrics, /healthz and
 * /readyz only, so metrics can stay on loopback while the webhook faces GitHub.
 */
import type { Logger } from '../log.js';
import type { ListenAddress } from '../config/env-metrics.js';
import { HttpListener, type BoundAddress, type Routes } from './listener.js';

export class MetricsService {
  readonly listener: HttpListener;

  constructor(private readonly address: ListenAddress, routes: Routes, log: Logger) {
    this.listener = new HttpListener(routes, log);
  }

  async start(): Promise<BoundAddress> {
    return this.listener.start(this.address.host, this.address.port, { name: 'METRICS_LISTEN', example: '127.0.0.1:9464' });
  }

  async stop(): Promise<void> {
    await this.listener.stop();
  }
}
