export { GithubSim, type GithubAppCredentials } from './github-sim.js';
export type { JobSpec } from './model.js';
export { SECONDARY_BLOCK_MS } from './http/secondary-limit.js';
