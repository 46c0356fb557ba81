/**
 * `pve-runners sim --webhook-url URL` with a scenario that has github.webhook: the JSON line carries
 * the webhook secret, and the simulated GitHub's deliveries (a ping first) reach URL signed with it.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { verify } from '@octokit/webhooks-methods';
import { CLI, scenarioFile } from './helpers/e2e.js';

describe('pve-runners sim --webhook-url', () => {
  it('prints the webhook secret and delivers to the URL, signed with it', async () => {
    const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    let arrived: () => void = () => {};
    const twoArrived = new Promise<void>((r) => (arrived = r));
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(200).end();
        if (got.length >= 2) arrived();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
    const file = scenarioFile(`
seed: 3
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
github:
  repos: [acme/app]
  webhook: true
workload:
  - {at: 0s, repo: acme/app, jobs: 1, labels: [self-hosted], duration: 10s}
`);
    const child = spawn(process.execPath, [CLI, 'sim', '--scenario', file, '--speed', '10', '--webhook-url', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
      const info = JSON.parse(first) as { github: { webhook?: { secret: string } } };
      const secret = info.github.webhook!.secret;
      expect(secret).toMatch(/^whsec_[0-9a-f]{40}$/);
      await twoArrived;
      expect(got.map((g) => g.headers['x-github-event'])).toEqual(['ping', 'workflow_job']);
      for (const g of got) expect(await verify(secret, g.body, String(g.headers['x-hub-signature-256']))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      server.close();
    }
  });

  it('refuses a URL with a query string', async () => {
    const child = spawn(process.execPath, [CLI, 'sim', '--scenario', 'x.yaml', '--webhook-url', 'http://h/webhook?token=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += String(d)));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).not.toBe(0);
    expect(err).toContain('--webhook-url must be an http(s) URL without query or fragment');
  });
});
