/**
 * A pool's hot and warm tiers as pools.yaml writes them (`hot`, `warm`, `schedule`, `timezone`),
 * checked and turned into PoolConfig's fields. The checks are those a schema cannot make: where hot
 * runners register when the installation serves several scopes (150 repositories must never mean
 * 150 idle VMs), cron expressions and time zones, and whether max_runners can hold the sizes.
 */
import { scopeKey } from '../github/scope.js';
import { cronProblem, timeZoneProblem } from './schedule.js';
import type { GithubScope, ScheduleRule, TierSizes } from './types.js';
import type { PathSegment } from './yaml-source.js';

/* The shapes schemas/pools.schema.json admits (only asserted after validation). */
export type RawHot = number | { count: number; scopes?: string[] };
export interface RawRule {
  cron: string;
  hot?: number;
  warm?: number;
}

/** A value and where in pools.yaml it is written (the pool's own key or defaults'). */
export interface Located<T> {
  value: T;
  at: PathSegment[];
}

export interface TierInput {
  readonly index: number;
  readonly name: string;
  readonly hot?: Located<RawHot>;
  readonly warm?: Located<number>;
  readonly schedule?: Located<RawRule[]>;
  readonly timezone?: Located<string>;
  readonly maxRunners: number;
  /** Undefined: max_runners is not written, it is the size of vmid_range. */
  readonly maxRunnersAt?: PathSegment[];
}

export interface TierContext {
  readonly github: GithubScope;
  problem(at: readonly PathSegment[], message: string, fix: string): void;
  /** The schema's description of the key at `at`. */
  describe(at: readonly PathSegment[]): string;
}

export interface Tiers {
  readonly sizes: TierSizes;
  readonly hotScopes: string[];
  readonly schedule: ScheduleRule[];
  readonly timezone: string | undefined;
}

interface Configured {
  readonly key: string;
  /** As pools.yaml's hot.scopes would name it. */
  readonly shown: string;
}

function configuredScopes(gh: GithubScope): Configured[] {
  const repos = gh.repos.map((r) => {
    const [owner = '', repo = ''] = r.split('/');
    return { key: scopeKey({ kind: 'repo', owner, repo }), shown: r };
  });
  return [...repos, ...gh.orgs.map((o) => ({ key: scopeKey({ kind: 'org', org: o.name }), shown: o.name }))];
}

const list = (names: readonly string[], most = 5) => (names.length <= most ? names.join(', ') : `${names.slice(0, most).join(', ')}, … (${names.length} in all)`);

/**
 * The (hot, warm) pairs the pool can be asked to hold: the base sizes, and each rule's. A rule that
 * names one size is paired with the largest of the other that can be in force (set by a rule, or
 * the base when no rule names it): the check cannot know which rule fired last without the clock.
 */
export function tierPairs(sizes: TierSizes, schedule: readonly ScheduleRule[]): { hot: number; warm: number; rule?: number }[] {
  const most = (k: 'hot' | 'warm') => {
    const named = schedule.flatMap((r) => (r[k] === undefined ? [] : [r[k]]));
    return named.length > 0 ? Math.max(...named) : sizes[k];
  };
  const [hot, warm] = [most('hot'), most('warm')];
  return [{ hot: sizes.hot, warm: sizes.warm }, ...schedule.map((r, rule) => ({ hot: r.hot ?? hot, warm: r.warm ?? warm, rule }))];
}

/** The most hot + warm VMs the pool may have to hold at once. */
export function tierPeak(sizes: TierSizes, schedule: readonly ScheduleRule[]): number {
  return Math.max(...tierPairs(sizes, schedule).map((p) => p.hot + p.warm));
}

/**
 * Whether the overall cap holds every pool's largest hot + warm at once. Checked as if all schedules
 * peaked together: the cap cannot know they never coincide, and a pool that cannot be filled would
 * fall short silently.
 */
export function totalTierProblem(pools: readonly { name: string; sizes: TierSizes; schedule: readonly ScheduleRule[] }[], cap: number): { message: string; fix: string } | undefined {
  const peaks = pools.map((p) => tierPeak(p.sizes, p.schedule));
  const peak = peaks.reduce((n, k) => n + k, 0);
  if (peak <= cap) return undefined;
  const which = pools.flatMap((p, k) => (peaks[k]! > 0 ? [`${p.name}: ${peaks[k]}`] : [])).join(', ');
  return {
    message: `the pools keep up to ${peak} hot and warm VMs together (${which}), more than the overall cap of ${cap}`,
    fix: `raise it to at least ${peak}, or lower hot/warm (each pool's largest hot + warm counts, as if all schedules peaked at once)`,
  };
}

class TierParser {
  private readonly configured: Configured[];

  constructor(
    private readonly p: TierInput,
    private readonly ctx: TierContext,
  ) {
    this.configured = configuredScopes(ctx.github);
  }

  /** hot.scopes → scope keys; every entry must be a configured scope. */
  private named(scopes: readonly string[], at: PathSegment[]): string[] {
    const keys: string[] = [];
    const shown = this.configured.map((c) => c.shown);
    const valid = `name configured scopes only: ${list(shown, 10)} (github.repos, github.orgs, REPO_OWNER/REPO_NAME)`;
    scopes.forEach((s, k) => {
      const hit = this.configured.find((c) => c.shown.toLowerCase() === s.toLowerCase());
      if (hit && keys.includes(hit.key)) this.ctx.problem([...at, k], `names ${hit.shown} twice (GitHub names are case-insensitive)`, 'keep one of them');
      else if (hit) keys.push(hit.key);
      else {
        const org = s.includes('/') ? this.ctx.github.orgs.find((o) => o.name.toLowerCase() === s.split('/')[0]!.toLowerCase()) : undefined;
        if (org) this.ctx.problem([...at, k], `repository ${s} is served through organisation ${org.name}, whose runners register at organisation level`, `write ${org.name}: hot runners there take jobs of every repository of ${org.name}`);
        else this.ctx.problem([...at, k], `'${s}' is not ${s.includes('/') ? 'a repository' : 'an organisation'} this installation serves`, valid);
      }
    });
    return keys;
  }

  /** The scope list when hot.scopes names none; problems for every size that would need one. */
  private implicitScopes(baseHot: number, rules: readonly (RawRule & { j: number })[]): string[] {
    if (this.configured.length === 1) return [this.configured[0]!.key];
    if (this.configured.length === 0) return []; // github itself is reported missing
    const n = this.configured.length;
    const served = `pool '${this.p.name}' serves ${n} repositories and organisations (${list(this.configured.map((c) => c.shown))})`;
    const example = (count: number) => `hot: {count: ${count}, scopes: [${this.configured[0]!.shown}]}`;
    const hot = this.p.hot;
    if (hot && baseHot > 0) {
      if (hot.at[0] === 'defaults') {
        this.ctx.problem(hot.at, `a bare count of hot runners is ambiguous: the installation serves ${n} repositories and organisations (${list(this.configured.map((c) => c.shown))})`, `remove defaults.hot and write on each pool that keeps hot runners where they register, e.g. ${example(baseHot)}`);
      } else {
        this.ctx.problem(hot.at, `a bare count of hot runners is ambiguous: ${served}; it does not say where they register`, `name the scopes: ${example(baseHot)}`);
      }
    }
    const sched = this.p.schedule;
    rules.forEach((r) => {
      if (!sched || r.hot === undefined || r.hot === 0) return;
      this.ctx.problem([...sched.at, r.j, 'hot'], `sets ${r.hot} hot runner${r.hot === 1 ? '' : 's'}, but ${served} and names none for them`, `add to pools[${this.p.index}]: ${example(0)} (the schedule then sets the count)`);
    });
    return [];
  }

  /** The valid rules, each with its index in the file. */
  private rules(): (RawRule & { j: number })[] {
    const s = this.p.schedule;
    if (!s) return [];
    return s.value.map((r, j) => ({ ...r, j })).filter((r) => {
      const j = r.j;
      const why = cronProblem(r.cron);
      if (why !== undefined) this.ctx.problem([...s.at, j, 'cron'], `'${r.cron}' is not a valid cron expression: ${why}`, this.ctx.describe([...s.at, j, 'cron']));
      if (r.hot === undefined && r.warm === undefined) this.ctx.problem([...s.at, j], 'names neither hot nor warm', this.ctx.describe([...s.at, j]));
      return why === undefined && (r.hot !== undefined || r.warm !== undefined);
    });
  }

  private capacity(sizes: TierSizes, schedule: readonly ScheduleRule[], origin: readonly number[]): void {
    const { maxRunners, maxRunnersAt } = this.p;
    const raise = (n: number) => (maxRunnersAt ? `raise max_runners (${maxRunners}) to ${n}` : `set max_runners to ${n} (it defaults to the size of vmid_range, ${maxRunners}), widening vmid_range if needed`);
    const rules = this.p.schedule;
    for (const pair of tierPairs(sizes, schedule)) {
      const sum = pair.hot + pair.warm;
      if (sum <= maxRunners) continue;
      const rule = pair.rule === undefined ? undefined : schedule[pair.rule];
      const at = rule && rules ? [...rules.at, origin[pair.rule!]!] : (this.p.hot?.at ?? this.p.warm?.at ?? ['pools', this.p.index]);
      const other = (k: 'hot' | 'warm') => (rule && rule[k] === undefined ? ` (the most another rule${schedule.some((r) => r[k] !== undefined) ? '' : ' or the pool'} leaves in force)` : '');
      this.ctx.problem(at, `hot ${pair.hot}${other('hot')} + warm ${pair.warm}${other('warm')} = ${sum} VMs, more than pool '${this.p.name}' may hold (max_runners ${maxRunners})`, `lower hot or warm${rule && (rule.hot === undefined || rule.warm === undefined) ? ' (or name both in the rule, to state the pair exactly)' : ''}, or ${raise(sum)}`);
    }
  }

  parse(): Tiers {
    const hot = this.p.hot?.value;
    const baseHot = hot === undefined ? 0 : typeof hot === 'number' ? hot : hot.count;
    const sizes: TierSizes = { hot: baseHot, warm: this.p.warm?.value ?? 0 };
    const rules = this.rules();
    const schedule: ScheduleRule[] = rules.map((r) => ({ cron: r.cron.trim(), ...(r.hot === undefined ? {} : { hot: r.hot }), ...(r.warm === undefined ? {} : { warm: r.warm }) }));
    const scopes = typeof hot === 'object' && hot.scopes && this.p.hot ? this.named(hot.scopes, [...this.p.hot.at, 'scopes']) : this.implicitScopes(baseHot, rules);
    const keepsHot = baseHot > 0 || schedule.some((r) => (r.hot ?? 0) > 0);

    const tz = this.p.timezone;
    const tzWrong = tz && timeZoneProblem(tz.value);
    if (tz && tzWrong) this.ctx.problem(tz.at, `'${tz.value}' ${tzWrong}`, this.ctx.describe(tz.at));
    if (tz && !this.p.schedule && tz.at[0] === 'pools') this.ctx.problem(tz.at, `pool '${this.p.name}' has no schedule, so it is never used`, 'remove it, or add a schedule');
    this.capacity(sizes, schedule, rules.map((r) => r.j));
    return { sizes, hotScopes: keepsHot ? scopes : [], schedule, timezone: tz?.value };
  }
}

/** Reports problems through ctx; the result is only meaningful when there were none. */
export function parseTiers(p: TierInput, ctx: TierContext): Tiers {
  return new TierParser(p, ctx).parse();
}
