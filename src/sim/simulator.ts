import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealTimeClock } from './clock.js';
import type { SimContext } from './contracts.js';
import { GithubSim, type GithubAppCredentials } from './github/index.js';
import { epochAt } from './github/epoch.js';
import { Guests } from './guest.js';
import { PveSim } from './pve/index.js';
import { Recorder, type JobTimes } from './recorder.js';
import { buildReport, type Report } from './report.js';
import type { PoolModes } from './report-pickup.js';
import { Rng } from './rng.js';
import { withoutStandingTiers, type Leftovers } from './standing.js';
import type { TierSizes } from '../config/types.js';
import type { PersonEdit, Scenario, WorkloadEntry } from './scenario.js';

export interface SimulatorOptions {
  speed?: number;
  /** Where the nodes' snippets directories are made; a fresh temp dir (removed on stop) by default. */
  snippetsRoot?: string;
  /** Caps to check VM counts against (the demo passes pools.yaml's). Overrides scenario.caps. */
  caps?: { total?: number; pools: Record<string, number> };
  keepEvents?: boolean;
  /** replaces the scenario's time_limit (tests on a loaded machine give it more room) */
  timeLimitMs?: number;
  /**
   * Queue no workload entry at its `at` time: each waits for `releaseWorkload`. A test that must
   * see (or not see) a job then does not depend on how fast the machine got there.
   */
  holdWorkload?: boolean;
}

/** What `pve-runners sim` prints: enough for any client to reach both APIs. */
export interface SimEndpoints {
  proxmox: { url: string; tokenId: string; tokenSecret: string; storage: string; nodes: string[]; snippetsDirs: Record<string, string> };
  /** `app`: only when the scenario has `github.app`; the static `token` works either way. `webhook`: with `github.webhook`. */
  github: { url: string; token: string; app?: GithubAppCredentials; webhook?: { secret: string } };
  /**
   * One moment on both clocks: real epoch ms, and the wall-clock time it stands for in the scenario
   * (pools' schedules are read in scenario time, which runs `speed` times faster).
   */
  clockOrigin?: { realMs: number; scenarioMs: number };
}

/**
 * Both simulated services, the guests and the workload driver, on one scenario clock.
 */
export class Simulator {
  readonly ctx: SimContext;
  readonly pve: PveSim;
  readonly github: GithubSim;
  private endpointsValue?: SimEndpoints;
  private scheduledEntries = 0;
  /** VMs a person took over (scenario `people`), in the order it happened */
  readonly disowned: number[] = [];
  private readonly released = new Set<number>();
  private readonly cancels: Array<() => void> = [];
  private readonly ownsSnippetsRoot: boolean;
  private readonly snippetsRoot: string;
  /** the VMs' insides: what each guest's bootstrap printed and ran */
  readonly guests: Guests;

  constructor(readonly scenario: Scenario, private readonly opts: SimulatorOptions = {}) {
    const clock = new RealTimeClock(opts.speed ?? 1, scenario.startEpochMs);
    const caps = opts.caps ?? scenario.caps;
    this.ctx = { scenario, clock, rng: new Rng(scenario.seed), recorder: new Recorder(() => clock.nowMs(), caps, opts.keepEvents) };
    this.ownsSnippetsRoot = opts.snippetsRoot === undefined;
    this.snippetsRoot = opts.snippetsRoot ?? mkdtempSync(join(tmpdir(), 'pve-runners-sim-'));
    this.github = new GithubSim(this.ctx);
    let guests: Guests | undefined;
    const agent = { running: (vmid: number) => guests!.running(vmid), osInfo: (vmid: number) => guests!.osInfo(vmid), fileWrite: (vmid: number, path: string, content: Buffer, cutAt?: number) => guests!.fileWrite(vmid, path, content, cutAt),
      exec: (vmid: number, argv: string[], input: Buffer | undefined) => guests!.exec(vmid, argv, input), execStatus: (vmid: number, pid: number) => guests!.execStatus(vmid, pid) };
    this.pve = new PveSim(this.ctx, { started: (vm) => guests!.started(vm), stopped: (vmid) => guests!.stopped(vmid), agent }, this.snippetsRoot);
    guests = new Guests(this.ctx, this.github, this.pve);
    this.pve.watchForSecrets(() => this.github.issuedSecrets());
    this.guests = guests;
  }

  get endpoints(): SimEndpoints {
    if (!this.endpointsValue) throw new Error('simulator not started');
    return this.endpointsValue;
  }

  get clock(): RealTimeClock {
    return this.ctx.clock as RealTimeClock;
  }

  async start(): Promise<SimEndpoints> {
    const [px, gh] = await Promise.all([this.pve.start(), this.github.start()]);
    this.endpointsValue = {
      proxmox: {
        url: px.url,
        tokenId: px.tokenId,
        tokenSecret: px.tokenSecret,
        storage: this.scenario.proxmox.storage,
        nodes: this.scenario.proxmox.nodes.map((n) => n.name),
        snippetsDirs: px.snippetsDirs,
      },
      github: gh,
      clockOrigin: { realMs: Math.round(this.ctx.clock.wallEpochAt(0)), scenarioMs: epochAt(this.ctx.clock, 0) },
    };
    if (!this.opts.holdWorkload) {
      for (const entry of this.scenario.workload) {
        this.cancels.push(this.ctx.clock.after(entry.atMs, () => this.queue(entry)));
      }
    }
    for (const edit of this.scenario.people) this.cancels.push(this.ctx.clock.after(edit.atMs, () => this.personEdit(edit)));
    return this.endpointsValue;
  }

  /** Done once, on the first VM that fits; until one does, tried again every scenario second. */
  private personEdit(edit: PersonEdit): void {
    const fits = ({ name }: { name: string }) => {
      const busy = this.github.runnerBusy(name);
      return busy !== undefined && (edit.stripMarks === 'any' || busy === (edit.stripMarks === 'busy'));
    };
    const vm = this.pve.stripMarks(fits);
    if (vm === undefined) this.cancels.push(this.ctx.clock.after(1000, () => this.personEdit(edit)));
    else {
      // the runner inside goes with the VM: its registration is the person's now too
      this.github.disownRunner(vm.name);
      this.disowned.push(vm.vmid);
    }
  }

  /** With `holdWorkload`: queues the scenario's workload entry `index` (0-based) now, once. */
  releaseWorkload(index: number): void {
    if (!this.opts.holdWorkload) throw new Error('releaseWorkload needs the holdWorkload option');
    const entry = this.scenario.workload[index];
    if (!entry) throw new Error(`the scenario has no workload entry ${index}`);
    if (this.released.has(index)) throw new Error(`workload entry ${index} was already released`);
    this.released.add(index);
    this.queue(entry);
  }

  private queue(entry: WorkloadEntry): void {
    this.scheduledEntries++;
    const perRun = Math.floor(entry.jobs / entry.runs);
    for (let r = 0; r < entry.runs; r++) {
      const count = perRun + (r < entry.jobs % entry.runs ? 1 : 0);
      if (count === 0) continue;
      const jobs = Array.from({ length: count }, () => ({
        labels: entry.labels,
        durationMs: entry.durationMs,
        cancelAfterMs: entry.cancelAfterMs,
        foreignAfterMs: entry.foreignAfterMs,
      }));
      this.github.queueRun(entry.repo, entry.workflow, jobs, entry.chain);
    }
  }

  /** Every workload entry has been queued and every job has reached `completed`. */
  workloadDone(): boolean {
    return this.scheduledEntries === this.scenario.workload.length && this.github.done();
  }

  /** True when the only jobs left unfinished are ones nobody can serve (they stay queued forever). */
  workloadSettled(isUnmatched: (job: JobTimes) => boolean): boolean {
    if (this.scheduledEntries !== this.scenario.workload.length) return false;
    return [...this.ctx.recorder.jobs.values()].every((j) => j.completedAt !== undefined || isUnmatched(j));
  }

  /** Every credential the simulator knows or handed out: none may ever appear in a log or output. */
  secrets(): string[] {
    const e = this.endpoints;
    return [e.proxmox.tokenSecret, e.github.token, ...pemSecrets(e.github.app?.privateKey), ...(e.github.webhook ? [e.github.webhook.secret] : []), ...this.github.issuedSecrets()];
  }

  timeUp(): boolean {
    return this.ctx.clock.nowMs() >= (this.opts.timeLimitMs ?? this.scenario.timeLimitMs);
  }

  /**
   * What pve-runners left behind: its VMs, snippets and registrations, less what the hot and warm
   * sizes in force at the end (`standing`, per pool) keep on purpose.
   */
  leftovers(standing?: ReadonlyMap<string, TierSizes>): Leftovers {
    const px = this.pve.leaks();
    const left = { vms: px.vms, snippets: px.snippets, registrations: this.github.leaks().registrations };
    return standing ? withoutStandingTiers(this.pve, this.github, standing, left) : left;
  }

  report(opts: { isUnmatched?: (job: JobTimes) => boolean; controller?: { cpu_s: number; max_rss_mb: number }; finished: boolean; pools?: Record<string, PoolModes>; standing?: ReadonlyMap<string, TierSizes> }): Report {
    return buildReport({
      scenario: this.scenario.file,
      speed: this.ctx.clock.speed,
      nowMs: this.ctx.clock.nowMs(),
      finished: opts.finished,
      recorder: this.ctx.recorder,
      isUnmatched: opts.isUnmatched ?? (() => false),
      leaks: this.leftovers(opts.standing),
      secretsOnStorage: this.pve.secretsOnStorage(),
      controller: opts.controller,
      scenarioModel: this.scenario,
      pools: opts.pools,
      githubPickupS: (id) => this.githubPickupS(id),
      epochOriginMs: epochAt(this.ctx.clock, 0),
    });
  }

  /** `started_at` − `created_at` of the job as GitHub's jobs API returns it now, in seconds. */
  githubPickupS(jobId: number): number | undefined {
    const j = this.github.jobJson(jobId);
    if (!j || j.status === 'queued' || typeof j.created_at !== 'string' || typeof j.started_at !== 'string') return undefined;
    return (Date.parse(j.started_at) - Date.parse(j.created_at)) / 1000;
  }

  async stop(): Promise<void> {
    for (const c of this.cancels) c();
    this.ctx.clock.stop();
    await Promise.all([this.pve.stop(), this.github.stop()]);
    if (this.ownsSnippetsRoot) rmSync(this.snippetsRoot, { recursive: true, force: true });
  }
}

/*
 * A PEM and each of its base64 lines: a key in a JSON log line has its newlines escaped, so the
 * whole PEM never matches there, but any one of its lines does.
 */
function pemSecrets(pem: string | undefined): string[] {
  if (pem === undefined) return [];
  return [pem, ...pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))];
}
