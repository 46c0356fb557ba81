/**
 * The cluster and pool the tier e2e tests (hot, warm, schedule) share: two 256 GB nodes, each with
 * a copy of the ubuntu-24.04 template, linked clones of 3 s, boot 25 s, runner connect 3 s; one
 * ubuntu-24.04 pool over both nodes. Each test adds its own seed, workload and tier keys.
 */
export const TWO_NODES = `
proxmox:
  nodes: [{name: pve1, memory_mb: 262144}, {name: pve2, memory_mb: 262144}]
  templates:
    - {name: ubuntu-2404-runner-template, vmid: 9000, node: pve1}
    - {name: ubuntu-2404-runner-template, vmid: 9100, node: pve2}
  timings: {clone: 3s, config: 200ms, start: 2s, boot: 25s, stop: 1s, destroy: 2s}
`;

/** pools.yaml with one ubuntu-24.04 pool serving `repos`, its own keys (indented 4) appended. */
export function tierPools(repos: string[], maxRunners: number, poolKeys: string): string {
  return `
github:
  repos: [${repos.join(', ')}]
max_total_runners: ${maxRunners}
pools:
  - name: ubuntu-2404
    template: ubuntu-2404-runner-template
    labels: [self-hosted, linux, x64, ubuntu-24.04]
    vmid_range: [200, 229]
    max_runners: ${maxRunners}
    nodes: [pve1, pve2]
    user_data: cloud-init/ubuntu-2404.yaml
${poolKeys}`;
}
