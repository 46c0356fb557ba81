/** Placement of pools with delivery: sftp skips a node SFTP cannot reach, as an offline one; other deliveries do not care. */
import type { CreateAction } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import { config, job, nodes, observation, pool } from './helpers/planner-fixtures.js';

const LABELS = ['self-hosted', 'linux', 'x64', 'ubuntu'];
const creates = (p: ReturnType<typeof plan>) => p.actions.filter((a): a is CreateAction => a.kind === 'create');

describe('planner: delivery: sftp', () => {
  const sftp = pool({ name: 'ubuntu', labels: LABELS, template: { kind: 'name', name: 'ubuntu-template' }, delivery: 'sftp' });
  const dir = pool({ name: 'ubuntu', labels: LABELS, template: { kind: 'name', name: 'ubuntu-template' } });
  // pve1 has the more free memory: placement's first choice
  const down = nodes(['pve1', 64], ['pve2', 32]).map((n) => (n.name === 'pve1' ? { ...n, sftpDown: 'the host key of pve1 is not the one pinned' } : n));

  it('places on the other node when SFTP to the first choice fails', () => {
    const p = plan(config({ pools: [sftp] }), observation({ jobs: [job(LABELS), job(LABELS)], nodes: down }));
    expect(creates(p).map((a) => a.node)).toEqual(['pve2', 'pve2']);
  });

  it('a dir pool still uses that node', () => {
    const p = plan(config({ pools: [dir] }), observation({ jobs: [job(LABELS)], nodes: down }));
    expect(creates(p).map((a) => a.node)).toEqual(['pve1']);
  });

  it('no node reachable: nothing created, and the reason names each node\'s failure', () => {
    const all = down.map((n) => ({ ...n, sftpDown: `cannot connect to ${n.name}` }));
    const p = plan(config({ pools: [sftp] }), observation({ jobs: [job(LABELS)], nodes: all }));
    expect(creates(p)).toEqual([]);
    expect(JSON.stringify(p)).toContain('reachable over SFTP (pve1: cannot connect to pve1; pve2: cannot connect to pve2)');
  });
});
