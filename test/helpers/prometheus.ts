/**
 * Debian's `prometheus` binary on loopback for a test: a temp storage dir, one scrape job on a
 * target given up front, a 1 s scrape interval. Everything is awaited on conditions (its /-/ready,
 * a query's answer), never on sleeps of a guessed length.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nothing listens on right now (bound and let go). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class TestPrometheus {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'pvr-prometheus-'));
  readonly output: string[] = [];
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const config = join(this.dir, 'prometheus.yml');
    writeFileSync(config, `global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: pve-runners\n    static_configs: [{targets: ['${this.target}']}]\n`);
    this.child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.child.stdout!, this.child.stderr!]) s.on('data', (b: Buffer) => this.output.push(b.toString()));
    await this.until('prometheus ready', async () => (await fetch(`${this.url}/-/ready`).catch(() => undefined))?.ok === true);
  }

  /** An instant query at `time` (Unix s): the samples, or throws with Prometheus' error. */
  async query(expr: string, time: number): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: expr, time: String(time) })}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] | [number, string] } };
    if (body.status !== 'success') throw new Error(`prometheus: ${expr}: ${body.error}`);
    const r = body.data!.result;
    // a scalar result (e.g. time()) is one value
    return body.data!.resultType === 'scalar' ? [{ metric: {}, value: r as [number, string] }] : (r as PromSample[]);
  }

  /** Polls `cond` until true (every 200 ms, at most `timeoutMs`): conditions, not sleeps. */
  async until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await cond().catch(() => false)) return;
      if (this.child && this.child.exitCode !== null) throw new Error(`prometheus exited (${this.child.exitCode}): ${this.output.join('')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus said: ${this.output.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
