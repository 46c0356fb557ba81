/**
 * The guest's cloud-init and sh, driven the way a user drives them: a user-data document booted in a
 * simulated VM. What the bootstrap printed (cloud-init-output.log), wrote and ran is read back.
 */
import { gzipSync } from 'node:zlib';
import { RealTimeClock } from '../src/sim/clock.js';
import type { RunnerBroker, RunnerConfigRequest } from '../src/sim/contracts.js';
import { Guests } from '../src/sim/guest.js';
import { Recorder } from '../src/sim/recorder.js';
import { Rng } from '../src/sim/rng.js';
import { parseScenario } from '../src/sim/scenario.js';

const scenario = parseScenario(`
proxmox: {nodes: [{name: pve1}], templates: [{name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}], timings: {boot: 0s, shutdown: 0s}}
github: {repos: [acme/app], timings: {runner_connect: 0s}}
workload: []
`);

/** Boots `userData` and waits until cloud-init is done (finished or powered off). */
async function boot(userData: string) {
  const clock = new RealTimeClock(1000);
  const recorder = new Recorder(() => clock.nowMs(), undefined, true);
  const ctx = { scenario, clock, rng: new Rng(1), recorder };
  const configured: RunnerConfigRequest[] = [];
  const broker: RunnerBroker = {
    configure: (req, done) => (configured.push(req), done({ ok: true, runnerId: 7, clientId: 'c', groupId: 1, groupName: 'Default' })),
    connect: (_c, onExit) => (setImmediate(() => onExit({ reason: 'job-done', jobId: 1, conclusion: 'success' })), 7),
    lost: () => undefined,
  };
  let poweredOff = false;
  const guests = new Guests(ctx, broker, { powerOff: () => (poweredOff = true) });
  guests.started({ vmid: 300, node: 'pve1', name: 'vm-300', userData, image: 9000 });
  for (let i = 0; i < 4000 && !recorder.events.some((e) => /cloud-init finished|powering off|booted without/.test(e.what)); i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
  clock.stop();
  const inside = guests.inside(300);
  return { console: inside?.console ?? [], fs: inside?.fs, execs: inside?.execs ?? [], events: recorder.events.map((e) => e.what), configured, poweredOff };
}

const doc = (body: object) => `#cloud-config\n${JSON.stringify(body)}\n`;

describe('simulated cloud-init', () => {
  it('writes write_files with their encodings, modes, owners, append and defer, in cloud-init order', async () => {
    const r = await boot(doc({
      bootcmd: ['cat /etc/early || echo "bootcmd: not yet written"'],
      write_files: [
        { path: '/etc/early', content: 'plain\n' },
        { path: '/etc/b64', content: Buffer.from('from b64\n').toString('base64'), encoding: 'b64', permissions: '0640', owner: 'runner:runner' },
        { path: '/etc/gz', content: gzipSync('from gzip\n').toString('base64'), encoding: 'gzip+base64' },
        { path: '/etc/early', content: 'appended\n', append: true },
        { path: '/etc/late', content: 'deferred\n', defer: true },
      ],
      runcmd: ['cat /etc/early /etc/b64 /etc/gz /etc/late'],
    }));
    expect(r.console).toEqual(['cat: /etc/early: No such file or directory', 'bootcmd: not yet written', 'plain', 'appended', 'from b64', 'from gzip', 'deferred']);
    expect(r.fs?.read('/etc/b64')).toMatchObject({ mode: 0o640, owner: 'runner', group: 'runner' });
    expect(r.fs?.read('/etc/gz')).toMatchObject({ mode: 0o644, owner: 'root' });
  });

  it('a write_files entry with an unknown owner fails the module: later entries are not written, runcmd still runs', async () => {
    const r = await boot(doc({ write_files: [{ path: '/etc/a', content: 'a', owner: 'nobody-here' }, { path: '/etc/b', content: 'b' }], runcmd: ['echo ran'] }));
    expect(r.fs?.read('/etc/b')).toBeUndefined();
    expect(r.console).toEqual(["cloud-init: Failed to run module write_files (getpwnam(): name not found: 'nobody-here')", 'ran']);
  });

  it('runcmd is one sh script without set -e: a failing command does not stop the next; set -e in it does', async () => {
    const r = await boot(doc({ runcmd: [['false'], 'echo after', 'frobnicate --now'] }));
    expect(r.console).toEqual(['after', 'sh: frobnicate: not found', 'cloud-init: Failed to run module scripts_user (runcmd exited 127)']);
    const e = await boot(doc({ runcmd: ['set -e', 'echo one', 'false', 'echo never'] }));
    expect(e.console).toEqual(['one', 'cloud-init: Failed to run module scripts_user (runcmd exited 1)']);
  });

  it('shell: assignments, quotes, expansions, &&, ||, ;, export, source, cd, output redirection', async () => {
    const r = await boot(doc({
      write_files: [
        { path: '/etc/app.env', content: 'URL=https://github.com/acme/app\nNAME="my runner"\n' },
        { path: '/usr/local/bin/show', content: '#!/bin/sh\necho "X=$X Y=$Y args=$# first=$1"\n', permissions: '0755' },
        { path: '/usr/local/bin/noexec', content: '#!/bin/sh\necho hi\n' },
      ],
      runcmd: [
        'A=1; B="x $A"; echo "$B" \'${A}\' ${C:-dflt} "${UNSET}"end',
        '. /etc/app.env && echo "$URL" "$NAME"',
        'X=1; Y=2; export Y; show "a b" c',
        'Z=3 show',
        'cd /opt/actions-runner && echo "hello" > note.txt && echo more >> note.txt; cat note.txt',
        'false || echo recovered; true && echo chained',
        'noexec || echo "status $?"',
        'echo $(id)',
        'echo "never reached: sh stopped at the line it could not parse"',
      ],
    }));
    expect(r.console).toEqual([
      'x 1 ${A} dflt end',
      'https://github.com/acme/app my runner',
      'X= Y=2 args=2 first=a b',
      'X= Y=2 args=0 first=',
      'hello', 'more',
      'recovered', 'chained',
      'sh: noexec: Permission denied', 'status 126',
      'sh: command substitution ($(…)) and arithmetic ($((…))) are not modelled',
      'cloud-init: Failed to run module scripts_user (runcmd exited 2)',
    ]);
    expect(r.fs?.read('/opt/actions-runner/note.txt')?.content).toBe('hello\nmore\n');
  });

  it('sudo resets the environment, runuser keeps it, su - gives a login shell; only root may do them', async () => {
    const r = await boot(doc({
      write_files: [{ path: '/usr/local/bin/who', content: '#!/bin/sh\necho "$USER home=$HOME pwd=$PWD T=$T"\n', permissions: '0755' }],
      runcmd: [
        'export T=secret; cd /tmp',
        'sudo -u runner who', 'sudo -E -u runner who', 'sudo -u runner T=given who', 'runuser -u runner -- who', "su - runner -c 'echo $USER $HOME; who'",
        "runuser -u runner -- runuser -u root -- who",
      ],
    }));
    expect(r.console).toEqual([
      'runner home=/home/runner pwd= T=', 'runner home=/home/runner pwd= T=secret', 'runner home=/home/runner pwd= T=given', 'runner home=/home/runner pwd= T=secret',
      'runner /home/runner', 'runner home=/home/runner pwd= T=',
      'runuser: may not be used by non-root users',
      'cloud-init: Failed to run module scripts_user (runcmd exited 1)',
    ]);
  });

  it('allow-listed commands have no effect and succeed; poweroff powers the VM off', async () => {
    const r = await boot(doc({ runcmd: ['systemctl enable --now qemu-guest-agent', 'apt-get install -y jq', 'logger hello', 'echo before', 'poweroff', 'echo never'] }));
    expect(r.console).toEqual(['before']);
    expect(r.poweredOff).toBe(true);
    expect(r.events).toContain('vm 300 powering off (poweroff)');
  });

  it('power_state powers off after runcmd, unless its condition fails', async () => {
    expect((await boot(doc({ runcmd: ['echo x'], power_state: { mode: 'poweroff' } }))).poweredOff).toBe(true);
    expect((await boot(doc({ runcmd: ['echo x'], power_state: { mode: 'poweroff', condition: 'false' } }))).poweredOff).toBe(false);
  });

  it.each([
    ['not #cloud-config', 'runcmd: [[poweroff]]\n', 'starts with neither #cloud-config nor #!'],
    ['invalid YAML', '#cloud-config\nruncmd: [[poweroff\n', 'is not valid YAML'],
  ])('ignores user-data that is %s (nothing runs)', async (_w, userData, why) => {
    const r = await boot(userData);
    expect(r.poweredOff).toBe(false);
    expect(r.execs).toEqual([]);
    expect(r.events.some((e) => e.startsWith('vm 300 booted without a runner: ') && e.includes(why))).toBe(true);
  });

  it('a #! user-data script runs as the user script', async () => {
    const r = await boot('#!/bin/sh\necho "from a script"\n');
    expect(r.console).toEqual(['from a script']);
  });
});
