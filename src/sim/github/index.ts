export { GithubSim, type GithubAppCredentials } from './github-sim.js';
export type { JobSpec } from './model.js';
