/**
 * A runner registration for a new VM: a JIT config (default) or a registration token, in the
 * pool's scope and runner group. Minted while the clone runs: a JIT registration whose VM never
 * came is deleted by the executor, or else found offline without a VM by the next ticks.
 */
import type { Registration } from '../cloudinit/render.js';
import { runnerGroupFor, type PoolConfig } from '../config/types.js';
import { describeScope, runnerUrl, type Scope } from '../github/scope.js';
import type { ExecutorDeps } from './execute.js';

type RegistrationDeps = Pick<ExecutorDeps, 'config' | 'github' | 'githubApiUrl' | 'clock' | 'timings' | 'onSecret'>;

export interface Registered {
  registration: Registration;
  /** the JIT registration's id, to delete it if its VM never comes */
  runnerId?: number;
}

export async function register(d: RegistrationDeps, pool: PoolConfig, scope: Scope, name: string, log: (msg: string) => void): Promise<Registered> {
  let registration: Registration;
  let runnerId: number | undefined;
  if (pool.registration === 'jit') {
    const groupId = scope.kind === 'repo' ? 1 : await d.github.runnerGroupId(scope.org, runnerGroupFor(pool, d.config.github.orgs.find((o) => o.name === scope.org)!));
    const jit = await mintJit(d, scope, { name, labels: [...pool.labels], runnerGroupId: groupId }, log);
    d.onSecret?.(jit.encodedJitConfig);
    registration = { kind: 'jit', encodedJitConfig: jit.encodedJitConfig };
    runnerId = jit.runnerId;
    log(`registered runner in ${describeScope(scope)} (JIT, runner id ${jit.runnerId})`);
  } else {
    const tok = await d.github.createRegistrationToken(scope);
    d.onSecret?.(tok.token);
    // A registration token carries no runner group: config.sh joins the pool's (org scopes only).
    const group = scope.kind === 'org' ? runnerGroupFor(pool, d.config.github.orgs.find((o) => o.name === scope.org)!) : undefined;
    registration = { kind: 'token', url: runnerUrl(d.githubApiUrl, scope), token: tok.token, labels: [...pool.labels], ...(group !== undefined ? { group } : {}) };
  }
  return { registration, runnerId };
}

/**
 * The name carries this creation's own random suffix, so "already exists" (409) can only mean an
 * earlier attempt of ours got through and its answer was lost (Octokit retries a POST that met a
 * 5xx). That registration was never handed to any VM: remove it and mint again, once.
 */
async function mintJit(d: RegistrationDeps, scope: Scope, req: { name: string; labels: string[]; runnerGroupId: number }, log: (msg: string) => void) {
  try {
    return await d.github.generateJitConfig(scope, req);
  } catch (e) {
    if ((e as { status?: number }).status !== 409) throw e;
    const stale = await findListed(d, scope, req.name);
    if (!stale || stale.busy || stale.status === 'online') throw e;
    log(`a registration named ${req.name} already exists (an earlier attempt whose answer was lost): replacing it`);
    await d.github.deleteRunner(scope, stale.id);
    return d.github.generateJitConfig(scope, req);
  }
}

/*
 * GitHub lists a new registration some seconds late: the one a lost answer made may not be
 * listed yet when its 409 arrives. Asked again a few times before giving up.
 */
async function findListed(d: RegistrationDeps, scope: Scope, name: string) {
  for (let attempt = 0; ; attempt++) {
    const found = await d.github.findRunner(scope, name);
    if (found || attempt >= 3) return found;
    await d.clock.sleep(d.timings.listingLagRetryMs);
  }
}
