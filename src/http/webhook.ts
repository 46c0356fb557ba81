/**
 * POST /webhook: GitHub's workflow_job deliveries, verified with X-Hub-Signature-256 against
 * WEBHOOK_SECRET before anything in them is believed. A delivery only tells the daemon when to look
 * (polling stays the truth), so a refused, lost or repeated one costs at most an early tick.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verify } from '@octokit/webhooks-methods';
import type { Secret } from '../config/secret.js';
import type { Logger } from '../log.js';
import { DeliveryIds } from './delivery-ids.js';
import { send, type RouteHandler } from './listener.js';

export const WEBHOOK_PATH = '/webhook';
/** GitHub caps payloads at 25 MB; a workflow_job delivery is a few KB, so 1 MiB is plenty and cheap to hold. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface WorkflowJobDelivery {
  delivery: string;
  action: string;
  jobId: number;
  repo: string;
}

export interface WebhookOptions {
  secret: Secret;
  log: Logger;
  /** a verified workflow_job delivery, each delivery id once */
  onWorkflowJob: (d: WorkflowJobDelivery) => void;
  deliveries?: DeliveryIds;
  maxBodyBytes?: number;
}

const REFUSALS_LOGGED = 20;

/* Header values are the sender's words: only a safe, short form of them goes into a log line. */
const shown = (v: string | string[] | undefined): string => (typeof v === 'string' && v !== '' ? v.replace(/[^\w.:-]/g, '?').slice(0, 64) : '(none)');
const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

type Body = { kind: 'ok'; text: string } | { kind: 'too-large' } | { kind: 'failed' };

/** Reads at most `max` bytes; past that it stops and the connection is dropped once answered. */
function readBody(req: IncomingMessage, max: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve({ kind: 'too-large' });
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve({ kind: 'ok', text: Buffer.concat(chunks).toString('utf8') }));
    req.once('error', () => resolve({ kind: 'failed' }));
    req.once('aborted', () => resolve({ kind: 'failed' }));
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function workflowJob(payload: unknown): Omit<WorkflowJobDelivery, 'delivery'> | undefined {
  if (!isRecord(payload) || typeof payload.action !== 'string' || !isRecord(payload.workflow_job) || !isRecord(payload.repository)) return undefined;
  const { id } = payload.workflow_job;
  const repo = payload.repository.full_name;
  if (typeof id !== 'number' || typeof repo !== 'string') return undefined;
  return { action: payload.action, jobId: id, repo };
}

export function webhookHandler(o: WebhookOptions): RouteHandler {
  const max = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const deliveries = o.deliveries ?? new DeliveryIds();
  const otherEvents = new Set<string>();
  const log = o.log;
  // refusals are anyone's to cause: after the first few, one line per hundred keeps the log readable
  let refusals = 0;
  const refused = (line: string) => {
    refusals++;
    if (refusals <= REFUSALS_LOGGED || refusals % 100 === 0) log.warn(refusals > REFUSALS_LOGGED ? `${line} (${refusals} refused since start; only every 100th is logged)` : line);
  };

  const tooLarge = (req: IncomingMessage, res: ServerResponse, what: string) => {
    refused(`webhook: delivery ${shown(req.headers['x-github-delivery'])} (${shown(req.headers['x-github-event'])}) refused: ${what} is over ${max} bytes`);
    res.once('finish', () => req.destroy());
    send(res, 413, `payload too large: at most ${max} bytes`, { connection: 'close' });
  };

  return async (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      send(res, 405, 'only POST is served here', { allow: 'POST' });
      return;
    }
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      const form = type === 'application/x-www-form-urlencoded';
      refused(
        `webhook: delivery ${shown(req.headers['x-github-delivery'])} refused: content type ${shown(type)}; ${form ? 'the webhook is set to application/x-www-form-urlencoded: in its settings on GitHub choose Content type application/json' : 'GitHub webhooks send application/json when the webhook\'s Content type is set so'}`,
      );
      send(res, 415, 'unsupported media type: set the webhook\'s content type to application/json');
      return;
    }
    const declared = Number(header(req, 'content-length') ?? '0');
    if (declared > max) return tooLarge(req, res, `its Content-Length (${declared})`);
    const body = await readBody(req, max);
    if (body.kind === 'too-large') return tooLarge(req, res, 'its body');
    if (body.kind === 'failed') return;

    const delivery = header(req, 'x-github-delivery');
    const event = header(req, 'x-github-event');
    const signature = header(req, 'x-hub-signature-256');
    const who = `delivery ${shown(delivery)} (${shown(event)})`;
    // verify() needs a non-empty payload; an empty one cannot be GitHub's
    const valid = signature !== undefined && body.text !== '' && (await verify(o.secret.reveal(), body.text, signature));
    if (!valid) {
      refused(`webhook: ${who} refused: ${signature === undefined ? 'no X-Hub-Signature-256 header (is a Secret set on the webhook?)' : 'its X-Hub-Signature-256 does not match WEBHOOK_SECRET (the webhook\'s Secret on GitHub must equal WEBHOOK_SECRET)'}`);
      send(res, 401, 'signature missing or wrong');
      return;
    }
    if (delivery === undefined || event === undefined) {
      send(res, 400, 'X-GitHub-Delivery and X-GitHub-Event are required');
      return;
    }
    // only after the signature holds: a forger cannot fill this memory with made-up ids
    if (!deliveries.first(delivery)) {
      log.info(`webhook: ${who} was seen before (a redelivery or replay): ignored`);
      send(res, 200, 'already seen');
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.text);
    } catch {
      send(res, 400, 'the body is not JSON');
      return;
    }
    if (event === 'ping') {
      log.info(`webhook: ping from hook ${shown(req.headers['x-github-hook-id'])}: deliveries reach this listener`);
      send(res, 200, 'pong');
      return;
    }
    if (event !== 'workflow_job') {
      if (!otherEvents.has(event)) log.info(`webhook: ${event} events are not used; subscribe the webhook to "Workflow jobs" only`);
      otherEvents.add(event);
      send(res, 200, 'ignored: only workflow_job is used');
      return;
    }
    const job = workflowJob(payload);
    if (!job) {
      send(res, 400, 'not a workflow_job payload');
      return;
    }
    o.onWorkflowJob({ delivery, ...job });
    send(res, 200, 'ok');
  };
}
