import type { Simulator } from '../src/sim/simulator.js';
import { leakedSecrets, runE2e, zeroLeaks } from './helpers/e2e.js';
import { poolsFile } from './helpers/pools-variant.js';

/*
 * Issue 12, delivery: guest-agent. The runner's inputs reach the VM only through the QEMU guest
 * agent: the simulator reads every snippets directory before each request and every cloud-init drive
 * at each start, and records each place a JIT config or registration token was seen. A dir pool runs
 * beside the guest-agent pools in the same cluster, so the watch is shown to see what it looks for.
 */
const POOLS = `
github: {repos: [acme/app]}
max_total_runners: 8
defaults: {registration: jit, boot_timeout: 10m, idle_timeout: 15m, max_runners: 3}
pools:
  - {name: agent-linux, template: ubuntu-2404-runner-template, labels: [self-hosted, linux, ubuntu-24.04], vmid_range: [200, 219], nodes: [pve1, pve2], delivery: guest-agent}
  - {name: agent-win, template: windows-2022-runner-template, labels: [self-hosted, windows], vmid_range: [260, 269], nodes: [pve1], delivery: guest-agent, registration: token, max_runners: 2}
  - {name: dir-linux, template: ubuntu-2204-runner-template, labels: [self-hosted, linux, ubuntu-22.04], vmid_range: [230, 239], nodes: [pve1, pve2], user_data: cloud-init/ubuntu-2204.yaml, max_runners: 2}
`;

const scenario = (o: { agent: string; seed: number; faults?: string }) => `
seed: ${o.seed}
time_limit: 3600s
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2204-runner-template, vmid: 9001, node: pve1}
    - {name: windows-2022-runner-template, vmid: 9100, node: pve1}
  access: {guest_agent: true}
  timings: {clone: 2s, start: 1s, boot: 20s, agent: ${o.agent}, stop: 1s, destroy: 1s}
${o.faults ?? ''}
github:
  repos: [acme/app]
workload:
  - {at: 0s, repo: acme/app, jobs: 6, labels: [self-hosted, linux, ubuntu-24.04], duration: 30s}
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, windows], duration: 30s}
  - {at: 0s, repo: acme/app, jobs: 2, labels: [self-hosted, linux, ubuntu-22.04], duration: 30s}
`;

/** Places holding a credential of a VM in `lo..hi` (snippet files are named after the runner: pvr-<prefix>-<vmid>-…). */
const placesOf = (places: string[], prefix: string, lo: number, hi: number) =>
  places.filter((p) => p.includes(`pvr-${prefix}-`) || ((m) => m !== null && Number(m[1]) >= lo && Number(m[1]) <= hi)(/^vm (\d+) /.exec(p)));

let agentErrors = 0;
const countAgentErrors = (s: Simulator) => {
  agentErrors = s.ctx.recorder.requests.get('proxmox POST /nodes/{node}/qemu/{vmid}/agent/ping')?.errors ?? 0;
};

describe('e2e: delivery: guest-agent', () => {
  it('serves every job with no credential ever on Proxmox storage, waiting for a slow agent within boot_timeout', async () => {
    // qemu-ga answers 40 s after the start, long after the 20 s boot: the daemon keeps pinging.
    const { report, logs, secrets } = await runE2e(scenario({ agent: '40s', seed: 12 }), { pools: poolsFile(POOLS), inspect: countAgentErrors });
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    zeroLeaks(report);
    const places = report.secrets_on_storage_details;
    expect(placesOf(places, 'agent-linux', 200, 219)).toEqual([]);
    expect(placesOf(places, 'agent-win', 260, 269)).toEqual([]);
    // the watch does see credentials where dir delivery puts them: snippets and cloud-init drives
    expect(placesOf(places, 'dir-linux', 230, 239).length).toBeGreaterThanOrEqual(4);
    expect(report.secrets_on_storage).toBe(places.length);
    // PVE answered "QEMU guest agent is not running" until the agent came up, and the daemon waited
    expect(agentErrors).toBeGreaterThan(5);
    expect(logs.filter((l) => l.includes('through the guest agent') && l.includes('/etc/pve-runners/runner.env')).length).toBeGreaterThanOrEqual(6);
    expect(logs.filter((l) => l.includes('through the guest agent') && l.includes('C:\\\\ProgramData\\\\pve-runners\\\\runner.env')).length).toBeGreaterThanOrEqual(2);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 900_000);

  it('a file-write cut short is never used: the VM goes, its registration with it, and the job gets another VM', async () => {
    // qemu-ga comes up after the 20 s boot, so run-once --agent is already waiting when a write is cut
    const faults = `  faults:\n    endpoints:\n      'POST /nodes/{node}/qemu/{vmid}/agent/file-write': {agent_write_failure_rate: 0.4}`;
    const cut: number[] = [];
    const ranRunner: number[] = [];
    const { report, logs, secrets } = await runE2e(scenario({ agent: '25s', seed: 5, faults }), {
      pools: poolsFile(POOLS),
      inspect: (s) => {
        const events = s.ctx.recorder.events;
        events.forEach((e, i) => {
          if (!(e.what.includes('guest agent wrote') && e.what.includes('cut short'))) return;
          const vm = /^vm \d+ /.exec(e.what)![0];
          cut.push(Number(vm.split(' ')[1]));
          // what that boot of the VM did next, until its VMID boots again
          const after = events.slice(i + 1);
          const nextBoot = after.findIndex((x) => x.what === `${vm}guest agent up`);
          if ((nextBoot < 0 ? after : after.slice(0, nextBoot)).some((x) => x.what.startsWith(vm) && x.what.includes('is complete; starting the runner'))) ranRunner.push(Number(vm.split(' ')[1]));
        });
      },
    });
    expect(cut.length).toBeGreaterThan(0);
    // no VM whose runner.env was half-written ever started its runner
    expect(ranRunner).toEqual([]);
    expect(report.finished).toBe(true);
    expect(report.jobs.completed).toBe(report.jobs.total);
    zeroLeaks(report);
    expect(placesOf(report.secrets_on_storage_details, 'agent-linux', 200, 219)).toEqual([]);
    expect(logs.some((l) => l.includes('not delivered through the guest agent') && l.includes('stopping the VM'))).toBe(true);
    expect(leakedSecrets(logs, secrets)).toEqual([]);
  }, 900_000);
});
