import type { LabelledPool } from './labels.js';

/** The Proxmox template a pool clones, as pools.yaml names it. */
export type TemplateRef = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'vmid'; readonly vmid: number };

export interface OrgScope {
  readonly name: string;
  /** Runner group for this org's runners when the pool names none (default `Default`). */
  readonly runnerGroup: string;
}

export interface GithubScope {
  /** `owner/name`, from github.repos plus REPO_OWNER/REPO_NAME. */
  readonly repos: readonly string[];
  readonly orgs: readonly OrgScope[];
}

/** A rule of a pool's `schedule`: from each time `cron` fires, the sizes it names are in force. */
export interface ScheduleRule {
  readonly cron: string;
  readonly hot?: number;
  readonly warm?: number;
}

/** How many hot runners (booted, registered, idle) and warm VMs (stopped clones) a pool keeps. */
export interface TierSizes {
  readonly hot: number;
  readonly warm: number;
}

export interface PoolConfig extends LabelledPool {
  /** Position in pools.yaml: the tie-break of label matching and the `pools[i]` of messages. */
  readonly index: number;
  readonly name: string;
  /** Runner/VM names are `<prefix>-<vmid>-<4 random [a-z0-9]>`. */
  readonly prefix: string;
  /** The Proxmox tag marking this pool's VMs: `pvr-pool.<name>`. */
  readonly tag: string;
  readonly template: TemplateRef;
  /** As written in pools.yaml (what runners register with). */
  readonly labels: readonly string[];
  readonly vmidRange: { readonly lo: number; readonly hi: number };
  readonly maxRunners: number;
  /** Placement candidates, never empty. */
  readonly nodes: readonly string[];
  /** The cloud-init template snippets are rendered from; undefined with delivery: guest-agent (no snippet). */
  readonly userData: { readonly path: string; readonly text: string } | undefined;
  /** Undefined: keep the template's value. */
  readonly cores: number | undefined;
  readonly memoryMb: number | undefined;
  readonly registration: 'jit' | 'token';
  readonly clone: 'linked' | 'full';
  /** How the runner's inputs reach the VM (pools.yaml `delivery`, default dir): a snippet in SNIPPETS_DIR, a snippet over SFTP, or the guest agent. */
  readonly delivery: 'dir' | 'sftp' | 'guest-agent';
  /** Target storage of full clones; undefined for linked clones. */
  readonly storage: string | undefined;
  readonly bootTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxJobDurationMs: number;
  /** Set only when pools.yaml names one; see runnerGroupFor. */
  readonly runnerGroup: string | undefined;
  /** Sizes with no schedule rule in force (pools.yaml's `hot`/`warm`; 0 when unset). */
  readonly sizes: TierSizes;
  /**
   * Scope keys (repo:owner/name | org:name) the hot runners register in, spread evenly: the one
   * configured scope, or the `hot.scopes` named. Empty when the pool keeps no hot runners.
   */
  readonly hotScopes: readonly string[];
  /** a hot runner older than this is replaced (default 12h) */
  readonly hotMaxAgeMs: number;
  /** in file order; empty when the pool has no schedule */
  readonly schedule: readonly ScheduleRule[];
  /** IANA time zone the schedule's cron expressions are read in; undefined: the host's */
  readonly timezone: string | undefined;
}

export interface Config {
  /** pools.yaml as the user named it, and its absolute path. */
  readonly file: string;
  readonly path: string;
  readonly github: GithubScope;
  /** Overall cap: MAX_TOTAL_RUNNERS, else max_total_runners, else the sum of the pools' max_runners. */
  readonly maxTotalRunners: number;
  readonly pools: readonly PoolConfig[];
}

/** The runner group an org-level runner of `pool` joins: the pool's, else the org's (default `Default`). */
export function runnerGroupFor(pool: PoolConfig, org: OrgScope): string {
  return pool.runnerGroup ?? org.runnerGroup;
}
