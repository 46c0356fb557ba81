/**
 * Who exists on the simulated GitHub: the scenario's repositories and organisations, runner
 * registrations per scope, and registration tokens. Names are looked up case-insensitively, as
 * GitHub does.
 */
import type { Recorder } from '../recorder.js';
import type { Scenario, ScenarioForeignRunner } from '../scenario.js';
import type { Ids } from './ids.js';
import { osOf } from './labels.js';
import type { Lag } from './lag.js';
import type { Account, Org, RegistrationToken, Repo, Runner, RunnerGroup, Scope } from './model.js';

export const RUNNER_VERSION = '2.330.0';
export const DEFAULT_GROUP: RunnerGroup = { id: 1, name: 'Default', isDefault: true };

export class World {
  private readonly repos = new Map<string, Repo>();
  private readonly orgs = new Map<string, Org>();
  private readonly accounts = new Map<string, Account>();
  readonly runners = new Map<number, Runner>();
  private readonly tokens = new Map<string, RegistrationToken>();
  /** Every credential handed out (registration tokens, JIT configs): tests assert none shows up in a log. */
  readonly issuedSecrets: string[] = [];
  private readonly labelIds = new Map<string, number>();

  constructor(scenario: Scenario, private readonly ids: Ids, private readonly recorder: Recorder, readonly lag: Lag) {
    for (const o of scenario.github.orgs) {
      const account = this.account(o.name, 'Organization');
      const groups = ['Default', ...o.runnerGroups.filter((g) => g !== 'Default')].map((name, i) => (i === 0 ? DEFAULT_GROUP : { id: i + 1, name, isDefault: false }));
      this.orgs.set(o.name.toLowerCase(), { account, repos: [], groups });
    }
    const fullNames = [...scenario.github.repos, ...scenario.github.orgs.flatMap((o) => o.repos.map((r) => `${o.name}/${r}`))];
    for (const fullName of fullNames) {
      if (this.repos.has(fullName.toLowerCase())) continue;
      const [owner = '', name = ''] = fullName.split('/');
      const org = this.orgs.get(owner.toLowerCase());
      const repo: Repo = { id: ids.repo(), owner: org?.account ?? this.account(owner, 'User'), name, fullName, createdAtMs: -ids.account() * 1000 };
      this.repos.set(fullName.toLowerCase(), repo);
      org?.repos.push(repo);
    }
    scenario.github.foreignRunners.forEach((f) => this.addForeign(f, scenario));
  }

  repo(owner: string, name: string): Repo | undefined {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  repoByFullName(fullName: string): Repo | undefined {
    return this.repos.get(fullName.toLowerCase());
  }

  org(name: string): Org | undefined {
    return this.orgs.get(name.toLowerCase());
  }

  allRepos(): Repo[] {
    return [...this.repos.values()];
  }

  /** The groups a runner of this scope may join: an organisation's, or just Default for a repository. */
  groups(scope: Scope): RunnerGroup[] {
    return scope.kind === 'org' ? (this.orgs.get(scope.key)?.groups ?? []) : [DEFAULT_GROUP];
  }

  runnersIn(scope: Scope): Runner[] {
    return [...this.runners.values()].filter((r) => sameScope(r.scope, scope)).sort((a, b) => a.id - b.id);
  }

  /** The scope's registrations as listings show them now (lagged, deleted ones still listed for a while). */
  listedRunnersIn(scope: Scope): Runner[] {
    const all = [...this.runners.values(), ...this.lag.stillListed()].filter((r) => sameScope(r.scope, scope));
    return all.map((r) => this.lag.runner(r)).filter((r): r is Runner => r !== undefined).sort((a, b) => a.id - b.id);
  }

  /** One registration as GET /runners/{id} shows it now (lagged), or undefined. */
  listedRunner(id: number): Runner | undefined {
    const r = this.runners.get(id) ?? this.lag.stillListed().find((x) => x.id === id);
    return r && this.lag.runner(r);
  }

  runnerByName(scope: Scope, name: string): Runner | undefined {
    return this.runnersIn(scope).find((r) => r.name.toLowerCase() === name.toLowerCase());
  }

  /** A runner serves a repository's jobs if registered on it, or on the organisation that owns it. */
  serves(runner: Runner, repo: Repo): boolean {
    return runner.scope.kind === 'repo'
      ? runner.scope.key === repo.fullName.toLowerCase()
      : runner.scope.key === repo.owner.login.toLowerCase() && this.orgs.has(runner.scope.key);
  }

  register(r: Omit<Runner, 'id' | 'os' | 'status' | 'busy' | 'version'>): Runner {
    const runner: Runner = { ...r, id: this.ids.runner(), os: osOf(r.labels), status: 'offline', busy: false, version: null };
    this.runners.set(runner.id, runner);
    this.lag.runnerChanged(runner);
    this.recorder.event(`runner ${runner.name} registered (${runner.scope.key}, group ${runner.group.name})`);
    return runner;
  }

  unregister(runner: Runner): void {
    this.runners.delete(runner.id);
    this.lag.runnerDeleted(runner);
    this.recorder.timeline.runnerOffline(runner.name);
    this.recorder.event(`runner ${runner.name} unregistered`);
  }

  labelId(name: string): number {
    const key = name.toLowerCase();
    let id = this.labelIds.get(key);
    if (id === undefined) {
      id = this.ids.label();
      this.labelIds.set(key, id);
    }
    return id;
  }

  issueToken(scope: Scope, expiresAtMs: number): RegistrationToken {
    const t: RegistrationToken = { token: this.ids.registrationToken(), scope, expiresAtMs };
    this.tokens.set(t.token, t);
    this.issuedSecrets.push(t.token);
    return t;
  }

  token(value: string): RegistrationToken | undefined {
    return this.tokens.get(value);
  }

  private account(login: string, type: Account['type']): Account {
    const key = login.toLowerCase();
    let a = this.accounts.get(key);
    if (!a) {
      a = { login, id: this.ids.account(), type };
      this.accounts.set(key, a);
    }
    return a;
  }

  /*
   * A foreign runner without repo or org in the scenario is placed on the first repository (else the
   * first organisation): it must live somewhere the daemon can see it, or it tests nothing.
   */
  private addForeign(f: ScenarioForeignRunner, scenario: Scenario): void {
    const scope: Scope | undefined = f.repo !== undefined
      ? { kind: 'repo', key: f.repo.toLowerCase() }
      : f.org !== undefined
        ? { kind: 'org', key: f.org.toLowerCase() }
        : scenario.github.repos[0] !== undefined
          ? { kind: 'repo', key: scenario.github.repos[0].toLowerCase() }
          : scenario.github.orgs[0] !== undefined ? { kind: 'org', key: scenario.github.orgs[0].name.toLowerCase() } : undefined;
    if (!scope) throw new Error(`github.foreign_runners: runner '${f.name}' has no repo or org, and the scenario has none to place it in`);
    const runner = this.register({ name: f.name, scope, group: DEFAULT_GROUP, labels: f.labels, ephemeral: false, foreign: true });
    runner.version = RUNNER_VERSION;
    if (f.status === 'online') {
      runner.status = 'online';
      runner.onlineSinceMs = -1; // online since before the simulation began
    }
    this.lag.runnerChanged(runner);
  }
}

export function sameScope(a: Scope, b: Scope): boolean {
  return a.kind === b.kind && a.key === b.key;
}
