import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import proxmoxApi from 'proxmox-api';
import { CLI, ROOT } from './helpers/e2e.js';

describe('pve-runners sim --scenario FILE', () => {
  it('prints one JSON line that is enough to reach both services, and the report when stopped', async () => {
    const child = spawn(process.execPath, [CLI, 'sim', '--scenario', join(ROOT, 'scenarios', 'demo.yaml'), '--speed', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
    const info = JSON.parse(first) as {
      proxmox: { url: string; token_id: string; token_secret: string; storage: string; nodes: string[]; snippets_dirs: Record<string, string> };
      github: { url: string; token: string };
    };
    expect(info.proxmox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api2\/json$/);
    expect(info.proxmox.token_secret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(Object.keys(info.proxmox.snippets_dirs)).toEqual(['pve1', 'pve2']);

    const u = new URL(info.proxmox.url);
    const px = proxmoxApi({ host: u.hostname, port: Number(u.port), schema: 'http', tokenID: info.proxmox.token_id, tokenSecret: info.proxmox.token_secret });
    expect((await px.version.$get()).version).toBe('9.1.3');
    // The first run is queued at 0 s; GitHub lists it only after its listing lag (3 s, 0.3 s here).
    let queued = 0;
    for (const end = Date.now() + 20_000; queued === 0 && Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      const gh = await fetch(`${info.github.url}/repos/acme/app/actions/runs?status=queued`, { headers: { authorization: `token ${info.github.token}` } });
      expect(gh.status).toBe(200);
      queued = ((await gh.json()) as { total_count: number }).total_count;
    }
    expect(queued).toBeGreaterThanOrEqual(1);

    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    const report = JSON.parse(stderr.at(-1)!) as { github: { requests: number }; jobs: { total: number } };
    expect(report.github.requests).toBeGreaterThanOrEqual(1);
    expect(report.jobs.total).toBeGreaterThanOrEqual(1);
  });

  it('rejects a broken scenario with exit 78 and the path of the problem', async () => {
    const child = spawn(process.execPath, [CLI, 'sim', '--scenario', join(ROOT, 'package.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += String(d)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(err).toContain('package.json: invalid scenario');
    expect(err).toContain("missing required key 'proxmox'");
  });
});
