import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(process.cwd());
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface CliResult {
  /** null when the process was killed (e.g. by the time limit) */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `node dist/cli.js <args>` with exactly `env` (plus PATH). Killed after `timeoutMs` so a command that
 * hangs fails its test (code null) instead of hanging the suite.
 */
export function runCli(args: string[], env: Record<string, string | undefined>, o: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: o.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: o.timeoutMs ?? 20_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** An environment that passes every check of the environment itself; nothing listens on its URLs. */
export function validEnv(poolsFile: string): Record<string, string> {
  return {
    PROXMOX_URL: 'http://127.0.0.1:1/api2/json',
    PROXMOX_NODE: 'pve1',
    PROXMOX_TOKEN_ID: 'pve-runners@pve!daemon',
    PROXMOX_TOKEN_SECRET: '0b6c2f4e-5d1a-4c3b-9e8f-7a6b5c4d3e2f',
    GITHUB_TOKEN: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
    GITHUB_API_URL: 'http://127.0.0.1:1',
    SNIPPETS_DIR: join(tmpdir(), 'pvr-no-snippets'),
    RUNNER_POOLS_CONFIG: poolsFile,
  };
}

/** A temp dir holding the shipped pools.yaml and cloud-init/ templates, after `edit`; returns the pools.yaml path. */
export function shippedPools(edit: (text: string) => string = (t) => t): { dir: string; pools: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pvr-cli-'));
  cpSync(join(ROOT, 'cloud-init'), join(dir, 'cloud-init'), { recursive: true });
  const pools = join(dir, 'pools.yaml');
  writeFileSync(pools, edit(readFileSync(join(ROOT, 'pools.yaml'), 'utf8')));
  return { dir, pools };
}
