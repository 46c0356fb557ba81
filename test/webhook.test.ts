/**
 * POST /webhook over real HTTP: GitHub's own example payloads (@octokit/webhooks-examples) signed
 * with the secret are taken; anything unsigned, mis-signed, repeated, too big or of the wrong shape
 * triggers nothing. Time is a manual clock: the debounce is seen because the test moved time.
 */
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { Secret } from '../src/config/secret.js';
import { WebhookService } from '../src/http/webhook-service.js';
import { MAX_BODY_BYTES } from '../src/http/webhook.js';
import { memoryLogger } from '../src/log.js';
import { ManualDaemonClock, settle } from './helpers/manual-daemon-clock.js';

const require = createRequire(import.meta.url);
interface Example { name: string; examples: Array<Record<string, unknown>> }
const examples = require('@octokit/webhooks-examples/api.github.com/index.json') as Example[];
const jobExamples = examples.find((e) => e.name === 'workflow_job')!.examples;
const ping = examples.find((e) => e.name === 'ping')!.examples[0]!;

const SECRET = 'It’s a Secret to Everybody-3f9a1c';
let seq = 0;
const guid = () => `72d3162e-cc78-11e3-81ab-${String(++seq).padStart(12, '0')}`;

function setup() {
  const clock = new ManualDaemonClock();
  const { log, lines } = memoryLogger({ format: 'json', level: 'debug' });
  const nudges: string[] = [];
  const service = new WebhookService({ host: '127.0.0.1', port: 0, secret: new Secret(SECRET, 'test') }, { target: { nudge: (r) => nudges.push(r) }, clock, log, timeScale: 1 });
  let url = '';
  const start = async () => {
    url = `${(await service.start()).url}/webhook`;
  };
  const post = async (event: string, body: string, o: { signature?: string | null; delivery?: string; type?: string; method?: string } = {}) => {
    const signature = o.signature === undefined ? await sign(SECRET, body) : o.signature;
    const headers: Record<string, string> = {
      'content-type': o.type ?? 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': event,
      'x-github-delivery': o.delivery ?? guid(),
      'x-github-hook-id': '109948940',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    };
    const res = await fetch(url, { method: o.method ?? 'POST', headers, body: o.method === 'GET' ? undefined : body });
    const text = await res.text();
    await settle();
    return { status: res.status, text, headers: res.headers };
  };
  return { clock, lines, nudges, service, start, post, url: () => url };
}

type Setup = ReturnType<typeof setup>;
let s: Setup;
beforeEach(async () => {
  s = setup();
  await s.start();
});
afterEach(() => s.service.stop());

const queuedExample = jobExamples.find((e) => e.action === 'queued')!;
const body = (e: Record<string, unknown>) => JSON.stringify(e);

describe('/webhook: correctly signed deliveries', () => {
  it('accepts every workflow_job example of @octokit/webhooks-examples and ping; only queued ones nudge', async () => {
    expect(jobExamples.length).toBeGreaterThanOrEqual(5);
    expect((await s.post('ping', body(ping))).status).toBe(200);
    for (const e of jobExamples) {
      const r = await s.post('workflow_job', body(e));
      expect({ action: e.action, status: r.status, text: r.text }).toEqual({ action: e.action, status: 200, text: 'ok\n' });
    }
    const queued = jobExamples.filter((e) => e.action === 'queued').length;
    expect(queued).toBeGreaterThanOrEqual(1);
    // the first queued one at once; the rest fell inside the debounce window: one more at its end
    expect(s.nudges).toHaveLength(1);
    expect(s.nudges[0]).toMatch(/^job \d+ queued in [\w-]+\/[\w-]+ \(webhook\)$/);
    await s.clock.advance(1000);
    expect(s.nudges).toHaveLength(queued > 1 ? 2 : 1);
    expect(s.lines.some((l) => l.includes('ping from hook 109948940'))).toBe(true);
  });

  it('answers 200 and nudges nothing for events it does not use, and says to unsubscribe once', async () => {
    const push = examples.find((e) => e.name === 'push')!.examples[0]!;
    expect((await s.post('push', body(push))).status).toBe(200);
    expect((await s.post('push', body(push))).status).toBe(200);
    await s.clock.advance(5000);
    expect(s.nudges).toEqual([]);
    expect(s.lines.filter((l) => l.includes('push events are not used; subscribe the webhook to \\"Workflow jobs\\" only'))).toHaveLength(1);
  });
});

describe('/webhook: refused deliveries trigger nothing and log no body', () => {
  const payload = body(queuedExample);
  const repo = (queuedExample.repository as { full_name: string }).full_name;
  const cases: Array<[string, () => Promise<{ status: number }>]> = [
    ['a tampered body', async () => s.post('workflow_job', payload.replace(repo, `${repo}x`), { signature: await sign(SECRET, payload), delivery: 'd-tampered' })],
    ['a wrong secret', async () => s.post('workflow_job', payload, { signature: await sign('not-the-secret-at-all', payload), delivery: 'd-wrong' })],
    ['no signature header', () => s.post('workflow_job', payload, { signature: null, delivery: 'd-missing' })],
    ['a SHA-1 signature only', () => s.post('workflow_job', payload, { signature: 'sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12', delivery: 'd-sha1' })],
  ];
  it.each(cases)('%s: 401', async (_what, send) => {
    const r = await send();
    expect(r.status).toBe(401);
    await s.clock.advance(10_000);
    expect(s.nudges).toEqual([]);
    const refusal = s.lines.filter((l) => l.includes('refused'));
    expect(refusal).toHaveLength(1);
    expect(refusal[0]).toMatch(/delivery d-\w+ \(workflow_job\) refused/);
    // neither the body nor the signature nor the secret is in any log line
    for (const l of s.lines) {
      expect(l).not.toContain(repo);
      expect(l).not.toContain('sha256=');
      expect(l).not.toContain('2fd4e1c67a');
      expect(l).not.toContain(SECRET);
    }
  });

  it('a refused delivery does not use up its id: the genuine one with that id still counts', async () => {
    expect((await s.post('workflow_job', payload, { signature: 'sha256=00', delivery: 'd-same' })).status).toBe(401);
    expect((await s.post('workflow_job', payload, { delivery: 'd-same' })).status).toBe(200);
    expect(s.nudges).toHaveLength(1);
  });

  it('a replayed delivery id: 200, no second trigger', async () => {
    expect((await s.post('workflow_job', payload, { delivery: 'd-once' })).text).toBe('ok\n');
    await s.clock.advance(2000);
    const again = await s.post('workflow_job', payload, { delivery: 'd-once' });
    expect(again).toMatchObject({ status: 200, text: 'already seen\n' });
    await s.clock.advance(2000);
    expect(s.nudges).toHaveLength(1);
    expect(s.lines.some((l) => l.includes('delivery d-once (workflow_job) was seen before'))).toBe(true);
  });

  it('a flood of forgeries cannot flood the log: the first 20 refusals, then every 100th with the count', async () => {
    for (let i = 0; i < 120; i++) expect((await s.post('workflow_job', payload, { signature: 'sha256=00' })).status).toBe(401);
    const refusals = s.lines.filter((l) => l.includes('refused'));
    expect(refusals).toHaveLength(21);
    expect(refusals[20]).toContain('(100 refused since start; only every 100th is logged)');
    expect(s.nudges).toEqual([]);
  });

  it('wrong method: 405 with Allow: POST', async () => {
    const r = await s.post('workflow_job', '', { method: 'GET', signature: 'sha256=00' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(s.nudges).toEqual([]);
  });

  it('a webhook set to application/x-www-form-urlencoded: 415, and the log says to choose application/json', async () => {
    const form = `payload=${encodeURIComponent(payload)}`;
    const r = await s.post('workflow_job', form, { type: 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
    expect(s.nudges).toEqual([]);
    expect(s.lines.some((l) => l.includes('choose Content type application/json'))).toBe(true);
  });

  it('an unknown path: 404', async () => {
    const r = await fetch(s.url().replace('/webhook', '/hook'), { method: 'POST', body: '{}' });
    expect(r.status).toBe(404);
  });
});

/** A raw HTTP exchange: the test decides exactly which bytes go out, and reads what comes back. */
function raw(url: string, head: string, chunks: string[] = []): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let got = '';
    sock.on('data', (d) => (got += String(d)));
    sock.on('close', () => resolve(got));
    sock.on('error', (e) => (got ? resolve(got) : reject(e)));
    sock.write(head);
    for (const c of chunks) sock.write(c);
  });
}

describe('/webhook: body size', () => {
  it('a declared Content-Length over 1 MiB: 413 before any of the body is read, connection closed', async () => {
    const head = `POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: d-big\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`;
    const answer = await raw(s.url(), head);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(s.nudges).toEqual([]);
    expect(s.lines.some((l) => l.includes('delivery d-big (workflow_job) refused: its Content-Length'))).toBe(true);
  });

  it('a chunked body growing past 1 MiB: 413 once the limit is crossed, reading stops', async () => {
    const head = 'POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: d-chunked\r\nTransfer-Encoding: chunked\r\n\r\n';
    const piece = 'x'.repeat(64 * 1024);
    const chunks = Array.from({ length: MAX_BODY_BYTES / piece.length + 1 }, () => `${piece.length.toString(16)}\r\n${piece}\r\n`);
    const answer = await raw(s.url(), head, chunks); // never sends the last chunk: only the server can end this
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(s.nudges).toEqual([]);
  });
});

describe('debounce and follow-ups (manual clock)', () => {
  it('several queued deliveries within the window make one early tick now and one at its end', async () => {
    for (let i = 0; i < 6; i++) {
      const e = { ...queuedExample, workflow_job: { ...(queuedExample.workflow_job as object), id: 1000 + i } };
      expect((await s.post('workflow_job', body(e))).status).toBe(200);
    }
    expect(s.nudges).toHaveLength(1);
    await s.clock.advance(999);
    expect(s.nudges).toHaveLength(1);
    await s.clock.advance(1);
    expect(s.nudges).toEqual([expect.stringContaining('job 1000 queued'), '5 more webhook deliveries']);
    await s.clock.advance(60_000);
    expect(s.nudges).toHaveLength(2);
  });

  it('an announced job the tick did not list yet is looked for again, backing off, then left to polling', async () => {
    expect((await s.post('workflow_job', body(queuedExample))).status).toBe(200);
    const id = (queuedExample.workflow_job as { id: number }).id;
    expect(s.nudges).toHaveLength(1);
    const waits: number[] = [];
    for (let look = 0; look < 6; look++) {
      s.service.nudges.ticked(new Set()); // the tick's listing lags: job not there
      const before = s.nudges.length;
      let waited = 0;
      while (s.nudges.length === before && waited < 100_000) {
        await s.clock.advance(500);
        waited += 500;
      }
      waits.push(s.nudges.length > before ? waited : -1);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, -1]);
    expect(s.lines.some((l) => l.includes(`job ${id} was announced queued by a webhook but is still not listed after 5 looks`))).toBe(true);
  });

  it('a job the tick listed, or one that started, is not looked for again', async () => {
    const id = (queuedExample.workflow_job as { id: number }).id;
    await s.post('workflow_job', body(queuedExample));
    s.service.nudges.ticked(new Set([id]));
    await s.clock.advance(60_000);
    expect(s.nudges).toHaveLength(1);
    const other = { ...queuedExample, workflow_job: { ...(queuedExample.workflow_job as object), id: 77 } };
    await s.post('workflow_job', body(other));
    await s.post('workflow_job', body({ ...other, action: 'in_progress' }));
    s.service.nudges.ticked(new Set());
    await s.clock.advance(60_000);
    expect(s.nudges).toHaveLength(2);
  });
});
