/**
 * The demo follows the daemon's ticks through its log lines; whatever LOG_FORMAT and LOG_LEVEL the
 * caller's environment (or `env`) hold, the demo settles once the workload is done.
 */
import { runDemo } from '../src/cli/demo.js';
import { scenarioFile } from './helpers/e2e.js';
import { CLI, ROOT, runCli } from './helpers/cli.js';
import { join } from 'node:path';

const SHORT = `seed: 1
time_limit: 600s
proxmox:
  nodes:
    - {name: pve1, memory_mb: 65536}
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: windows-2022-runner-template, vmid: 9002, node: pve1}
  timings: {clone: 1s, config: 200ms, start: 1s, boot: 5s, stop: 1s, shutdown: 1s, destroy: 1s}
github:
  repos: [acme/app]
  timings: {runner_connect: 1s}
workload:
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-24.04], duration: 10s}
`;

describe('demo whatever the log settings', () => {
  it.each([
    ['LOG_FORMAT=text', { LOG_FORMAT: 'text' }],
    ['LOG_LEVEL=warn', { LOG_LEVEL: 'warn' }],
    ['LOG_FORMAT=text LOG_LEVEL=error', { LOG_FORMAT: 'text', LOG_LEVEL: 'error' }],
  ])('settles with %s for the daemon', async (_name, env) => {
    const report = await runDemo({
      scenario: scenarioFile(SHORT),
      pools: join(ROOT, 'pools.yaml'),
      speed: 20,
      daemonArgv: [process.execPath, CLI],
      baseEnv: { ...process.env, ...env },
      env,
    });
    expect(report.finished).toBe(true);
    expect(report.jobs).toMatchObject({ total: 2, completed: 2 });
  });

  it('settles from the command line with LOG_FORMAT=text in the environment', async () => {
    const r = await runCli(['demo', '--scenario', scenarioFile(SHORT), '--speed', '20', '--json'], { LOG_FORMAT: 'text', LOG_LEVEL: 'error' }, { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ finished: true });
  });
});
