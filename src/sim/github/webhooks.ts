/**
 * The simulated GitHub's one webhook, subscribed to workflow_job: each job's queued, in_progress
 * and completed is POSTed to the URL the harness registered, as GitHub delivers them (its headers,
 * an HMAC-SHA256 of the body with the hook's secret). Each delivery has its own delay, so their order
 * is not guaranteed; a delivery that fails (nothing listening, an error status, no answer in 10 s) is
 * recorded and never retried. See docs/simulator.md for the evidence.
 */
import { createHmac } from 'node:crypto';
import type { SimContext } from '../contracts.js';
import type { Rng } from '../rng.js';
import type { ScenarioWebhook } from '../scenario.js';
import type { Ids } from './ids.js';
import type { Job } from './model.js';
import { nodeId, type Renderer } from './render.js';
import type { Timers } from './timers.js';

/** fetch's own message is 'fetch failed'; what went wrong (ECONNREFUSED, a timeout) is in its cause. */
function failure(e: unknown): string {
  const cause = typeof e === 'object' && e !== null && 'cause' in e ? e.cause : undefined;
  for (const x of [cause, e]) {
    if (typeof x === 'object' && x !== null && 'message' in x && typeof x.message === 'string') return 'code' in x && typeof x.code === 'string' ? `${x.code}: ${x.message}` : x.message;
  }
  return String(e);
}

export type JobAction = 'queued' | 'in_progress' | 'completed';

export interface SimDelivery {
  guid: string;
  event: string;
  action: string | undefined;
  jobId: number | undefined;
  /** scenario ms at which it was sent */
  sentAtMs: number;
  redelivery: boolean;
  /** signed with the hook's secret (false: a forgery the harness asked for) */
  genuine: boolean;
  /** the receiver's status code, or why there was none */
  status: number | undefined;
  error: string | undefined;
}

interface Prepared {
  guid: string;
  event: string;
  action: string | undefined;
  jobId: number | undefined;
  body: string;
}

/* GitHub gives a receiver 10 s; the real-time floor keeps a loaded test machine at --speed 20 from failing deliveries GitHub would not. */
const TIMEOUT_MS = 10_000;
const MIN_REAL_TIMEOUT_MS = 5_000;

export class WebhookSender {
  readonly secret: string;
  readonly hookId: number;
  private target: string | undefined;
  private readonly sent = new Map<string, Prepared>();
  readonly deliveries: SimDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aborts = new AbortController();
  private readonly agent: string;

  constructor(private readonly ctx: SimContext, private readonly cfg: ScenarioWebhook, private readonly rng: Rng, private readonly ids: Ids, private readonly timers: Timers, private readonly render: () => Renderer) {
    this.secret = `whsec_${ids.hex(40)}`;
    this.hookId = ids.workflow();
    this.agent = `GitHub-Hookshot/${ids.hex(7)}`;
  }

  /** Where deliveries go from now on (undefined: nowhere, and they fail); a new target gets a ping, as a new webhook does. */
  setTarget(url: string | undefined): void {
    this.target = url;
    if (url !== undefined) this.send(this.prepare('ping', undefined, undefined, { zen: 'Keep it logically awesome.', hook_id: this.hookId, hook: { type: 'Repository', id: this.hookId, name: 'web', active: true, events: ['workflow_job'], config: { content_type: 'json', url, insecure_ssl: '0' } } }), false, true);
  }

  /** Engine callback: a job changed state; its delivery goes out after its own delay. */
  jobChanged(job: Job, action: JobAction): void {
    const payload = this.payload(job, action);
    const p = this.prepare('workflow_job', action, job.id, payload);
    const delay = this.cfg.delayMs * (0.5 + this.rng.next());
    this.timers.after(delay, () => {
      this.send(p, false, true);
      if (this.rng.chance(this.cfg.duplicateRate)) this.timers.after(this.cfg.delayMs, () => this.send(p, true, true));
    });
  }

  /** Redeliver: the same delivery again, same X-GitHub-Delivery, body and signature. */
  redeliver(guid: string): Promise<SimDelivery> {
    const p = this.sent.get(guid);
    if (!p) throw new Error(`no delivery ${guid} to redeliver`);
    return this.send(p, true, true);
  }

  /** A forgery: a delivery's body under a fresh delivery id, signed with a secret that is not the hook's. */
  forge(guid: string, opts: { tamper?: boolean } = {}): Promise<SimDelivery> {
    const p = this.sent.get(guid);
    if (!p) throw new Error(`no delivery ${guid} to forge from`);
    const body = opts.tamper ? p.body.replace('"action":"', '"action":"x') : p.body;
    return this.send({ ...p, guid: this.ids.uuid(), body }, false, false);
  }

  /** Resolves when every delivery sent so far has its answer. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  stop(): void {
    this.aborts.abort();
  }

  private prepare(event: string, action: string | undefined, jobId: number | undefined, payload: Record<string, unknown>): Prepared {
    return { guid: this.ids.uuid(), event, action, jobId, body: JSON.stringify(payload) };
  }

  private payload(job: Job, action: JobAction): Record<string, unknown> {
    const r = this.render();
    const repo = job.run.repo;
    const { permissions: _p, ...repository } = r.minimalRepo(repo);
    const owner = repo.owner;
    const organization = owner.type === 'Organization' ? { organization: { login: owner.login, id: owner.id, node_id: nodeId('Organization', owner.id), url: `${r.user(owner).url}`, description: null } } : {};
    return { action, workflow_job: r.job(job), repository: { ...repository, license: null }, ...organization, sender: r.user(owner) };
  }

  private send(p: Prepared, redelivery: boolean, genuine: boolean): Promise<SimDelivery> {
    if (!redelivery) this.sent.set(p.guid, p);
    const d: SimDelivery = { guid: p.guid, event: p.event, action: p.action, jobId: p.jobId, sentAtMs: this.ctx.clock.nowMs(), redelivery, genuine, status: undefined, error: undefined };
    this.deliveries.push(d);
    const key = genuine ? this.secret : `${this.secret}-not`;
    const hmac = (alg: 'sha1' | 'sha256') => `${alg}=${createHmac(alg, key).update(p.body).digest('hex')}`;
    const target = this.target;
    const done = (async () => {
      if (target === undefined) {
        d.error = 'no webhook URL registered';
        return;
      }
      try {
        const res = await fetch(target, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': this.agent,
            'x-github-event': p.event,
            'x-github-delivery': p.guid,
            'x-github-hook-id': String(this.hookId),
            'x-hub-signature': hmac('sha1'),
            'x-hub-signature-256': hmac('sha256'),
          },
          body: p.body,
          signal: AbortSignal.any([this.aborts.signal, AbortSignal.timeout(Math.max(MIN_REAL_TIMEOUT_MS, TIMEOUT_MS / this.ctx.clock.speed))]),
        });
        d.status = res.status;
        await res.arrayBuffer();
      } catch (e) {
        d.error = failure(e);
      }
    })();
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return done.then(() => d);
  }
}
