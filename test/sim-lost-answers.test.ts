import { memoryLogger } from '../src/log.js';
import { createGithubClient } from '../src/github/octokit.js';
import { OctokitGithubApi } from '../src/github/octokit-api.js';
import { createProxmoxClient } from '../src/proxmox/client.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';

const scenario = parseScenario(`
proxmox:
  nodes: [{name: pve1}]
  templates: [{name: tpl, vmid: 9000, node: pve1}]
  timings: {clone: 1s}
  faults:
    endpoints:
      "POST /nodes/{node}/qemu/{vmid}/clone": {lost_answer_rate: 1}
github:
  repos: [acme/app]
  faults:
    endpoints:
      "POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig": {lost_answer_rate: 1}
workload: []
`);

describe('simulated lost answers', () => {
  it('carry the request out, then drop the connection: the client sees a network error, the effect is real', async () => {
    const sim = new Simulator(scenario, { speed: 50 });
    const e = await sim.start();
    try {
      const px = createProxmoxClient({ url: e.proxmox.url, tokenId: e.proxmox.tokenId, tokenSecret: e.proxmox.tokenSecret, verifySsl: true });
      await expect(px.clone('pve1', 9000, { newid: 200, name: 'ubuntu-200-ab12', description: 'x', full: false, pool: 'pve-runners' })).rejects.toMatchObject({ status: 599 });
      expect(sim.pve.ourVms().map((v) => v.vmid)).toEqual([200]);
      // no blind retry of the POST: exactly one clone reached Proxmox
      expect(sim.ctx.recorder.requests.get('proxmox POST /nodes/{node}/qemu/{vmid}/clone')?.count).toBe(1);

      const { log } = memoryLogger();
      const gh = new OctokitGithubApi(createGithubClient({ apiUrl: e.github.url, auth: { kind: 'token', token: e.github.token }, log, timeScale: 50 }));
      await expect(gh.generateJitConfig({ kind: 'repo', owner: 'acme', repo: 'app' }, { name: 'ubuntu-200-ab12', labels: ['self-hosted'], runnerGroupId: 1 })).rejects.toBeDefined();
      // the registration exists although no answer said so; Octokit's retries then met 409s
      expect(sim.github.leaks().registrations).toEqual(['ubuntu-200-ab12']);
    } finally {
      await sim.stop();
    }
  });
});
