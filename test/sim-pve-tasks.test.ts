/**
 * Contract: GET /nodes/{node}/tasks of the simulated Proxmox against pve-manager PVE/API2/Tasks.pm
 * node_tasks, through HTTP: the active list (running tasks, the UPID's whole user, status RUNNING),
 * the archive (newest first, a token's user split into user and tokenid), visibility (everything
 * with Sys.Audit on /nodes/<node>, else only one's own) and the filters. Scenario time is a manual
 * clock: the clones run until the test moves time past their end.
 */
import { BASIC_CLUSTER, startPve, type PveHarness } from './helpers/pve-sim.js';
import { ManualClock } from './helpers/manual-clock.js';

type Entry = Record<string, unknown>;
const OURS = 'pve-runners@pve!daemon';

async function open(extra = ''): Promise<{ h: PveHarness; clock: ManualClock; ours: string; alices: string }> {
  const clock = new ManualClock();
  const h = await startPve(`${BASIC_CLUSTER}${extra ? `\n${extra}` : ''}`, { clock });
  const c = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=210&name=ci-210-ab12&pool=pve-runners' });
  expect(c.status).toBe(200);
  clock.advance(100);
  const alices = h.sim.personClones({ user: 'alice@pam', source: 9000, newid: 207, name: 'alice-vm', durationMs: 5_000 });
  return { h, clock, ours: c.json.data as string, alices };
}

const list = async (h: PveHarness, query: string, node = 'pve1') => {
  const r = await h.raw('GET', `/nodes/${node}/tasks${query ? `?${query}` : ''}`);
  expect([query, r.status]).toEqual([query, 200]);
  return r.json.data as Entry[];
};
const upids = (l: Entry[]) => l.map((e) => e.upid);

describe('GET /nodes/{node}/tasks with the default grants (Sys.Audit on /nodes: every task of the node)', () => {
  let h: PveHarness;
  let clock: ManualClock;
  let ours: string;
  let alices: string;
  beforeAll(async () => ({ h, clock, ours, alices } = await open()));
  afterAll(async () => h.close());

  it('while both clones run: the active list shows them with the UPID\'s user; the archive nothing yet', async () => {
    const active = await list(h, 'source=active&typefilter=qmclone');
    expect(active.map((e) => [e.upid, e.type, e.id, e.user, e.status, 'tokenid' in e, 'endtime' in e])).toEqual(
      expect.arrayContaining([
        [ours, 'qmclone', '9000', OURS, 'RUNNING', false, false],
        [alices, 'qmclone', '9000', 'alice@pam', 'RUNNING', false, false],
      ]),
    );
    expect(active).toHaveLength(2);
    expect(Object.keys(active[0]!).sort()).toEqual(['id', 'node', 'pid', 'pstart', 'starttime', 'status', 'type', 'upid', 'user']);
    const table: Array<[string, unknown[]]> = [
      ['', []], // the default source is the archive
      ['source=archive', []],
      ['source=active&typefilter=qmstart', []],
      ['source=active&vmid=9000', [ours, alices].sort()],
      ['source=active&vmid=9001', []],
      ['source=active&userfilter=ALICE', [alices]],
      ['source=active&userfilter=pve-runners@pve!daemon', [ours]],
      ['source=all&typefilter=qmclone', [ours, alices].sort()],
    ];
    for (const [q, want] of table) expect([q, upids(await list(h, q)).sort()]).toEqual([q, want]);
    expect(await list(h, 'source=active', 'pve2')).toEqual([]);
    // start skips, limit stops: one each
    const first = upids(await list(h, 'source=active&limit=1'));
    const second = upids(await list(h, 'source=active&start=1'));
    expect(first).toHaveLength(1);
    expect([...first, ...second].sort()).toEqual([ours, alices].sort());
    expect(await list(h, 'source=active&limit=0')).toEqual([]);
  });

  it('once they end: gone from the active list; archived newest first, the token split into user and tokenid', async () => {
    clock.advance(5_000);
    expect(await list(h, 'source=active')).toEqual([]);
    const archive = await list(h, 'typefilter=qmclone');
    expect(archive.map((e) => [e.upid, e.user, e.tokenid, e.status, typeof e.endtime])).toEqual([
      [alices, 'alice@pam', undefined, 'OK', 'number'],
      [ours, 'pve-runners@pve', 'daemon', 'OK', 'number'],
    ]);
    // userfilter matches the split user: the whole token id no longer matches an archived task
    expect(await list(h, 'userfilter=pve-runners@pve!daemon')).toEqual([]);
    expect(upids(await list(h, 'userfilter=pve-runners@pve&typefilter=qmclone'))).toEqual([ours]);
    expect(await list(h, 'statusfilter=error')).toEqual([]);
    expect(await list(h, 'errors=1&typefilter=qmclone')).toEqual([]);
    const bad = await h.raw('GET', '/nodes/pve1/tasks?statusfilter=broken');
    expect([bad.status, bad.json.errors]).toEqual([400, { statusfilter: "invalid format - invalid status 'broken'\n" }]);
    const src = await h.raw('GET', '/nodes/pve1/tasks?source=running');
    expect(src.status).toBe(400);
  });
});

describe('GET /nodes/{node}/tasks without Sys.Audit on /nodes', () => {
  let h: PveHarness;
  let clock: ManualClock;
  let ours: string;
  beforeAll(async () => ({ h, clock, ours } = await open('access:\n  revoke: [{path: /nodes}]')));
  afterAll(async () => h.close());

  it('lists only its own tasks, active and archived; someone else\'s clone is not there', async () => {
    expect(upids(await list(h, 'source=active&typefilter=qmclone'))).toEqual([ours]);
    expect(upids(await list(h, 'source=active&userfilter=alice'))).toEqual([]);
    clock.advance(5_000);
    expect(upids(await list(h, 'typefilter=qmclone'))).toEqual([ours]);
  });
});
