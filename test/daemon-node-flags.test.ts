/**
 * The daemon's Node flags (the heap cap that keeps its RSS flat, issue 10) are the same where
 * systemd starts it and where the demo and the bench start it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../src/cli/node-flags.js';
import { ROOT } from './helpers/e2e.js';

describe('the daemon\'s Node flags', () => {
  it('the systemd unit starts node with them, before the script', () => {
    const unit = readFileSync(join(ROOT, 'systemd', 'pve-runners.service'), 'utf8');
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
    const argv = exec.slice('ExecStart='.length).split(/\s+/);
    expect(argv[0]).toBe('/usr/bin/node');
    expect(argv.slice(1, argv.indexOf('/opt/pve-runners/current/dist/cli.js'))).toEqual([...DAEMON_NODE_FLAGS]);
  });

  it('cap the old generation, with room above the live heap measured at 500 repositories (31 MB)', () => {
    const cap = DAEMON_NODE_FLAGS.map((f) => /^--max-old-space-size=(\d+)$/.exec(f)?.[1]).find((x) => x !== undefined);
    expect(Number(cap)).toBeGreaterThanOrEqual(4 * 31);
  });

  it('cap the young generation\'s semi-spaces below V8\'s 16 MB, and not so low that every tick is a string of scavenges', () => {
    const semi = DAEMON_NODE_FLAGS.map((f) => /^--max-semi-space-size=(\d+)$/.exec(f)?.[1]).find((x) => x !== undefined);
    expect(Number(semi)).toBeGreaterThanOrEqual(2);
    expect(Number(semi)).toBeLessThan(16);
  });
});
