/**
 * The reload itself: pools.yaml and its user_data templates read by the start-up's loader (with the
 * start-up environment), one info line naming what changed — pools added, removed, and changed with
 * their keys — or every problem at err with file, path and fix, and the configuration kept.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, rereadPools } from '../src/config/index.js';
import type { Config } from '../src/config/types.js';
import { Reloader } from '../src/daemon/reload.js';
import { createLogger } from '../src/log.js';
import { shippedPools, validEnv } from './helpers/cli.js';

function setup() {
  const { dir, pools } = shippedPools();
  const settings = loadSettings(validEnv(pools));
  const lines: Array<{ level: string; message: string }> = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(JSON.parse(l) as { level: string; message: string }) });
  const applied: Config[] = [];
  const reloader = new Reloader({ read: () => rereadPools(settings.env), apply: (c) => applied.push(c), initial: settings.config, clock: { now: () => 1_000, sleep: async () => {} }, log });
  const edit = (f: (t: string) => string) => writeFileSync(pools, f(readFileSync(pools, 'utf8')));
  return { dir, pools, reloader, lines, applied, edit };
}

describe('reload', () => {
  it('valid: applies, and one line names pools added, removed and changed with their keys', () => {
    const { dir, reloader, lines, applied, edit } = setup();
    edit((t) => t
      .replace('vmid_range: [200, 229]', 'vmid_range: [200, 219]')
      .replace(/  - name: windows-2022[\s\S]*$/, '  - name: big\n    template: ubuntu-2404-runner-template\n    labels: [self-hosted, linux, big]\n    vmid_range: [300, 309]\n    user_data: cloud-init/ubuntu-2404.yaml\n')
      .replace('    user_data: cloud-init/ubuntu-2204.yaml\n    cores: 4', '    user_data: cloud-init/ubuntu-2204.yaml\n    cores: 8'));
    writeFileSync(join(dir, 'cloud-init/ubuntu-2404.yaml'), readFileSync(join(dir, 'cloud-init/ubuntu-2404.yaml'), 'utf8') + '\n# edited\n');
    const s = reloader.reload();
    expect(s).toMatchObject({ ok: true, errors: [] });
    expect(applied.map((c) => c.pools.map((p) => p.name))).toEqual([['ubuntu-2404', 'ubuntu-2204', 'big']]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', message: expect.stringMatching(/^reload of .*pools\.yaml: /) });
    const m = lines[0]!.message;
    expect(m).toContain('pools added: big; pools removed: windows-2022 (their VMs are drained');
    expect(m).toContain(`pools changed: ubuntu-2404 [vmid_range (200-229 → 200-219), user_data (${join(dir, 'cloud-init/ubuntu-2404.yaml')} edited)]; ubuntu-2204 [cores]`);
    expect(m).toContain('applies from the next tick (environment variables are not re-read by a reload: change them with systemctl restart)');
  });

  it('unchanged: says so', () => {
    const { reloader, lines, applied } = setup();
    expect(reloader.reload().changes).toBe('nothing changed');
    expect(applied).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/: nothing changed; applies from the next tick/);
  });

  it('invalid (pools.yaml or a template): nothing applied, every problem at err with file, path and fix', () => {
    const { dir, reloader, lines, applied, edit } = setup();
    edit((t) => t.replace('labels: [self-hosted, linux, x64, ubuntu-22.04]', 'labels: [self-hosted, linux, x64, Linux]'));
    writeFileSync(join(dir, 'cloud-init/windows-2022.yaml'), '{{ runner.nosuch }}\n');
    const s = reloader.reload();
    expect(applied).toEqual([]);
    expect(s.ok).toBe(false);
    expect(s.errors).toHaveLength(2);
    const errs = lines.filter((l) => l.level === 'error');
    expect(errs).toHaveLength(3);
    expect(errs[0]!.message).toMatch(/^reload: .*pools\.yaml: pools\[1\]\.labels \(line \d+\): lists 'linux' twice .* — fix: /);
    expect(errs[1]!.message).toMatch(/^reload: .*pools\.yaml: pools\[2\]\.user_data \(line \d+\): .*windows-2022\.yaml.* — fix: /);
    expect(errs[2]!.message).toMatch(/^reload of .*pools\.yaml failed with 2 problem\(s\): still running on the configuration loaded before/);
    // and a later valid reload is compared with what runs, not with the refused file
    edit((t) => t.replace('x64, Linux]', 'x64, ubuntu-22.04]'));
    writeFileSync(join(dir, 'cloud-init/windows-2022.yaml'), readFileSync(join(process.cwd(), 'cloud-init/windows-2022.yaml'), 'utf8'));
    expect(reloader.reload()).toMatchObject({ ok: true, changes: 'nothing changed' });
  });
});
