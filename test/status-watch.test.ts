/**
 * `status --watch`: frames of the daemon's state file, redrawn in place on a terminal (cursor home,
 * each line's rest erased, what is below erased; the screen cleared once) and plain frames one after
 * another when piped. The terminal path is the same command with isTTY injected; the clock is a fake
 * whose sleeps return at once, recording how long the command asked to wait.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/clock.js';
import { CLEAR, ERASE_BELOW, ERASE_LINE, HOME, watchCommand } from '../src/cli/status-watch.js';
import type { StatusReport } from '../src/cli/status.js';
import { StateFile } from '../src/daemon/state-file.js';
import { createLogger } from '../src/log.js';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

function table(): StatusReport {
  const vms = { creating: 0, booting: 1, idle: 0, busy: 2, stopped: 0, warm: 0, other: 0, total: 3 };
  return {
    pools: [{ pool: 'ubuntu-2404', queued: 1, vms, tiers: { hot: 0, warm: 0, sizes: { hot: 0, warm: 0 } }, runners: { idle: 0, busy: 2, offline: 0 }, capacityLeft: 1 }],
    unmatched: [],
    foreignInRanges: [],
    total: { vms: 3, maxTotalRunners: 8 },
    incomplete: [],
    github: null,
    draining: [{ vmid: 231, node: 'pve1', name: 'ubuntu-2204-231-ab12', pool: 'ubuntu-2204', state: 'busy', why: 'pool ubuntu-2204 is no longer configured' }],
    otherInstances: [],
  };
}

/** A daemon's state as `pve-runners run` writes it: a tick, a failed reload, two actions. */
function daemonState(dir: string): void {
  const log = createLogger({ level: 'error', format: 'json', write: () => {} });
  const s = new StateFile<StatusReport>({ dir, log, redact: (x) => x, init: { pid: 4242, startedAt: T0, pollIntervalMs: 750, configFile: '/etc/pve-runners/pools.yaml' } });
  s.update(T0 + 1000, { table: table(), actions: [{ at: T0 + 1000, kind: 'create', pool: 'ubuntu-2404', vmid: 201, ok: true, reason: 'job 7 (acme/app, build) is queued' }, { at: T0 + 1000, kind: 'remove-vm', pool: 'ubuntu-2204', vmid: 232, ok: false, detail: 'lock timeout', reason: 'drained (pool ubuntu-2204 is no longer configured): VM is stopped' }] });
  s.update(T0 + 2000, { reload: { at: T0 + 2000, ok: false, errors: ['pools.yaml: pools[0].labels (line 9): lists \'linux\' twice — fix: keep one of them'] } });
}

/** Runs the watch until it has written `frames` frames; returns them and the sleeps it asked for. */
async function watch(env: Record<string, string>, isTTY: boolean, frames = 2): Promise<{ writes: string[]; sleeps: number[]; code: number }> {
  const writes: string[] = [];
  const sleeps: number[] = [];
  let stop!: () => void;
  const stopSignal = new Promise<void>((r) => (stop = r));
  const clock: Clock = {
    now: () => T0 + 3000 + sleeps.length * 750,
    sleep: async (ms) => {
      sleeps.push(ms);
      // the stop arrives while the command sleeps after its last frame
      if (writes.length >= frames) stop();
      await new Promise((r) => setImmediate(r));
    },
  };
  const code = await watchCommand({ env, cwd: process.cwd(), write: (s) => writes.push(s), isTTY, stopSignal, clock });
  return { writes, sleeps, code };
}

describe('status --watch', () => {
  const runtime = mkdtempSync(join(tmpdir(), 'pvr-watch-'));
  daemonState(runtime);
  const { pools } = shippedPools();
  const env = { ...validEnv(pools), RUNTIME_DIRECTORY: runtime };

  it('on a terminal: the screen cleared once, then each frame drawn over the last from the top', async () => {
    const { writes, sleeps, code } = await watch(env, true);
    expect(code).toBe(0);
    expect(writes).toHaveLength(2);
    expect(writes[0]!.startsWith(`${CLEAR}${HOME}`)).toBe(true);
    expect(writes[1]!.startsWith(HOME)).toBe(true);
    expect(writes[1]).not.toContain(CLEAR);
    for (const w of writes) {
      expect(w.endsWith(`\n${ERASE_BELOW}`)).toBe(true);
      const lines = w.replace(/^(\x1b\[2J)?\x1b\[H/, '').replace(/\n\x1b\[J$/, '').split('\n');
      for (const l of lines) expect(l.endsWith(ERASE_LINE)).toBe(true);
    }
    // every poll interval of the daemon's, as its state says (750 ms: time-scaled)
    expect(sleeps).toEqual([750, 750]);
  });

  it('piped: plain frames one after another, no control sequence', async () => {
    const { writes } = await watch(env, false);
    expect(writes).toHaveLength(2);
    for (const w of writes) {
      expect(w).not.toContain('\x1b');
      expect(w.endsWith('\n\n')).toBe(true);
    }
    const lines = writes[0]!.trimEnd().split('\n');
    expect(lines[0]).toBe('pve-runners status --watch  2026-12-01T12:00:03Z  (Ctrl-C ends)');
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^pool +queued +creating +booting +idle +busy/),
      expect.stringMatching(/^ubuntu-2404 +1 +0 +1 +0 +2 +0 /),
      'draining (no configured pool holds them; removed once stopped or idle, never while busy): 231 ubuntu-2204-231-ab12 (pool ubuntu-2204, busy)',
      'daemon: pid 4242, /etc/pve-runners/pools.yaml, state written 1s ago',
      'reload: FAILED at 2026-12-01T12:00:02Z, still running on the configuration loaded before; 1 problem(s):',
      "  pools.yaml: pools[0].labels (line 9): lists 'linux' twice — fix: keep one of them",
      'last actions:',
      '  12:00:01 create ubuntu-2404 VM 201: ok — job 7 (acme/app, build) is queued',
      '  12:00:01 remove-vm ubuntu-2204 VM 232: FAILED (lock timeout) — drained (pool ubuntu-2204 is no longer configured): VM is stopped',
    ]));
  });

  it('without a daemon: says where it looked, and keeps looking every POLL_INTERVAL', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'pvr-watch-none-'));
    const { writes, sleeps } = await watch({ ...env, RUNTIME_DIRECTORY: empty, POLL_INTERVAL: '20' }, false);
    expect(writes[0]).toContain(`daemon: no state at ${empty}/state.json`);
    expect(sleeps).toEqual([20_000, 20_000]);
  });

  it('--watch with --json is a usage error (exit 78)', async () => {
    const r = await runCli(['status', '--watch', '--json'], env);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('--watch draws a table for people');
  });
});
