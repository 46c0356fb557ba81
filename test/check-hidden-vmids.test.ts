/**
 * `check` names the VMIDs of the ranges that the token cannot see (nextid calls them taken, the
 * listing does not show them), what that costs, and the fix.
 */
import { probeProxmox } from '../src/check/proxmox.js';
import { formatCheckLine } from '../src/check/result.js';
import type { Config } from '../src/config/types.js';
import type { PveVm } from '../src/proxmox/api.js';
import { FakeProxmox, pveError, type Call } from './helpers/fakes.js';
import { GiB, pool } from './helpers/planner-fixtures.js';

const ubuntu = pool({ name: 'ubuntu', vmidRange: { lo: 200, hi: 205 }, maxRunners: 4, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } });
const gpu = { ...pool({ name: 'gpu', vmidRange: { lo: 300, hi: 301 }, maxRunners: 2, nodes: ['pve1'], template: { kind: 'vmid', vmid: 9000 } }), index: 1 };
const config: Config = { file: 'pools.yaml', path: '/etc/pve-runners/pools.yaml', github: { repos: ['acme/app'], orgs: [] }, maxTotalRunners: 8, pools: [ubuntu, gpu] };
const vm = (vmid: number, name: string, template = false): PveVm => ({ kind: 'qemu', vmid, node: 'pve1', name, status: 'stopped', template, tags: [], maxmem: 2 * GiB, uptime: 0 });

async function check(setup: (px: FakeProxmox) => void) {
  const calls: Call[] = [];
  const px = new FakeProxmox(calls);
  px.nodes.push({ node: 'pve1', online: true, maxmem: 64 * GiB, mem: 0 });
  px.vms.set(9000, vm(9000, 'tpl', true));
  setup(px);
  const r = await probeProxmox({ proxmox: px, config, url: 'https://pve1:8006/api2/json', tokenId: 'pve-runners@pve!ci', storage: 'local' });
  return { lines: r.lines.map(formatCheckLine), calls };
}

describe('check: VMIDs the token cannot see', () => {
  it('names them per pool, with what they cost and the fix, and asks for no privilege on them', async () => {
    const { lines, calls } = await check((px) => {
      px.vms.set(204, vm(204, 'visible-foreign'));
      for (const id of [201, 202, 300]) px.hidden.set(id, vm(id, 'secret'));
    });
    const hidden = lines.filter((l) => l.includes('VMIDs the token cannot see'));
    expect(hidden).toEqual([
      "! pool ubuntu: VMIDs the token cannot see: 201-202 in 200-205 are taken (Proxmox's nextid says so) by VMs the token may not list (no VM.Audit on them): `run` skips those VMIDs, and counts them against max_runners 4 and max_total_runners only while clone tasks of its own token that it is not awaiting are running (a clone of its own from before a restart is invisible until it ends), one for each such task — or, when it cannot list the tasks, each for the clone timeout after it first meets it — so up to 2 fewer runners for that long; only 3 VMIDs are left, fewer than max_runners 4 — fix: grant the token read-only VM.Audit on /vms so it sees every VM and can tell whose they are (`pveum acl modify /vms --roles PVEAuditor --users pve-runners@pve --tokens 'pve-runners@pve!ci'`), or move those VMs to VMIDs outside the range, or change pools[0].vmid_range",
      expect.stringMatching(/^! pool gpu: VMIDs the token cannot see: 300 in 300-301 are taken .*so up to 1 fewer runners for that long; only 1 VMIDs are left, fewer than max_runners 2 — fix: .*change pools\[1\]\.vmid_range$/),
    ]);
    // the visible foreign VM keeps its own line, and its usable count accounts for the hidden ones
    expect(lines).toContainEqual(expect.stringMatching(/^! pool ubuntu: VMID range 200-205: holds 1 VM\(s\) that are not ours: 204 \(visible-foreign on pve1\); only 3 VMIDs are left/));
    // one probe per unlisted VMID of the ranges, none for listed ones
    expect(calls.filter((c) => c.startsWith('pve nextid')).map((c) => Number(c.split(' ')[2])).sort()).toEqual([200, 201, 202, 203, 205, 300, 301]);
    const privileges = lines.find((l) => l.startsWith('✗ pool ubuntu: token privileges'))!;
    expect(privileges).toContain('on /vms/200, /vms/203, /vms/205 — fix');
  });

  it('says nothing of them when the token sees every VM, and says so when Proxmox cannot be asked', async () => {
    const clean = await check(() => {});
    expect(clean.lines.filter((l) => l.includes('VMIDs the token cannot see'))).toEqual([]);
    expect(clean.lines).toContain('✓ pool ubuntu: VMID range 200-205 (holds no VM that is not ours)');
    const unasked = await check((px) => px.failNext.set('nextid', [pveError(500, 'proxy loop detected')]));
    expect(unasked.lines).toContainEqual(expect.stringMatching(/^! VMIDs the token cannot see: cannot ask Proxmox which VMIDs of the ranges are taken/));
  });
});
