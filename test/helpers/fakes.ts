import type { Clock } from '../../src/clock.js';
import type { DeleteRunnerResult, GithubApi, JitConfig, Listing, QueuedJob, RunnerRegistration, WorkflowRunRef } from '../../src/github/api.js';
import type { Scope } from '../../src/github/scope.js';
import { parseUpid, type CloneRequest, type ProxmoxApi, type PveNode, type PveTask, type PveVm, type VmConfigValue } from '../../src/proxmox/api.js';
import { ProxmoxError } from '../../src/proxmox/errors.js';
import type { ObservedSnippet } from '../../src/planner/observation.js';
import type { SnippetStore } from '../../src/snippets/store.js';

/** Every call the fakes saw, in order: the executor's observable behaviour. */
export type Call = string;

/** A clock whose sleeps return at once but advance time: retries and task polls cost no real time. */
export class FakeClock implements Clock {
  t = Date.UTC(2026, 10, 24, 12);
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

/** Proxmox with scripted failures: `failNext[op]` holds errors the next calls of op throw, in order. */
export class FakeProxmox implements ProxmoxApi {
  readonly calls: Call[] = [];
  readonly failNext = new Map<string, Array<Error>>();
  readonly taskExit = new Map<string, string>(); // task type → exitstatus of every such task (default OK)
  readonly taskExitOnce = new Map<string, string[]>(); // task type → exitstatus of the next such tasks
  readonly vms = new Map<number, PveVm>();
  /** guests that exist but the token may not see: absent from listVms, taken for nextid and clones */
  readonly hidden = new Map<number, PveVm>();
  /** VM configs as GET …/config returns them; clones and config updates write here */
  readonly configs = new Map<number, Record<string, VmConfigValue>>();
  /** each config read fails with this probability (drawn from `random`) */
  configFailRate = 0;
  random: () => number = Math.random;
  private seq = 0;
  /** clone task → the VM it made (removed again when the task fails, as qemu-server does) */
  private readonly cloned = new Map<string, number>();

  constructor(private readonly log: Call[]) {}

  private step(op: string): void {
    this.calls.push(op);
    this.log.push(`pve ${op}`);
    const errs = this.failNext.get(op.split(' ')[0]!);
    const e = errs?.shift();
    if (e) throw e;
  }
  /** The token id in the UPIDs of the tasks this fake starts. */
  readonly tokenId = 'pve-runners@pve!ci';
  /**
   * Running tasks besides the clones this fake is doing (a clone of a previous daemon run, someone
   * else's): listed by activeTasks on their node.
   */
  readonly otherTasks: string[] = [];
  private upid(node: string, type: string, id: number): string {
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    return `UPID:${node}:${hex(++this.seq)}:00000001:${hex(0x65432100 + this.seq)}:${type}:${id}:${this.tokenId}:`;
  }
  /** A running task's UPID as Proxmox would make it (for otherTasks). */
  taskId(node: string, type: string, id: number, user = this.tokenId): string {
    return this.upid(node, type, id).replace(`:${this.tokenId}:`, `:${user}:`);
  }
  async listVms(): Promise<PveVm[]> {
    this.step('listVms');
    return [...this.vms.values()];
  }
  readonly nodes: PveNode[] = [];
  async listNodes(): Promise<PveNode[]> {
    return this.nodes;
  }
  async isVmidFree(vmid: number): Promise<boolean> {
    this.step(`nextid ${vmid}`);
    return !this.vms.has(vmid) && !this.hidden.has(vmid);
  }
  async getConfig(node: string, vmid: number): Promise<Record<string, VmConfigValue>> {
    this.step(`getConfig ${vmid}`);
    if (this.random() < this.configFailRate) throw pveError(596, 'Connection timed out');
    const vm = this.vms.get(vmid);
    const cfg = this.configs.get(vmid);
    if (!vm || vm.node !== node) throw pveError(500, `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return { name: vm.name, ...(vm.tags.length ? { tags: vm.tags.join(';') } : {}), ...(vm.lock ? { lock: vm.lock } : {}), ...cfg };
  }
  async vmStatus(node: string, vmid: number): Promise<'running' | 'stopped'> {
    this.step(`vmStatus ${vmid}`);
    const vm = this.vms.get(vmid);
    if (!vm || vm.node !== node) throw pveError(500, `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return this.liveStatus.get(vmid) ?? (vm.status === 'running' ? 'running' : 'stopped');
  }
  /** The power state status/current answers where it differs from the (lagging) listing. */
  readonly liveStatus = new Map<number, 'running' | 'stopped'>();
  /** Like qemu-server: a VMID taken on the same node fails at once, on another node inside the task (pmxcfs refuses the rename). */
  async clone(node: string, source: number, req: CloneRequest): Promise<string> {
    this.step(`clone ${source}->${req.newid} name=${req.name}${req.pool ? ` pool=${req.pool}` : ''}`);
    const taken = this.vms.get(req.newid) ?? this.hidden.get(req.newid);
    if (taken?.node === node) throw pveError(500, `unable to create VM ${req.newid}: config file already exists`);
    // a qmclone task's id is the VM cloned from (qemu-server clone_vm forks its worker with $vmid)
    const upid = this.upid(node, 'qmclone', source);
    if (taken) {
      this.taskExitOnce.set('qmclone', [`close (rename) atomic file '/etc/pve/nodes/${taken.node}/qemu-server/${req.newid}.conf' failed: File exists`, ...(this.taskExitOnce.get('qmclone') ?? [])]);
      return upid;
    }
    this.vms.set(req.newid, { kind: 'qemu', vmid: req.newid, node, name: req.name, status: 'stopped', template: false, tags: [], maxmem: 0, uptime: 0 });
    this.configs.set(req.newid, { name: req.name, description: req.description });
    this.cloned.set(upid, req.newid);
    return upid;
  }
  async updateConfig(node: string, vmid: number, params: Record<string, VmConfigValue>): Promise<string | null> {
    this.step(`config ${vmid} ${Object.keys(params).sort().join(',')}`);
    const vm = this.vms.get(vmid);
    const { tags, ...rest } = params;
    // tags live on the listed VM (the listing and the config show the same ones)
    if (vm && typeof tags === 'string') vm.tags = tags.split(';');
    this.configs.set(vmid, { ...this.configs.get(vmid), ...rest });
    return this.upid(node, 'qmconfig', vmid);
  }
  async start(node: string, vmid: number): Promise<string> {
    this.step(`start ${vmid}`);
    const vm = this.vms.get(vmid);
    if (vm) vm.status = 'running';
    return this.upid(node, 'qmstart', vmid);
  }
  async stop(node: string, vmid: number): Promise<string> {
    this.step(`stop ${vmid}`);
    return this.upid(node, 'qmstop', vmid);
  }
  async agentPing(_node: string, vmid: number): Promise<void> {
    this.step(`agentPing ${vmid}`);
  }
  async agentOsId(_node: string, vmid: number): Promise<string> {
    this.step(`agentOsId ${vmid}`);
    return 'ubuntu';
  }
  async agentFileWrite(_node: string, vmid: number, file: string): Promise<void> {
    this.step(`agentFileWrite ${vmid} ${file}`);
  }
  async destroy(node: string, vmid: number): Promise<string> {
    this.step(`destroy ${vmid}`);
    this.vms.delete(vmid);
    return this.upid(node, 'qmdestroy', vmid);
  }
  async taskStatus(_node: string, upid: string): Promise<{ status: string; exitstatus?: string }> {
    const type = upid.split(':')[5]!;
    const once = this.taskExitOnce.get(type)?.shift();
    const exitstatus = once ?? this.taskExit.get(type) ?? 'OK';
    const made = this.cloned.get(upid);
    if (made !== undefined && exitstatus !== 'OK') {
      this.vms.delete(made);
      this.configs.delete(made);
    }
    this.cloned.delete(upid);
    return { status: 'stopped', exitstatus };
  }
  /** Clones not yet awaited are running, and so are otherTasks. */
  async activeTasks(node: string, type: string): Promise<PveTask[]> {
    this.step(`tasks ${node} ${type}`);
    return [...this.cloned.keys(), ...this.otherTasks]
      .map((upid) => ({ upid, ...parseUpid(upid)!, running: true }))
      .filter((t) => t.node === node && t.type === type);
  }
  async version() {
    return { version: '9.1.3', release: '9.1' };
  }
  async permissions() {
    return {};
  }
  async nodeStorages() {
    return [];
  }
  async storageContent() {
    return [];
  }
}

export const pveError = (status: number, msg: string) => new ProxmoxError(status, msg, 'test');

export class FakeGithub implements GithubApi {
  deleteAnswer: DeleteRunnerResult = 'deleted';
  private id = 100;
  constructor(private readonly log: Call[]) {}
  async listRuns(): Promise<Listing<WorkflowRunRef>> {
    return { items: [], changed: false };
  }
  async listRunJobs(): Promise<Listing<QueuedJob & { status: string; runnerName: string | null }>> {
    return { items: [], changed: false };
  }
  async listOrgRepos(): Promise<Listing<string>> {
    return { items: [], changed: false };
  }
  async listRunners(): Promise<Listing<RunnerRegistration>> {
    return { items: [], changed: false };
  }
  found: RunnerRegistration | undefined;
  async latestRunnerVersion(): Promise<string | undefined> {
    return '2.336.0';
  }
  /** how many more finds answer nothing (GitHub listing a new registration late) */
  notListedFor = 0;
  async findRunner(_scope: Scope, name: string): Promise<RunnerRegistration | undefined> {
    this.log.push(`gh find ${name}`);
    if (this.notListedFor > 0) {
      this.notListedFor--;
      return undefined;
    }
    return this.found;
  }
  /** errors the next JIT requests throw, in order */
  readonly jitFailures: Error[] = [];
  async generateJitConfig(scope: Scope, req: { name: string; labels: string[]; runnerGroupId: number }): Promise<JitConfig> {
    this.log.push(`gh jit ${req.name} group=${req.runnerGroupId} labels=${req.labels.join(',')} scope=${scope.kind}`);
    const failure = this.jitFailures.shift();
    if (failure) throw failure;
    return { runnerId: ++this.id, encodedJitConfig: `SECRET-JIT-${req.name}` };
  }
  async createRegistrationToken(): Promise<{ token: string; expiresAt: string }> {
    this.log.push('gh token');
    return { token: 'SECRET-TOKEN-AAAAAAAAAAAAAAAAAAAA', expiresAt: '2026-11-24T13:00:00Z' };
  }
  async deleteRunner(_scope: Scope, id: number): Promise<DeleteRunnerResult> {
    this.log.push(`gh delete ${id} → ${this.deleteAnswer}`);
    return this.deleteAnswer;
  }
  async runnerGroupId(org: string, group: string): Promise<number> {
    this.log.push(`gh group ${org}/${group}`);
    return 7;
  }
  budget() {
    return undefined;
  }
  /** nothing goes over HTTP */
  pointsSent() {
    return 0;
  }
  async rateLimit() {
    return { limit: 5000, remaining: 5000, resetAt: 0 };
  }
  async installationPermissions() {
    return undefined;
  }
  async repoAccess(owner: string, repo: string) {
    return { fullName: `${owner}/${repo}`, admin: true };
  }
  async listRunnerGroups() {
    return [{ id: 1, name: 'Default' }];
  }
}

export class FakeSnippets implements SnippetStore {
  readonly files = new Map<string, string>();
  constructor(private readonly log: Call[]) {}
  async write(node: string, file: string, content: string): Promise<void> {
    this.log.push(`snippet write ${node}/${file}`);
    this.files.set(`${node}/${file}`, content);
  }
  async remove(node: string, file: string): Promise<void> {
    this.log.push(`snippet remove ${node}/${file}`);
    this.files.delete(`${node}/${file}`);
  }
  async list(): Promise<ObservedSnippet[]> {
    return [];
  }
  volid(file: string): string {
    return `local:snippets/${file}`;
  }
}
