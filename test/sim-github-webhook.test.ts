/**
 * The simulated GitHub's webhook (`github.webhook`): real HTTP POSTs with GitHub's headers and
 * workflow_job payloads shaped like @octokit/webhooks-examples, signed with the hook's secret; one
 * delay per delivery; failures recorded, never retried; redeliveries and forgeries on request.
 * Scenario time is a manual clock: a delivery goes out because the test moved time.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { verify } from '@octokit/webhooks-methods';
import { GithubSim } from '../src/sim/github/index.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';
import { ManualClock } from './helpers/manual-clock.js';

const require = createRequire(import.meta.url);
const examples = (require('@octokit/webhooks-examples/api.github.com/index.json') as Array<{ name: string; examples: Array<Record<string, unknown>> }>).find((e) => e.name === 'workflow_job')!.examples;

interface Got { headers: IncomingHttpHeaders; body: string }

async function receiver(status = 200): Promise<{ url: string; got: Got[]; server: Server; status: { code: number } }> {
  const got: Got[] = [];
  const st = { code: status };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(st.code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`, got, server, status: st };
}

async function sim(webhook = 'true') {
  const scenario = parseScenario(`
seed: 5
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
github:
  repos: [acme/app]
  orgs: [{name: bigco, repos: [api]}]
  webhook: ${webhook}
workload: []
`);
  const clock = new ManualClock();
  const gh = new GithubSim({ scenario, clock, rng: new Rng(scenario.seed), recorder: new Recorder(() => clock.nowMs()) });
  const { webhook: creds } = await gh.start();
  const hooks = gh.webhooks!;
  const step = async (ms: number) => {
    clock.advance(ms);
    await hooks.settled();
  };
  return { gh, clock, hooks, secret: creds!.secret, step, stop: () => gh.stop() };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const keysOf = (o: unknown) => Object.keys(o as object).sort();

describe('simulated GitHub webhook deliveries', () => {
  it('a new target gets a ping; each job state is POSTed with GitHub\'s headers, signed, shaped like the examples', async () => {
    const s = await sim();
    const r = await receiver();
    try {
      s.hooks.setTarget(r.url);
      await s.hooks.settled();
      expect(r.got.map((g) => g.headers['x-github-event'])).toEqual(['ping']);
      s.gh.queueRun('acme/app', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 1000 }], false);
      s.gh.queueRun('bigco/api', 'CI', [{ labels: ['self-hosted', 'linux'], durationMs: 1000 }], false);
      await s.step(499);
      expect(r.got).toHaveLength(1); // nothing before half the delay
      await s.step(1001);
      const jobs = r.got.filter((g) => g.headers['x-github-event'] === 'workflow_job');
      expect(jobs).toHaveLength(2);
      for (const g of jobs) {
        expect(g.headers['content-type']).toBe('application/json');
        expect(g.headers['user-agent']).toMatch(/^GitHub-Hookshot\/[0-9a-f]{7}$/);
        expect(g.headers['x-github-delivery']).toMatch(GUID);
        expect(g.headers['x-github-hook-id']).toBe(String(s.hooks.hookId));
        expect(await verify(s.secret, g.body, String(g.headers['x-hub-signature-256']))).toBe(true);
        const payload = JSON.parse(g.body) as Record<string, Record<string, unknown>>;
        const example = examples.find((e) => e.action === 'queued' && !('deployment' in e))!;
        expect(payload.action).toBe('queued');
        // the newest example's workflow_job fields, exactly; the top level as for a repository or organisation webhook
        expect(keysOf(payload.workflow_job)).toEqual(keysOf(example.workflow_job));
        expect(payload.workflow_job!.status).toBe('queued');
        for (const k of ['id', 'full_name', 'owner', 'private', 'url']) expect(payload.repository).toHaveProperty(k);
      }
      const bodies = jobs.map((g) => JSON.parse(g.body) as Record<string, unknown>);
      const org = bodies.find((b) => (b.repository as { full_name: string }).full_name === 'bigco/api')!;
      expect(keysOf(org)).toEqual(['action', 'organization', 'repository', 'sender', 'workflow_job']);
      const user = bodies.find((b) => (b.repository as { full_name: string }).full_name === 'acme/app')!;
      expect(keysOf(user)).toEqual(['action', 'repository', 'sender', 'workflow_job']);
      expect(new Set(r.got.map((g) => g.headers['x-github-delivery'])).size).toBe(r.got.length);
    } finally {
      await s.stop();
      r.server.close();
    }
  });

  it('a failed delivery (error status, nothing listening) is recorded and never retried', async () => {
    const s = await sim();
    const r = await receiver(500);
    try {
      s.hooks.setTarget(r.url);
      s.gh.queueRun('acme/app', 'CI', [{ labels: ['self-hosted'], durationMs: 1000 }], false);
      await s.step(1500);
      const gone = await receiver();
      gone.server.close(); // a port nothing listens on any more
      s.hooks.setTarget(gone.url);
      await s.hooks.settled();
      s.gh.queueRun('acme/app', 'CI', [{ labels: ['self-hosted'], durationMs: 1000 }], false);
      await s.step(1500);
      await s.step(600_000);
      const jobDeliveries = s.hooks.deliveries.filter((d) => d.event === 'workflow_job');
      expect(jobDeliveries.map((d) => d.status ?? 'error')).toEqual([500, 'error']);
      expect(s.hooks.deliveries.map((d) => d.event)).toEqual(['ping', 'workflow_job', 'ping', 'workflow_job']);
      expect(jobDeliveries[1]!.error).toMatch(/ECONNREFUSED/);
      expect(r.got.filter((g) => g.headers['x-github-event'] === 'workflow_job')).toHaveLength(1);
    } finally {
      await s.stop();
      r.server.close();
    }
  });

  it('redeliver sends the same delivery id, body and signature; forge signs with another secret', async () => {
    const s = await sim();
    const r = await receiver();
    try {
      s.hooks.setTarget(r.url);
      s.gh.queueRun('acme/app', 'CI', [{ labels: ['self-hosted'], durationMs: 1000 }], false);
      await s.step(1500);
      const first = r.got.find((g) => g.headers['x-github-event'] === 'workflow_job')!;
      const guid = String(first.headers['x-github-delivery']);
      expect((await s.hooks.redeliver(guid)).redelivery).toBe(true);
      const again = r.got.at(-1)!;
      expect([again.headers['x-github-delivery'], again.body, again.headers['x-hub-signature-256']]).toEqual([guid, first.body, first.headers['x-hub-signature-256']]);
      const forged = await s.hooks.forge(guid);
      expect(forged.genuine).toBe(false);
      const f = r.got.at(-1)!;
      expect(f.headers['x-github-delivery']).not.toBe(guid);
      expect(f.body).toBe(first.body);
      expect(await verify(s.secret, f.body, String(f.headers['x-hub-signature-256']))).toBe(false);
    } finally {
      await s.stop();
      r.server.close();
    }
  });

  it('each delivery has its own delay: a job queued and cancelled at once may be delivered completed first', async () => {
    const s = await sim('{delay: 2s}');
    const r = await receiver();
    try {
      s.hooks.setTarget(r.url);
      const orders = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const before = r.got.length;
        s.gh.queueRun('acme/app', 'CI', [{ labels: ['self-hosted'], durationMs: 500, cancelAfterMs: 100 }], false);
        await s.step(100);
        await s.step(5000);
        orders.add(r.got.slice(before).filter((g) => g.headers['x-github-event'] === 'workflow_job').map((g) => (JSON.parse(g.body) as { action: string }).action).slice(0, 2).join(','));
      }
      expect(orders).toEqual(new Set(['queued,completed', 'completed,queued']));
    } finally {
      await s.stop();
      r.server.close();
    }
  });
});
