/**
 * Every moment of each runner VM's life the pickup breakdown needs, as the simulator saw it: the
 * clone request and its task's end, the requests naming the VM (config, start, task polls, its
 * JIT config), the start task's end, the guest's runner process starting, the runner coming online
 * on GitHub, and whether it is idle. Also the pools' hot/warm sizes over time. Scenario ms.
 */

/** One request (or task) that kept a VM's chain waiting on Proxmox or GitHub: [startMs, endMs]. */
export interface Span {
  startMs: number;
  endMs: number;
}

/** One VM from its clone request to its end; a VMID used again is a new incarnation. */
export interface VmLife {
  vmid: number;
  name?: string;
  pool?: string;
  full: boolean;
  cloneRequestMs: number;
  cloneEndMs?: number;
  /** the first start request (a warm VM's comes long after its clone) */
  startRequestMs?: number;
  startEndMs?: number;
  /** the guest's first runner program (config.sh or run.sh) began: boot is over */
  runnerStartMs?: number;
  onlineMs?: number;
  /** GitHub registration used: `token` when config.sh ran first */
  registration?: 'jit' | 'token';
  online: boolean;
  busy: boolean;
  destroyedMs?: number;
  /** requests naming this VM (Proxmox) or its runner (GitHub), and its tasks while they ran */
  spans: Span[];
  cloneUpid?: string;
  startUpid?: string;
}

/** A pool's hot (idle, online, ours) runners and warm (stopped, cloned, never started) VMs from `tMs` on. */
export interface TierSample {
  tMs: number;
  pool: string;
  hot: number;
  warm: number;
}

const CLONE = 'POST /nodes/{node}/qemu/{vmid}/clone';
const START = 'POST /nodes/{node}/qemu/{vmid}/status/start';
const NEXTID = 'GET /cluster/nextid';
const TASK = /^GET \/nodes\/\{node\}\/tasks\/\{upid\}/;

export class Timeline {
  /** every incarnation, in clone order */
  readonly vms: VmLife[] = [];
  private readonly byVmid = new Map<number, VmLife>();
  private readonly byName = new Map<string, VmLife>();
  private readonly byUpid = new Map<string, VmLife>();
  private readonly openTasks = new Map<string, number>();
  /** requests naming a VMID before its clone (GET /cluster/nextid?vmid=N): the next incarnation's */
  private readonly before = new Map<number, Span[]>();
  readonly tiers: TierSample[] = [];
  private readonly lastTier = new Map<string, string>();

  constructor(private readonly now: () => number) {}

  /** A Proxmox request ended (`upid`: the task it started). Attributed by the VMID it names. */
  pveRequest(r: { startMs: number; endpoint: string; params: Record<string, string>; status: number; upid?: string }): void {
    const endMs = this.now();
    if (r.endpoint === CLONE && r.status === 200 && r.params.newid !== undefined) {
      const vm: VmLife = { vmid: Number(r.params.newid), name: r.params.name, full: r.params.full === '1', cloneRequestMs: r.startMs, online: false, busy: false, spans: [] };
      vm.spans.push(...(this.before.get(vm.vmid) ?? []));
      this.before.delete(vm.vmid);
      this.vms.push(vm);
      this.byVmid.set(vm.vmid, vm);
      if (vm.name) this.byName.set(vm.name, vm);
      if (r.upid) this.task(vm, r.upid, 'clone');
    }
    const vm = this.vmOf(r.endpoint, r.params);
    if (!vm) {
      const next = r.endpoint === NEXTID ? Number(r.params.vmid) : NaN;
      if (Number.isInteger(next)) this.before.set(next, [...(this.before.get(next) ?? []), { startMs: r.startMs, endMs }]);
      return;
    }
    vm.spans.push({ startMs: r.startMs, endMs });
    // every task the VM's requests start (qmconfig too) keeps its chain waiting on Proxmox while it runs
    if (r.upid && r.endpoint !== CLONE && r.endpoint !== START) this.task(vm, r.upid, 'other');
    if (r.endpoint === START && r.status === 200) {
      vm.startRequestMs ??= r.startMs;
      if (r.upid) this.task(vm, r.upid, 'start');
      this.sampleTiers();
    }
    if (r.params.name !== undefined && vm.name === undefined) {
      vm.name = r.params.name;
      this.byName.set(vm.name, vm);
    }
  }

  /** A Proxmox task ended. */
  taskEnded(upid: string, ok: boolean): void {
    const vm = this.byUpid.get(upid);
    const started = this.openTasks.get(upid);
    if (!vm || started === undefined) return;
    this.openTasks.delete(upid);
    const t = this.now();
    vm.spans.push({ startMs: started, endMs: t });
    if (ok && upid === vm.cloneUpid) vm.cloneEndMs = t;
    if (ok && upid === vm.startUpid) vm.startEndMs = t;
    this.sampleTiers();
  }

  /** A GitHub request about one runner (its JIT config) ended. */
  githubRequest(startMs: number, runnerName: string): void {
    this.byName.get(runnerName)?.spans.push({ startMs, endMs: this.now() });
  }

  vmPooled(vmid: number, pool: string): void {
    const vm = this.byVmid.get(vmid);
    if (vm && vm.destroyedMs === undefined) vm.pool = pool;
    this.sampleTiers();
  }

  vmDestroyed(vmid: number): void {
    const vm = this.byVmid.get(vmid);
    if (vm && vm.destroyedMs === undefined) {
      vm.destroyedMs = this.now();
      vm.online = false;
    }
    this.sampleTiers();
  }

  /** The guest of `vmid` started its first runner program. */
  runnerProcess(vmid: number, program: 'config' | 'run'): void {
    const vm = this.byVmid.get(vmid);
    if (!vm || vm.runnerStartMs !== undefined) return;
    vm.runnerStartMs = this.now();
    vm.registration = program === 'config' ? 'token' : 'jit';
  }

  runnerOnline(name: string): void {
    const vm = this.byName.get(name);
    if (!vm) return;
    vm.onlineMs ??= this.now();
    vm.online = true;
    this.sampleTiers();
  }

  runnerBusy(name: string): void {
    const vm = this.byName.get(name);
    if (vm) vm.busy = true;
    this.sampleTiers();
  }

  runnerOffline(name: string): void {
    const vm = this.byName.get(name);
    if (vm) vm.online = false;
    this.sampleTiers();
  }

  vmNamed(name: string): VmLife | undefined {
    return this.byName.get(name);
  }

  private task(vm: VmLife, upid: string, kind: 'clone' | 'start' | 'other'): void {
    this.byUpid.set(upid, vm);
    this.openTasks.set(upid, this.now());
    if (kind === 'clone') vm.cloneUpid = upid;
    if (kind === 'start') vm.startUpid = upid;
  }

  private vmOf(endpoint: string, params: Record<string, string>): VmLife | undefined {
    if (TASK.test(endpoint)) return params.upid !== undefined ? this.byUpid.get(params.upid) : undefined;
    const raw = endpoint === CLONE ? params.newid : endpoint.includes('/qemu/{vmid}') || endpoint === NEXTID ? params.vmid : undefined;
    if (raw === undefined) return undefined;
    const vm = this.byVmid.get(Number(raw));
    return vm && vm.destroyedMs === undefined ? vm : undefined;
  }

  /* One sample per pool whose (hot, warm) changed: the office-hours check reads how fast sizes follow a rule. */
  private sampleTiers(): void {
    const counts = new Map<string, { hot: number; warm: number }>();
    for (const vm of this.vms) {
      if (vm.pool === undefined) continue;
      const c = counts.get(vm.pool) ?? { hot: 0, warm: 0 };
      counts.set(vm.pool, c);
      if (vm.destroyedMs !== undefined) continue;
      if (vm.online && !vm.busy) c.hot++;
      if (vm.cloneEndMs !== undefined && vm.startRequestMs === undefined) c.warm++;
    }
    const t = this.now();
    for (const [pool, c] of counts) {
      const key = `${c.hot}/${c.warm}`;
      if (this.lastTier.get(pool) === key) continue;
      this.lastTier.set(pool, key);
      this.tiers.push({ tMs: t, pool, ...c });
    }
  }
}
