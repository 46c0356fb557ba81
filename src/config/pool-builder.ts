/**
 * One pools.yaml's pools built from its raw data (after the schema accepted it): `defaults` merged
 * into each pool, durations, nodes, templates and tiers parsed, user_data files read and
 * trial-rendered, and every problem recorded where it is written. pools.ts runs it.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../util/duration.js';
import type { ConfigProblem } from './errors.js';
import { durationProblem, type DurationSetting } from './durations.js';
import type { ConfigFs } from './fs.js';
import { normalizeLabels } from './labels.js';
import type { SchemaDescriber } from './schema-problems.js';
import type { GithubScope, OrgScope, PoolConfig, TemplateRef } from './types.js';
import { parseTiers, type RawHot, type RawRule } from './tiers.js';
import { readTemplate, trialRender } from './user-data.js';
import { YamlSource } from './yaml-source.js';
import type { PathSegment } from './yaml-source.js';

export const DEFAULT_BOOT_TIMEOUT = '10m';
export const DEFAULT_IDLE_TIMEOUT = '15m';
export const DEFAULT_MAX_JOB_DURATION = '6h';
export const DEFAULT_HOT_MAX_AGE = '12h';

/* The shape schemas/pools.schema.json admits; only asserted after validate() accepted the data. */
type Duration = string | number;
interface RawSettings {
  template?: string | number;
  max_runners?: number;
  node?: string;
  nodes?: string[];
  user_data?: string;
  cores?: number;
  memory?: number;
  registration?: 'jit' | 'token';
  clone?: 'linked' | 'full';
  delivery?: 'dir' | 'sftp' | 'guest-agent';
  storage?: string;
  boot_timeout?: Duration;
  idle_timeout?: Duration;
  max_job_duration?: Duration;
  runner_group?: string;
  hot?: RawHot;
  hot_max_age?: Duration;
  warm?: number;
  schedule?: RawRule[];
  timezone?: string;
}
interface RawPool extends RawSettings {
  name: string;
  labels: string[];
  vmid_range: [number, number];
  prefix?: string;
}
export interface RawFile {
  github?: { repos?: string[]; orgs?: (string | { name: string; runner_group?: string })[] };
  max_total_runners?: number;
  defaults?: RawSettings;
  pools: RawPool[];
}

export interface PoolsOptions {
  fs?: ConfigFs;
  /** PROXMOX_NODE: the node of pools that name none. */
  defaultNode?: string;
  /** REPO_OWNER/REPO_NAME, added to github.repos. */
  extraRepos?: readonly string[];
  /** MAX_TOTAL_RUNNERS, which wins over max_total_runners; 0 means no overall cap. */
  maxTotalRunners?: number;
}

export interface PoolsFile {
  /** As the user named it (shown in messages). */
  readonly file: string;
  /** Absolute; user_data paths are relative to its directory. */
  readonly path: string;
}

/** Where a merged setting came from, so a bad value is reported where it is written. */
interface Setting<T> {
  value: T;
  at: PathSegment[];
}

export class PoolBuilder {
  readonly problems: ConfigProblem[] = [];
  private readonly userDataCache = new Map<string, { path: string; text: string } | undefined>();

  constructor(
    private readonly src: YamlSource,
    private readonly raw: RawFile,
    private readonly file: PoolsFile,
    private readonly opts: PoolsOptions,
    private readonly fs: ConfigFs,
    /** the schema's descriptions, the fix for a value only it explains */
    private readonly describer: SchemaDescriber,
  ) {}

  private problem(at: readonly PathSegment[], message: string, fix: string): void {
    const p = this.src.problem(at, message, fix);
    // A defaults.user_data shared by several pools fails the same way for each: say it once.
    if (!this.problems.some((q) => q.path === p.path && q.message === p.message)) this.problems.push(p);
  }

  private fixFor(at: readonly PathSegment[]): string {
    return this.describer.descriptionAt(at) ?? 'see schemas/pools.schema.json';
  }

  private setting<K extends keyof RawSettings>(i: number, key: K): Setting<NonNullable<RawSettings[K]>> | undefined {
    const own = this.raw.pools[i]?.[key];
    if (own !== undefined && own !== null) return { value: own, at: ['pools', i, key] };
    const dflt = this.raw.defaults?.[key];
    if (dflt !== undefined && dflt !== null) return { value: dflt, at: ['defaults', key] };
    return undefined;
  }

  private duration(i: number, key: Exclude<DurationSetting, 'POLL_INTERVAL'>, dflt: string): number {
    const s = this.setting(i, key);
    const ms = parseDuration(s?.value ?? dflt);
    const wrong = s && durationProblem(key, `'${s.value}'`, ms);
    if (s && wrong) this.problem(s.at, wrong.message, wrong.fix);
    return ms;
  }

  private nodes(i: number): string[] {
    const pool = this.raw.pools[i]!;
    const pick = (obj: RawSettings, at: PathSegment[]): string[] | undefined => {
      if (obj.node !== undefined && obj.nodes !== undefined) {
        this.problem([...at, 'nodes'], 'node and nodes are both set', 'keep one: node for a single node, nodes for several');
      }
      if (obj.nodes !== undefined) return obj.nodes;
      if (obj.node !== undefined) return [obj.node];
      return undefined;
    };
    // A pool's own node or nodes replaces both of defaults', so `defaults.node` + pool `nodes` is not a conflict.
    const own = pick(pool, ['pools', i]);
    if (own) return own;
    const dflt = this.raw.defaults ? pick(this.raw.defaults, ['defaults']) : undefined;
    if (dflt) return dflt;
    if (this.opts.defaultNode) return [this.opts.defaultNode];
    this.problem(['pools', i, 'nodes'], `pool '${pool.name}' has no node to run on`, 'set node or nodes on the pool or in defaults, or set PROXMOX_NODE');
    return [];
  }

  private userData(i: number): { path: string; text: string; at: PathSegment[] } | undefined {
    const s = this.setting(i, 'user_data');
    if (!s) {
      this.problem(['pools', i, 'user_data'], 'is missing', `add it to the pool or to defaults: ${this.fixFor(['pools', i, 'user_data'])}`);
      return undefined;
    }
    const base = dirname(this.file.path);
    const path = isAbsolute(s.value) ? s.value : resolve(base, s.value);
    if (!this.userDataCache.has(path)) {
      const read = readTemplate(this.fs, path, base);
      if ('fix' in read) this.problem(s.at, read.message, read.fix);
      this.userDataCache.set(path, 'text' in read ? { path, text: read.text } : undefined);
    }
    const read = this.userDataCache.get(path);
    return read && { ...read, at: s.at };
  }

  private template(i: number): TemplateRef | undefined {
    const s = this.setting(i, 'template');
    if (!s) {
      this.problem(['pools', i, 'template'], 'is missing', `add it to the pool or to defaults: ${this.fixFor(['pools', i, 'template'])}`);
      return undefined;
    }
    return typeof s.value === 'number' ? { kind: 'vmid', vmid: s.value } : { kind: 'name', name: s.value };
  }

  tiers(i: number, maxRunners: number, maxRunnersAt: PathSegment[] | undefined, github: GithubScope) {
    const raw = this.raw.pools[i]!;
    const [hot, warm, schedule, timezone] = [this.setting(i, 'hot'), this.setting(i, 'warm'), this.setting(i, 'schedule'), this.setting(i, 'timezone')];
    const ctx = { github, problem: this.problem.bind(this), describe: this.fixFor.bind(this) };
    return parseTiers({ index: i, name: raw.name, hot, warm, schedule, timezone, maxRunners, maxRunnersAt }, ctx);
  }

  pool(i: number, github: GithubScope): PoolConfig | undefined {
    const raw = this.raw.pools[i]!;
    const [lo, hi] = raw.vmid_range;
    const size = hi - lo + 1;
    if (lo > hi) this.problem(['pools', i, 'vmid_range'], `[${lo}, ${hi}] starts above its end`, `write the lower VMID first, e.g. [${hi}, ${lo}]`);

    const maxRunners = this.setting(i, 'max_runners');
    if (maxRunners && lo <= hi && maxRunners.value > size) {
      this.problem(maxRunners.at, `${maxRunners.value} runners do not fit in the vmid_range [${lo}, ${hi}] (${size} VMIDs)`, `lower max_runners to at most ${size}, or widen vmid_range`);
    }

    const prefix = raw.prefix ?? raw.name;
    const longest = `${prefix}-${hi}-xxxx`;
    if (longest.length > 63) {
      const at: PathSegment[] = ['pools', i, raw.prefix === undefined ? 'name' : 'prefix'];
      this.problem(at, `runner names like ${longest} would be ${longest.length} characters, over the 63 a DNS name allows`, `shorten it to at most ${63 - (longest.length - prefix.length)} characters${raw.prefix === undefined ? ' or set a shorter prefix' : ''}`);
    }

    const lowered = raw.labels.map((l) => l.toLowerCase());
    const dup = lowered.find((l, k) => lowered.indexOf(l) !== k);
    if (dup !== undefined) {
      this.problem(['pools', i, 'labels'], `lists '${dup}' twice (labels are compared case-insensitively)`, 'keep one of them');
    }

    const clone = this.setting(i, 'clone')?.value ?? 'linked';
    const storage = this.setting(i, 'storage');
    if (storage && clone === 'linked' && storage.at[0] === 'pools') {
      this.problem(storage.at, `pool '${raw.name}' makes linked clones, which stay on the template's storage`, 'remove storage, or set clone: full');
    }

    const nodes = this.nodes(i);
    const template = this.template(i);
    const delivery = this.setting(i, 'delivery')?.value ?? 'dir';
    // Through the guest agent nothing is rendered: the template boots on its own cloud-init.
    const userData = delivery === 'guest-agent' ? undefined : this.userData(i);
    const ownUserData = raw.user_data !== undefined && raw.user_data !== null;
    if (delivery === 'guest-agent' && ownUserData) {
      this.problem(['pools', i, 'user_data'], `is not used with delivery: guest-agent (no snippet is written; the runner's inputs go through the guest agent)`, 'remove user_data from this pool, or use delivery: dir or sftp');
    }
    const bootTimeoutMs = this.duration(i, 'boot_timeout', DEFAULT_BOOT_TIMEOUT);
    const idleTimeoutMs = this.duration(i, 'idle_timeout', DEFAULT_IDLE_TIMEOUT);
    const maxJobDurationMs = this.duration(i, 'max_job_duration', DEFAULT_MAX_JOB_DURATION);
    const hotMaxAgeMs = this.duration(i, 'hot_max_age', DEFAULT_HOT_MAX_AGE);
    const effectiveMax = maxRunners?.value ?? Math.max(size, 1);
    const tiers = this.tiers(i, effectiveMax, maxRunners?.at, github);
    if (userData && nodes.length > 0 && longest.length <= 63) {
      const wrong = trialRender(userData.text, userData.path, { name: raw.name, prefix, vmidHi: hi, nodes, labels: raw.labels });
      if (wrong !== undefined) {
        this.problem(userData.at, wrong.message, wrong.fix);
        return undefined;
      }
    }
    if (!template || (!userData && delivery !== 'guest-agent')) return undefined;
    return {
      index: i,
      name: raw.name,
      prefix,
      tag: `pvr-pool.${raw.name}`,
      template,
      labels: [...raw.labels],
      labelsLower: normalizeLabels(raw.labels),
      vmidRange: { lo, hi },
      maxRunners: effectiveMax,
      nodes,
      userData: userData && { path: userData.path, text: userData.text },
      cores: this.setting(i, 'cores')?.value,
      memoryMb: this.setting(i, 'memory')?.value,
      registration: this.setting(i, 'registration')?.value ?? 'jit',
      clone,
      delivery,
      storage: clone === 'full' ? storage?.value : undefined,
      bootTimeoutMs,
      idleTimeoutMs,
      ...tiers,
      hotMaxAgeMs,
      maxJobDurationMs,
      runnerGroup: this.setting(i, 'runner_group')?.value,
    };
  }

  defaultsProblems(): void {
    const d = this.raw.defaults;
    if (d?.storage !== undefined && !this.raw.pools.some((_, i) => (this.setting(i, 'clone')?.value ?? 'linked') === 'full')) {
      this.problem(['defaults', 'storage'], 'no pool makes full clones, so it is never used', 'remove it, or set clone: full');
    }
  }

  github(): GithubScope {
    const gh = this.raw.github ?? {};
    const orgs: OrgScope[] = (gh.orgs ?? []).map((o) => (typeof o === 'string' ? { name: o, runnerGroup: 'Default' } : { name: o.name, runnerGroup: o.runner_group ?? 'Default' }));
    const fileRepos = gh.repos ?? [];
    const repos: string[] = [];
    fileRepos.forEach((r, i) => {
      const first = repos.findIndex((x) => x.toLowerCase() === r.toLowerCase());
      if (first >= 0) this.problem(['github', 'repos', i], `'${r}' is listed twice (GitHub names are case-insensitive)`, 'keep one of them');
      else repos.push(r);
    });
    for (const r of this.opts.extraRepos ?? []) if (!repos.some((x) => x.toLowerCase() === r.toLowerCase())) repos.push(r);
    orgs.forEach((o, i) => {
      const first = orgs.findIndex((x) => x.name.toLowerCase() === o.name.toLowerCase());
      if (first !== i) this.problem(['github', 'orgs', i], `organisation '${o.name}' is listed twice`, 'keep one of them');
    });
    repos.forEach((r) => {
      const owner = r.split('/')[0]!.toLowerCase();
      const org = orgs.findIndex((o) => o.name.toLowerCase() === owner);
      if (org < 0) return;
      const i = fileRepos.indexOf(r);
      const at: PathSegment[] = i >= 0 ? ['github', 'repos', i] : ['github', 'orgs', org];
      this.problem(at, `repository ${r} is also served through organisation ${orgs[org]!.name}, so its jobs would be seen twice`, i >= 0 ? `remove ${r} from github.repos (the organisation covers it), or remove the organisation` : `unset REPO_OWNER/REPO_NAME, or remove ${orgs[org]!.name} from github.orgs`);
    });
    if (repos.length === 0 && orgs.length === 0) {
      this.problem(['github'], 'no repositories or organisations to serve', 'list repositories under github.repos (e.g. [acme/app]) or organisations under github.orgs, or set REPO_OWNER and REPO_NAME');
    }
    return { repos, orgs };
  }
}

