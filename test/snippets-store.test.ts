import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonEnv } from '../src/cli/demo.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';
import { DirSnippetStore } from '../src/snippets/store.js';
import { ROOT, runCli } from './helpers/cli.js';

describe('snippet store', () => {
  it('writes snippets with mode 0600, leaving no temporary file, per node when the path holds {node}', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pvr-snip-'));
    const store = new DirSnippetStore(join(root, '{node}', 'snippets'), ['pve1', 'pve2'], 'local');
    await store.write('pve2', 'pvr-ubuntu-200-ab12.yaml', '#cloud-config\n');
    const file = join(root, 'pve2', 'snippets', 'pvr-ubuntu-200-ab12.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('#cloud-config\n');
    expect(readdirSync(join(root, 'pve2', 'snippets'))).toEqual(['pvr-ubuntu-200-ab12.yaml']);
    expect(store.volid('pvr-ubuntu-200-ab12.yaml')).toBe('local:snippets/pvr-ubuntu-200-ab12.yaml');
  });

  it('replaces an existing snippet whole and lists only ours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvr-snip-'));
    const store = new DirSnippetStore(dir, ['pve1'], 'cephfs');
    writeFileSync(join(dir, 'user-notes.yaml'), 'not ours');
    await store.write('pve1', 'pvr-a-200-aaaa.yaml', 'old');
    await store.write('pve1', 'pvr-a-200-aaaa.yaml', 'new');
    expect(readFileSync(join(dir, 'pvr-a-200-aaaa.yaml'), 'utf8')).toBe('new');
    expect(await store.list()).toEqual([{ node: '', file: 'pvr-a-200-aaaa.yaml' }]);
    await store.remove('pve1', 'pvr-a-200-aaaa.yaml');
    await store.remove('pve1', 'pvr-a-200-aaaa.yaml'); // already gone is fine
    expect(await store.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual(['user-notes.yaml']);
  });
});

/** What a SIGKILL between open and rename leaves: the temp file write() makes, mode 0600. */
const TEMP = '.pvr-ubuntu-2404-207-ab12.yaml.0a1b2c3d.tmp';
/** Not of our file shapes: never even listed. */
const FOREIGN = ['.pvr-notes.tmp', '.other.yaml.0a1b2c3d.tmp', '.pvr-ubuntu-2404-207-ab12.yaml.tmp', '.pvr-ubuntu-2404-207-ab12.yaml.0a1b2c3d.tmp.bak', 'notes.yaml'];
/** Of our file shapes, but no pool's runner name: listed, and left alone by the planner. */
const NO_POOLS = ['.pvr-other-207-ab12.yaml.0a1b2c3d.tmp', 'pvr-other-207-ab12.yaml'];

describe('temp files a killed write leaves', () => {
  it('are listed with our snippets; files of other shapes are not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvr-snip-'));
    writeFileSync(join(dir, TEMP), 'RUNNER_JITCONFIG', { mode: 0o600 });
    for (const f of [...FOREIGN, ...NO_POOLS]) writeFileSync(join(dir, f), 'not ours');
    const store = new DirSnippetStore(dir, ['pve1'], 'local');
    await store.write('pve1', 'pvr-ubuntu-2404-206-cd34.yaml', '#cloud-config\n');
    expect((await store.list()).map((s) => s.file).sort()).toEqual([TEMP, ...NO_POOLS, 'pvr-ubuntu-2404-206-cd34.yaml'].sort());
  });

  it('are removed by the daemon once their VM is gone, like a snippet; foreign files stay', async () => {
    // No job arrives while the test runs: the tick has nothing to do but clean up.
    const scenario = readFileSync(join(ROOT, 'scenarios/demo.yaml'), 'utf8').replace(/^workload:\n(?:  .*\n)+/m, 'workload:\n  - {at: 10h, repo: acme/app, jobs: 1, labels: [self-hosted, linux, ubuntu-24.04], duration: 60s}\n');
    const sim = new Simulator(parseScenario(scenario), { speed: 20 });
    try {
      const e = await sim.start();
      const dir = e.proxmox.snippetsDirs.pve1!;
      writeFileSync(join(dir, TEMP), 'RUNNER_JITCONFIG', { mode: 0o600 });
      for (const f of [...FOREIGN, ...NO_POOLS]) writeFileSync(join(dir, f), 'not ours');
      const r = await runCli(['once'], daemonEnv(e, join(ROOT, 'pools.yaml'), 20), { timeoutMs: 30_000 });
      expect(r.stderr).toContain('snippet removed: its VM no longer exists');
      expect(r.code).toBe(0);
      expect(readdirSync(dir).sort()).toEqual([...FOREIGN, ...NO_POOLS].sort());
    } finally {
      await sim.stop();
    }
  });
});
