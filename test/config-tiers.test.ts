/**
 * pools.yaml's hot / hot_max_age / warm / schedule / timezone: parsed into PoolConfig, and every
 * way to get them wrong is a ConfigError (exit 78) naming file, path, line and the fix.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, EXIT_CONFIG, loadPoolsConfig } from '../src/config/index.js';
import type { Config, PoolsOptions } from '../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pvr-tiers-'));
  cpSync(resolve('test/fixtures/config/cloud-init'), join(dir, 'cloud-init'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, opts: PoolsOptions = {}): Config {
  const path = join(dir, 'pools.yaml');
  writeFileSync(path, yaml);
  return loadPoolsConfig({ file: 'pools.yaml', path }, opts);
}

/** The printed problems, without line numbers (asserted separately where they matter). */
function problems(yaml: string, opts: PoolsOptions = {}): string[] {
  try {
    load(yaml, opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expect(e.exitCode).toBe(EXIT_CONFIG);
    return e.message.split('\n').map((l) => l.replace(/ \(line \d+\)/, ''));
  }
  throw new Error('expected a ConfigError');
}

const file = (github: string, pool: string, top = '') => `
github: ${github}
${top}defaults: {node: pve1, user_data: cloud-init/ubuntu-2404.yaml, template: tpl}
pools:
  - name: small
    labels: [self-hosted, linux]
    vmid_range: [200, 209]
${pool.replace(/^/gm, '    ')}
`;
const ONE = '{repos: [acme/app]}';
const MANY = '{repos: [acme/app, acme/api, Acme/Web], orgs: [bigco]}';

describe('parsed into PoolConfig', () => {
  it('puts the hot runners of a one-repository installation in that repository', () => {
    const [p] = load(file(ONE, 'hot: 2\nwarm: 1')).pools;
    expect(p).toMatchObject({ sizes: { hot: 2, warm: 1 }, hotScopes: ['repo:acme/app'], hotMaxAgeMs: 12 * 3_600_000, schedule: [], timezone: undefined });
  });

  it('puts them in the organisation of a one-organisation installation, or the REPO_OWNER/REPO_NAME repository', () => {
    expect(load(file('{orgs: [{name: acme, runner_group: ci}]}', 'hot: 1')).pools[0]!.hotScopes).toEqual(['org:acme']);
    expect(load(file('{}', 'hot: 1'), { extraRepos: ['NREL/EnergyPlus'] }).pools[0]!.hotScopes).toEqual(['repo:NREL/EnergyPlus']);
  });

  it('keeps no scopes and no sizes when the pool keeps neither tier', () => {
    const [p] = load(file(MANY, 'warm: 2')).pools;
    expect(p).toMatchObject({ sizes: { hot: 0, warm: 2 }, hotScopes: [] });
    expect(load(file(ONE, 'max_runners: 2')).pools[0]).toMatchObject({ sizes: { hot: 0, warm: 0 }, hotScopes: [], schedule: [] });
  });

  it('maps hot.scopes to scope keys, spelled as github.repos/orgs spell them', () => {
    const [p] = load(file(MANY, 'hot: {count: 3, scopes: [ACME/web, BigCo]}')).pools;
    expect(p).toMatchObject({ sizes: { hot: 3, warm: 0 }, hotScopes: ['repo:Acme/Web', 'org:bigco'] });
  });

  it('reads the schedule in file order, with its time zone and hot_max_age', () => {
    const [p] = load(file(MANY, 'hot: {count: 0, scopes: [acme/app]}\nhot_max_age: 6h\ntimezone: Europe/Berlin\nschedule:\n  - {cron: " 0 8 * * 1-5 ", hot: 4, warm: 4}\n  - {cron: "0 19 * * *", warm: 1}\n  - {cron: "@weekly", hot: 0}')).pools;
    expect(p).toMatchObject({
      sizes: { hot: 0, warm: 0 },
      hotScopes: ['repo:acme/app'],
      hotMaxAgeMs: 6 * 3_600_000,
      timezone: 'Europe/Berlin',
      schedule: [{ cron: '0 8 * * 1-5', hot: 4, warm: 4 }, { cron: '0 19 * * *', warm: 1 }, { cron: '@weekly', hot: 0 }],
    });
    expect(p!.schedule[1]).not.toHaveProperty('hot');
  });

  it('takes hot (a count), hot_max_age, warm, schedule and timezone from defaults; a pool\'s own schedule replaces defaults\'', () => {
    const yaml = `
github: {repos: [acme/app]}
defaults: {node: pve1, user_data: cloud-init/ubuntu-2404.yaml, template: tpl, hot: 1, warm: 2, hot_max_age: 1d, timezone: America/New_York, schedule: [{cron: "0 8 * * *", hot: 3}]}
pools:
  - {name: a, labels: [a], vmid_range: [200, 209]}
  - {name: b, labels: [b], vmid_range: [210, 219], hot: 0, warm: 0, schedule: [{cron: "0 9 * * *", warm: 2}], timezone: UTC}
`;
    const [a, b] = load(yaml).pools;
    expect(a).toMatchObject({ sizes: { hot: 1, warm: 2 }, hotScopes: ['repo:acme/app'], hotMaxAgeMs: 86_400_000, timezone: 'America/New_York', schedule: [{ cron: '0 8 * * *', hot: 3 }] });
    expect(b).toMatchObject({ sizes: { hot: 0, warm: 0 }, hotScopes: [], hotMaxAgeMs: 86_400_000, timezone: 'UTC', schedule: [{ cron: '0 9 * * *', warm: 2 }] });
  });
});

describe('the shipped pools.yaml', () => {
  it('loads with its commented tier examples uncommented', () => {
    const text = readFileSync('pools.yaml', 'utf8')
      .replace(/^(\s*)# ((?:hot|warm|schedule|hot_max_age|timezone):.*)$/gm, '$1$2')
      .replace(/^(\s*)#(\s+- \{cron: .*)$/gm, '$1 $2');
    expect(text).toContain('\n    hot: 1');
    const [u24, u22] = load(text).pools;
    expect(u24).toMatchObject({ sizes: { hot: 1, warm: 2 }, hotScopes: ['repo:acme/app'], hotMaxAgeMs: 12 * 3_600_000, timezone: 'Europe/Berlin', schedule: [{ cron: '0 8 * * 1-5', hot: 2, warm: 2 }, { cron: '0 19 * * *', hot: 0, warm: 1 }] });
    expect(u22).toMatchObject({ sizes: { hot: 0, warm: 0 }, schedule: [], timezone: 'Europe/Berlin' });
  });
});

describe('where hot runners register, with several scopes', () => {
  it('refuses a bare hot: N, with the YAML to write instead', () => {
    expect(problems(file(MANY, 'hot: 2'))).toEqual([
      "pools.yaml: pools[0].hot: a bare count of hot runners is ambiguous: pool 'small' serves 4 repositories and organisations (acme/app, acme/api, Acme/Web, bigco); it does not say where they register — fix: name the scopes: hot: {count: 2, scopes: [acme/app]}",
    ]);
    expect(problems(file(MANY, 'hot: {count: 2}'))[0]).toContain('fix: name the scopes: hot: {count: 2, scopes: [acme/app]}');
  });

  it('counts REPO_OWNER/REPO_NAME as a scope, and keeps a long list short', () => {
    expect(problems(file(ONE, 'hot: 1'), { extraRepos: ['acme/other'] })[0]).toContain("pool 'small' serves 2 repositories and organisations (acme/app, acme/other)");
    const repos = Array.from({ length: 150 }, (_, i) => `acme/r${i}`);
    expect(problems(file(`{repos: [${repos.join(', ')}]}`, 'hot: 1'))[0]).toContain('serves 150 repositories and organisations (acme/r0, acme/r1, acme/r2, acme/r3, acme/r4, … (150 in all))');
  });

  it('refuses defaults.hot, naming the fix for each pool', () => {
    expect(problems(file(MANY, 'warm: 1').replace('template: tpl}', 'template: tpl, hot: 1}'))).toEqual([
      'pools.yaml: defaults.hot: a bare count of hot runners is ambiguous: the installation serves 4 repositories and organisations (acme/app, acme/api, Acme/Web, bigco) — fix: remove defaults.hot and write on each pool that keeps hot runners where they register, e.g. hot: {count: 1, scopes: [acme/app]}',
    ]);
  });

  it('refuses a schedule that sets hot runners without hot.scopes; hot: 0 is no runner and needs none', () => {
    expect(problems(file(MANY, 'hot: 0\nschedule:\n  - {cron: "0 8 * * *", hot: 2}\n  - {cron: "0 19 * * *", hot: 0}'))).toEqual([
      "pools.yaml: pools[0].schedule[0].hot: sets 2 hot runners, but pool 'small' serves 4 repositories and organisations (acme/app, acme/api, Acme/Web, bigco) and names none for them — fix: add to pools[0]: hot: {count: 0, scopes: [acme/app]} (the schedule then sets the count)",
    ]);
    expect(load(file(MANY, 'hot: 0\nwarm: 1')).pools[0]!.sizes).toEqual({ hot: 0, warm: 1 });
  });

  it('accepts only configured scopes in hot.scopes', () => {
    expect(problems(file(MANY, 'hot: {count: 2, scopes: [acme/app, acme/nope, acme, bigco/tools, ACME/APP]}'))).toEqual([
      "pools.yaml: pools[0].hot.scopes[1]: 'acme/nope' is not a repository this installation serves — fix: name configured scopes only: acme/app, acme/api, Acme/Web, bigco (github.repos, github.orgs, REPO_OWNER/REPO_NAME)",
      "pools.yaml: pools[0].hot.scopes[2]: 'acme' is not an organisation this installation serves — fix: name configured scopes only: acme/app, acme/api, Acme/Web, bigco (github.repos, github.orgs, REPO_OWNER/REPO_NAME)",
      'pools.yaml: pools[0].hot.scopes[3]: repository bigco/tools is served through organisation bigco, whose runners register at organisation level — fix: write bigco: hot runners there take jobs of every repository of bigco',
      'pools.yaml: pools[0].hot.scopes[4]: names acme/app twice (GitHub names are case-insensitive) — fix: keep one of them',
    ]);
  });
});

describe('schedule and timezone', () => {
  it('refuses a bad cron with the parser\'s reason, at the rule\'s cron', () => {
    const lines = problems(file(ONE, 'schedule:\n  - {cron: "0 8 * * 1-5", hot: 1}\n  - {cron: "61 8 * * *", hot: 0}\n  - {cron: "0 8 * *", warm: 1}\n  - {cron: "H 8 * * *", warm: 1}\n  - {cron: "0 0 31 2,4 *", warm: 1}'));
    const fix = 'fix: when the rule takes effect: five fields minute hour day-of-month month day-of-week (or @daily, @weekly, …), e.g. "0 8 * * 1-5" for 08:00 Monday to Friday; a time skipped by a daylight-saving change takes effect when the clock jumps, a repeated one once';
    expect(lines).toEqual([
      `pools.yaml: pools[0].schedule[1].cron: '61 8 * * *' is not a valid cron expression: Constraint error, got value 61 expected range 0-59 — ${fix}`,
      `pools.yaml: pools[0].schedule[2].cron: '0 8 * *' is not a valid cron expression: has 4 fields, not 5 — ${fix}`,
      `pools.yaml: pools[0].schedule[3].cron: 'H 8 * * *' is not a valid cron expression: uses H (a random value), which would move the rule each time it is read — ${fix}`,
      expect.stringMatching(/^pools\.yaml: pools\[0\]\.schedule\[4\]\.cron: '0 0 31 2,4 \*' is not a valid cron expression: (never fires \(no date matches it\)|Invalid explicit day of month definition) — fix: /),
    ]);
  });

  it('refuses a rule naming neither size, an unknown time zone, and a pool time zone without a schedule', () => {
    expect(problems(file(ONE, 'timezone: Mars/Olympus\nschedule: [{cron: "0 8 * * *"}]'))).toEqual([
      'pools.yaml: pools[0].schedule[0]: names neither hot nor warm — fix: a rule {cron, hot, warm} naming hot, warm or both, e.g. {cron: "0 8 * * 1-5", hot: 4, warm: 4}',
      "pools.yaml: pools[0].timezone: 'Mars/Olympus' is not a time zone this host knows — fix: the IANA time zone the schedule's cron times are read in, e.g. Europe/Berlin or America/New_York (timedatectl list-timezones); default: the host's",
    ]);
    expect(problems(file(ONE, 'timezone: Europe/Berlin'))).toEqual(["pools.yaml: pools[0].timezone: pool 'small' has no schedule, so it is never used — fix: remove it, or add a schedule"]);
  });

  it('lets the schema refuse wrong shapes, with the key\'s description as the fix', () => {
    expect(problems(file(ONE, 'hot: -1'))[0]).toMatch(/^pools\.yaml: pools\[0\]\.hot: must be >= 0 \(got -1\) — fix: hot runners \(booted, registered, idle\): a count such as 2 when one repository/);
    expect(problems(file(ONE, 'hot: {count: 1, scope: [acme/app]}'))[0]).toBe('pools.yaml: pools[0].hot.scope: unknown key — fix: remove it or correct its spelling; valid here: count, scopes');
    expect(problems(file(ONE, 'schedule: [{cron: "0 8 * * *", hot: 1, cold: 2}]'))[0]).toBe('pools.yaml: pools[0].schedule[0].cold: unknown key — fix: remove it or correct its spelling; valid here: cron, hot, warm');
    expect(problems(file(ONE, 'warm: 1').replace('template: tpl}', 'template: tpl, hot: {count: 1}}'))[0]).toMatch(/^pools\.yaml: defaults\.hot: must be integer/);
    expect(problems(file(ONE, 'hot_max_age: 5m'))).toEqual(["pools.yaml: pools[0].hot_max_age: '5m' is shorter than hot_max_age allows (10m to 7d) — fix: set hot_max_age (how long a hot runner waits for a job before it is replaced) to a duration from 10m to 7d, e.g. 12h"]);
  });

  it('names the line of the offending rule', () => {
    try {
      load(file(ONE, 'schedule:\n  - {cron: "0 8 * * *", hot: 1}\n  - {cron: "0 25 * * *", hot: 0}'));
    } catch (e) {
      expect((e as ConfigError).problems[0]).toMatchObject({ path: 'pools[0].schedule[1].cron', line: 10 });
      return;
    }
    throw new Error('expected a ConfigError');
  });
});

describe('caps hold the sizes', () => {
  it('refuses base sizes or a rule\'s that max_runners cannot hold', () => {
    expect(problems(file(ONE, 'max_runners: 4\nhot: 2\nwarm: 3'))).toEqual(["pools.yaml: pools[0].hot: hot 2 + warm 3 = 5 VMs, more than pool 'small' may hold (max_runners 4) — fix: lower hot or warm, or raise max_runners (4) to 5"]);
    expect(problems(file(ONE, 'max_runners: 4\nschedule:\n  - {cron: "0 8 * * *", hot: 3, warm: 2}\n  - {cron: "0 19 * * *", hot: 0, warm: 1}'))).toEqual([
      "pools.yaml: pools[0].schedule[0]: hot 3 + warm 2 = 5 VMs, more than pool 'small' may hold (max_runners 4) — fix: lower hot or warm, or raise max_runners (4) to 5",
    ]);
    expect(problems(file(ONE, 'hot: 11'))).toEqual(["pools.yaml: pools[0].hot: hot 11 + warm 0 = 11 VMs, more than pool 'small' may hold (max_runners 10) — fix: lower hot or warm, or set max_runners to 11 (it defaults to the size of vmid_range, 10), widening vmid_range if needed"]);
  });

  it('pairs a rule naming one size with the most of the other any rule can leave in force', () => {
    expect(problems(file(ONE, 'max_runners: 4\nwarm: 3\nschedule:\n  - {cron: "0 8 * * *", hot: 2}\n  - {cron: "0 19 * * *", hot: 0}'))).toEqual([
      "pools.yaml: pools[0].schedule[0]: hot 2 + warm 3 (the most another rule or the pool leaves in force) = 5 VMs, more than pool 'small' may hold (max_runners 4) — fix: lower hot or warm (or name both in the rule, to state the pair exactly), or raise max_runners (4) to 5",
    ]);
    // at 08:00 warm is still the 3 the evening rule set
    expect(problems(file(ONE, 'max_runners: 4\nschedule:\n  - {cron: "0 8 * * *", hot: 2}\n  - {cron: "0 19 * * *", hot: 0, warm: 3}'))).toEqual([
      "pools.yaml: pools[0].schedule[0]: hot 2 + warm 3 (the most another rule leaves in force) = 5 VMs, more than pool 'small' may hold (max_runners 4) — fix: lower hot or warm (or name both in the rule, to state the pair exactly), or raise max_runners (4) to 5",
    ]);
    // (4, 0) by day and (0, 4) by night fit 4 when each rule names both
    expect(load(file(ONE, 'max_runners: 4\nschedule:\n  - {cron: "0 8 * * *", hot: 4, warm: 0}\n  - {cron: "0 19 * * *", hot: 0, warm: 4}')).pools[0]!.schedule).toHaveLength(2);
  });

  it('refuses pools whose largest sizes together exceed the overall cap, from the file or MAX_TOTAL_RUNNERS', () => {
    const two = `
github: {repos: [acme/app]}
max_total_runners: 5
defaults: {node: pve1, user_data: cloud-init/ubuntu-2404.yaml, template: tpl}
pools:
  - {name: a, labels: [a], vmid_range: [200, 209], hot: 2, schedule: [{cron: "0 8 * * *", hot: 3, warm: 1}]}
  - {name: b, labels: [b], vmid_range: [210, 219], warm: 2}
  - {name: c, labels: [c], vmid_range: [220, 229]}
`;
    expect(problems(two)).toEqual(["pools.yaml: max_total_runners: the pools keep up to 6 hot and warm VMs together (a: 4, b: 2), more than the overall cap of 5 — fix: raise it to at least 6, or lower hot/warm (each pool's largest hot + warm counts, as if all schedules peaked at once)"]);
    expect(problems(two, { maxTotalRunners: 3 })).toEqual(["environment: MAX_TOTAL_RUNNERS: the pools keep up to 6 hot and warm VMs together (a: 4, b: 2), more than the overall cap of 3 — fix: raise it to at least 6, or lower hot/warm (each pool's largest hot + warm counts, as if all schedules peaked at once)"]);
    expect(load(two, { maxTotalRunners: 6 }).maxTotalRunners).toBe(6);
    expect(load(two, { maxTotalRunners: 0 }).maxTotalRunners).toBe(30);
  });
});
