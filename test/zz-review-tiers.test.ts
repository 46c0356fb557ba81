import { describe, expect, it } from '@jest/globals';
import type { PoolConfig } from '../src/config/types.js';
import type { Action } from '../src/planner/actions.js';
import { plan } from '../src/planner/plan.js';
import { config, inFlight, job, MIN, NOW, observation, ourVm, pool, REPO, runnerFor, template, ULABELS } from './helpers/planner-fixtures.js';

const templates = [template('ubuntu-template', 9000, 'pve1'), template('ubuntu-template', 9100, 'pve2'), template('gpu-template', 9101, 'pve2')];
const warmVm = (p: PoolConfig, vmid: number, node = 'pve1') => {
  const vm = ourVm(p, vmid, { status: 'stopped', uptimeS: 0, node, ageMs: 5 * MIN, scope: '' });
  return { ...vm, meta: { ...vm.meta!, warm: { template: node === 'pve1' ? 9000 : (p.name === 'gpu' ? 9101 : 9100) } } };
};
const show = (as: Action[]) => as.map((a) => `${a.kind} ${'vmid' in a ? a.vmid : ''} ${'purpose' in a ? a.purpose : ''} ${'file' in a ? a.file : ''}${'runnerId' in a ? a.runnerId : ''} :: ${a.reason.slice(0, 90)}`);

describe('review', () => {
  it('A: give-way removes a warm VM that the same tick starts', () => {
    const p = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot: 0, warm: 2 }, maxRunners: 2 });
    const w1 = warmVm(p, 200), w2 = warmVm(p, 201);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, w1, w2], jobs: [job(ULABELS, { id: 1 }), job(ULABELS, { id: 2 }), job(ULABELS, { id: 3 })] }));
    console.log('A', show(out.actions));
  });
  it('B: total cap: older job of another pool capped, warm VM of job pool skipped and destroyed', () => {
    const a = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], maxRunners: 10, vmidRange: { lo: 200, hi: 209 } });
    const b = pool({ name: 'gpu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04', 'gpu'], vmidRange: { lo: 300, hi: 309 }, maxRunners: 10, nodes: ['pve2'], sizes: { hot: 0, warm: 1 }, template: { kind: 'name', name: 'gpu-template' } });
    const busy = [200, 201, 202].map((id) => { const vm = ourVm(a, id); return { vm, r: runnerFor(vm, { busy: true }) }; });
    const w = warmVm(b, 300, 'pve2');
    const out = plan(config({ pools: [a, b], maxTotalRunners: 4 }), observation({ vms: [...templates, ...busy.map((x) => x.vm), w], runners: busy.map((x) => x.r), jobs: [job(ULABELS, { id: 10, createdAt: '2026-11-24T11:00:00Z' }), job([...ULABELS, 'gpu'], { id: 11, createdAt: '2026-11-24T11:01:00Z' })] }));
    console.log('B', show(out.actions), out.pools.map((x) => x.limitedBy));
  });
  it('C: after a crash mid start-warm: leftover snippet + registration, same VM started again the same tick', () => {
    const p = pool({ name: 'ubuntu', labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'], sizes: { hot: 0, warm: 1 } });
    const w = warmVm(p, 200);
    const out = plan(config({ pools: [p] }), observation({ vms: [...templates, w], runners: [runnerFor(w, { status: 'offline' })], snippets: [{ node: 'pve1', file: `pvr-${w.name}.yaml` }] as never, jobs: [job(ULABELS, { id: 1 })] }));
    console.log('C', show(out.actions));
  });
});
