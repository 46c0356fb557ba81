/** The scenario keys for error shapes and timings: realistic defaults, and refusal of shapes that do not exist. */
import { parseScenario } from '../src/sim/scenario.js';

const base = (proxmoxExtra = '', githubExtra = '') => `
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
${proxmoxExtra}
github:
  repos: [acme/app]
${githubExtra}
workload: []
`;

describe('scenario: error shapes and full-clone time', () => {
  it('defaults to what the real services do: minutes for a full clone, every 5xx body and secondary-limit shape', () => {
    const s = parseScenario(base());
    expect(s.proxmox.timings.fullCloneMs).toBe(180_000);
    expect(s.proxmox.timings.cloneMs).toBe(2_000); // the linked clone's time keeps its meaning
    expect(s.github.errorShapes).toEqual({ httpErrorBodies: ['json', 'html', 'empty'], secondaryStatuses: [403, 429], secondaryNoRetryAfterRate: 0.5 });
    expect(s.proxmox.faults.task_warning_rate).toBeUndefined();
    expect(Object.keys(s.github.faults)).toEqual(['endpoints']); // shapes are not fault rates
  });

  it('takes each per scenario, task_warning_rate per endpoint too', () => {
    const s = parseScenario(base(
      '  timings: {full_clone: 45s}\n  faults: {task_warning_rate: 0.1, endpoints: {"DELETE /nodes/{node}/qemu/{vmid}": {task_warning_rate: 1}}}',
      '  faults: {http_error_bodies: [html], secondary_rate_limit_statuses: [429], secondary_rate_limit_no_retry_after_rate: 1}',
    ));
    expect(s.proxmox.timings.fullCloneMs).toBe(45_000);
    expect(s.proxmox.faults).toMatchObject({ task_warning_rate: 0.1, endpoints: { 'DELETE /nodes/{node}/qemu/{vmid}': { task_warning_rate: 1 } } });
    expect(s.github.errorShapes).toEqual({ httpErrorBodies: ['html'], secondaryStatuses: [429], secondaryNoRetryAfterRate: 1 });
  });

  it.each([
    ['secondary_rate_limit_statuses: [500]', /secondary_rate_limit_statuses/],
    ['http_error_bodies: [xml]', /http_error_bodies/],
    ['http_error_bodies: []', /http_error_bodies/],
    ['secondary_rate_limit_no_retry_after_rate: 2', /secondary_rate_limit_no_retry_after_rate/],
  ])('refuses %s', (bad, where) => {
    expect(() => parseScenario(base('', `  faults: {${bad}}`))).toThrow(where);
  });
});
