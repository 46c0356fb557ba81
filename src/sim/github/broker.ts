/**
 * The runner service's side of GitHub (not the REST API): a guest's runner connects with its JIT
 * config or registration token, comes online after `github.timings.runner_connect`, and is then
 * dispatched jobs by the engine. Rejections reach the guest the same way, after the connect delay,
 * as a runner only learns its credential is bad when it tries it. Messages never carry the secret.
 */
import type { RunnerBroker, RunnerConfigRequest, RunnerConfigResult, RunnerCredentials, RunnerExit, SimContext } from '../contracts.js';
import type { Rng } from '../rng.js';
import type { Engine } from './engine.js';
import { decodeJitConfig } from './jit-config.js';
import { CONFIG_SH_DEFAULT_LABELS } from './labels.js';
import type { Runner, Scope } from './model.js';
import type { Timers } from './timers.js';
import { DEFAULT_GROUP, sameScope, type World } from './world.js';
import { versionBelow } from './version.js';

export class Broker implements RunnerBroker {
  private readonly rng: Rng;

  constructor(private readonly ctx: SimContext, private readonly world: World, private readonly engine: Engine, private readonly timers: Timers) {
    this.rng = ctx.rng.fork('broker');
  }

  connect(creds: RunnerCredentials, onExit: (exit: RunnerExit) => void, version = this.ctx.scenario.github.runnerVersion): number | undefined {
    const runner = creds.kind === 'jit' ? this.claimJit(creds.encodedJitConfig, onExit)
      : creds.kind === 'configured' ? this.claimConfigured(creds.runnerId, creds.clientId, onExit)
      : this.registerWithToken(creds, onExit);
    if (!runner) return undefined;
    const session = { onExit, cancelConnect: undefined as (() => void) | undefined };
    runner.session = session;
    runner.version = version;
    session.cancelConnect = this.timers.after(this.ctx.scenario.github.timings.runnerConnectMs, () => {
      session.cancelConnect = undefined;
      if (runner.session !== session || !this.world.runners.has(runner.id)) return;
      const minimum = this.ctx.scenario.github.minimumRunnerVersion;
      if (versionBelow(version, minimum)) {
        // The session is made, then GET .../messages answers 403 and the listener exits (Program.cs:
        // AccessDeniedException → TerminatedError). The registration stays, offline.
        runner.session = undefined;
        const message = `Runner version v${version} is deprecated and cannot receive messages.`;
        this.ctx.recorder.event(`runner ${runner.name} refused: ${message}`);
        onExit({ reason: 'rejected', message });
        return;
      }
      runner.status = 'online';
      runner.onlineSinceMs = this.ctx.clock.nowMs();
      this.world.lag.runnerChanged(runner);
      this.ctx.recorder.event(`runner ${runner.name} online`);
      this.ctx.recorder.timeline.runnerOnline(runner.name);
      this.engine.runnerIdle(runner);
    });
    return runner.id;
  }

  /**
   * config.sh --url U --token T ...: the registration token must be valid for U's scope and not
   * expired; a runner of the same name in the scope is an error unless `replace`, which takes the
   * registration over (same id, new labels and credentials; a listener still using the old ones is
   * cut off). Answers after `runner_connect`, the round trips config.sh makes.
   */
  configure(req: RunnerConfigRequest, done: (result: RunnerConfigResult) => void): void {
    const answer = (r: RunnerConfigResult): void => void this.timers.after(this.ctx.scenario.github.timings.runnerConnectMs, () => done(r));
    const bad = (message: string) => {
      this.ctx.recorder.event(`runner configure refused: ${message}`);
      answer({ ok: false, message });
    };
    const scope = this.scopeOfUrl(req.url);
    if (!scope) return bad(`Http response code: NotFound from 'POST ${safeUrl(req.url)}' (no such repository or organization)`);
    const token = this.world.token(req.token);
    if (!token || !sameScope(token.scope, scope)) return bad('Http response code: NotFound: the registration token is not valid for this repository or organization.');
    if (token.expiresAtMs <= this.ctx.clock.nowMs()) return bad('Http response code: NotFound: the registration token has expired.');
    const groups = this.world.groups(scope);
    const group = req.group === undefined ? groups.find((g) => g.isDefault) : groups.find((g) => g.name.toLowerCase() === req.group!.toLowerCase());
    if (!group) return bad(`Could not find any self-hosted runner group named "${req.group}".`);
    const clientId = this.rng.uuid();
    const existing = this.world.runnerByName(scope, req.name);
    if (existing && !req.replace) return bad(`A runner exists with the same name ${req.name}.`);
    if (existing) {
      this.deregistered(existing);
      Object.assign(existing, { labels: [...req.labels], ephemeral: req.ephemeral, group, configured: { clientId }, jit: undefined, version: req.version });
      existing.os = req.os;
      this.ctx.recorder.event(`runner ${existing.name} replaced (${scope.key})`);
      return answer({ ok: true, runnerId: existing.id, clientId, groupId: group.id, groupName: group.name });
    }
    const runner = this.world.register({ name: req.name, scope, group, labels: [...req.labels], ephemeral: req.ephemeral, foreign: false, configured: { clientId } });
    runner.os = req.os;
    runner.version = req.version;
    answer({ ok: true, runnerId: runner.id, clientId, groupId: group.id, groupName: group.name });
  }

  lost(runnerId: number): void {
    const runner = this.world.runners.get(runnerId);
    if (runner && !runner.foreign) this.engine.runnerLost(runner);
  }

  /**
   * The registration was deleted through the API: a connected runner's session ends as the real
   * listener's does ("registration has been deleted"), so its guest can power off.
   */
  deregistered(runner: Runner): void {
    const session = runner.session;
    runner.session = undefined;
    runner.status = 'offline';
    this.world.lag.runnerChanged(runner);
    this.ctx.recorder.timeline.runnerOffline(runner.name);
    if (!session) return;
    session.cancelConnect?.();
    this.timers.after(0, () => session.onExit({ reason: 'rejected', message: 'The runner registration has been deleted from the server, please re-configure.' }));
  }

  private reject(onExit: (exit: RunnerExit) => void, message: string): undefined {
    this.ctx.recorder.event(`runner connect rejected: ${message}`);
    this.timers.after(this.ctx.scenario.github.timings.runnerConnectMs, () => onExit({ reason: 'rejected', message }));
    return undefined;
  }

  private claimJit(encoded: string, onExit: (exit: RunnerExit) => void): Runner | undefined {
    const cfg = decodeJitConfig(encoded);
    if (!cfg) return this.reject(onExit, 'The JIT config is not valid.');
    const runner = this.world.runners.get(cfg.runnerId);
    if (!runner || runner.jit?.clientId !== cfg.clientId) return this.reject(onExit, `Runner registration for '${cfg.runnerName}' was not found: it has been deleted.`);
    // JIT configs are single-use: a second runner on the same config is refused.
    if (runner.jit.used) return this.reject(onExit, `The JIT config of runner '${runner.name}' has already been used.`);
    runner.jit.used = true;
    return runner;
  }

  /* A listener starting from config.sh's saved files: the registration must still be the one they name. */
  private claimConfigured(runnerId: number, clientId: string, onExit: (exit: RunnerExit) => void): Runner | undefined {
    const runner = this.world.runners.get(runnerId);
    if (!runner || runner.configured?.clientId !== clientId) return this.reject(onExit, 'The runner registration has been deleted from the server, please re-configure.');
    if (runner.session) return this.reject(onExit, `A session for this runner already exists.`);
    return runner;
  }

  /* The `token` shortcut: config.sh --unattended --ephemeral --no-default-labels, then run.sh. */
  private registerWithToken(creds: Extract<RunnerCredentials, { kind: 'token' }>, onExit: (exit: RunnerExit) => void): Runner | undefined {
    const scope = this.scopeOfUrl(creds.url);
    if (!scope) return this.reject(onExit, `Http response code: NotFound from 'POST ${safeUrl(creds.url)}' (no such repository or organization)`);
    const token = this.world.token(creds.token);
    if (!token || !sameScope(token.scope, scope)) return this.reject(onExit, 'Http response code: NotFound: the registration token is not valid for this repository or organization.');
    if (token.expiresAtMs <= this.ctx.clock.nowMs()) return this.reject(onExit, 'Http response code: NotFound: the registration token has expired.');
    if (this.world.runnerByName(scope, creds.name)) return this.reject(onExit, `A runner exists with the same name ${creds.name}.`);
    const labels = creds.labels.length ? [...creds.labels] : [...CONFIG_SH_DEFAULT_LABELS];
    return this.world.register({ name: creds.name, scope, group: DEFAULT_GROUP, labels, ephemeral: true, foreign: false });
  }

  /** `<scheme://host>/<owner>/<repo>` → repository scope, `<scheme://host>/<org>` → organisation scope. */
  private scopeOfUrl(url: string): Scope | undefined {
    let parts: string[];
    try {
      parts = new URL(url).pathname.split('/').filter(Boolean);
    } catch {
      return undefined;
    }
    const [owner, repo] = parts;
    if (parts.length === 2 && owner && repo && this.world.repo(owner, repo)) return { kind: 'repo', key: `${owner}/${repo}`.toLowerCase() };
    if (parts.length === 1 && owner && this.world.org(owner)) return { kind: 'org', key: owner.toLowerCase() };
    return undefined;
  }
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}
