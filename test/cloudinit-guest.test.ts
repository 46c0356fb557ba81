/**
 * The simulator's guest boots from snippets rendered from the shipped cloud-init templates, so the
 * end-to-end tests exercise the real templates: cloud-init and the image's run-once must hand the
 * runner the same credentials that went in (JIT: run.sh's; token: config.sh's, with exactly the
 * daemon's labels since run-once passes --no-default-labels).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUserData, type Registration } from '../src/cloudinit/render.js';
import { RealTimeClock } from '../src/sim/clock.js';
import type { RunnerBroker, RunnerConfigRequest, RunnerCredentials } from '../src/sim/contracts.js';
import { Guests } from '../src/sim/guest.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';

const DIR = join(process.cwd(), 'cloud-init');
const templates = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

const registrations: Registration[] = [
  { kind: 'jit', encodedJitConfig: 'eyJydW5uZXIiOiJ7fSJ9' },
  { kind: 'token', url: 'https://github.com/acme/app', token: 'AABF3JGZDX3P5PMEXLND6TS6FCWO6', labels: ['self-hosted', 'linux', '$(id)', 'a"b\nc'] },
];

async function boot(file: string, userData: string) {
  const windows = file.startsWith('windows');
  const scenario = parseScenario(`
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: ${windows ? 'windows-2022' : 'ubuntu-2404'}-runner-template, vmid: 9000, node: pve1}]
  timings: {boot: 0s, shutdown: 0s}
github: {repos: [acme/app], timings: {runner_connect: 0s}}
workload: []
`);
  const clock = new RealTimeClock(1000);
  const ctx = { scenario, clock, rng: new Rng(1), recorder: new Recorder(() => clock.nowMs(), undefined, true) };
  const configured: RunnerConfigRequest[] = [];
  const connected: RunnerCredentials[] = [];
  const broker: RunnerBroker = {
    configure: (req, done) => {
      configured.push(req);
      done({ ok: true, runnerId: 7, clientId: 'c', groupId: 1, groupName: 'Default' });
    },
    connect: (creds, onExit) => {
      connected.push(creds);
      setImmediate(() => onExit({ reason: 'job-done', jobId: 1, conclusion: 'success' }));
      return 7;
    },
    lost: () => undefined,
  };
  let off!: () => void;
  const poweredOff = new Promise<void>((r) => (off = r));
  const guests = new Guests(ctx, broker, { powerOff: () => off() });
  guests.started({ vmid: 205, node: 'pve1', name: 'ubuntu-2404-205-k3x9', userData, image: 9000 });
  await poweredOff;
  clock.stop();
  return { configured, connected };
}

describe.each(templates)('simulated guest reading %s', (file) => {
  it.each(registrations.map((r) => [r.kind, r] as const))('hands the runner the %s credentials, then powers off', async (_kind, registration) => {
    const text = renderUserData(readFileSync(join(DIR, file), 'utf8'), { runnerName: 'ubuntu-2404-205-k3x9', vmid: 205, pool: 'ubuntu-2404', node: 'pve1', registration }, file);
    const { configured, connected } = await boot(file, text);
    if (registration.kind === 'jit') {
      expect(configured).toEqual([]);
      expect(connected).toEqual([registration]);
    } else {
      expect(configured).toEqual([expect.objectContaining({ url: registration.url, token: registration.token, name: 'ubuntu-2404-205-k3x9', labels: registration.labels, ephemeral: true, replace: true })]);
      expect(connected).toEqual([{ kind: 'configured', runnerId: 7, clientId: 'c' }]);
    }
  });
});
