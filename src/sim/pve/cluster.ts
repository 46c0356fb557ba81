/**
 * The simulated cluster's state: nodes, VMs (their config as PVE stores it), node memory in use,
 * and the snippet directories. Handlers read and change it; nothing here speaks HTTP.
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../rng.js';
import type { Scenario, ScenarioNode } from '../scenario.js';
import { PveError } from './errors.js';
import { parsePropertyString, splitList } from './formats.js';
import { pveApi, propertySchema } from './schema.js';

export type VmKind = 'ours' | 'template' | 'foreign';

export interface Vm {
  vmid: number;
  node: string;
  kind: VmKind;
  /** Options as PVE keeps them in `<vmid>.conf`, in file order (values as written there). */
  config: Map<string, string>;
  status: 'running' | 'stopped';
  pid?: number;
  startedAtMs?: number;
  /** MiB this VM holds on its node: from the moment a start is attempted until it stops. */
  heldMb: number;
  /** the template whose disk this VM's was cloned from: what the guest boots */
  image?: number;
}

const MIB = 1024 * 1024;
const configReturns = pveApi.endpoints['GET /nodes/{node}/qemu/{vmid}/config']!.returns.properties ?? {};
const memoryFormat = { current: { type: 'integer', default_key: 1 } };

export function memoryMb(config: Map<string, string>): number {
  const raw = config.get('memory');
  if (raw === undefined) return 512; // PVE's default
  return Number(parsePropertyString(memoryFormat, raw).current ?? 512);
}

export function vmTags(config: Map<string, string>): string[] {
  return splitList(config.get('tags') ?? '');
}

/** A random locally administered MAC as PVE makes (BC:24:11 is Proxmox's default prefix). */
export function randomMac(rng: Rng): string {
  const h = rng.hex(6).toUpperCase();
  return `BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

/** 2026-11-01T00:00:00Z, when the scenario's templates were built */
const TEMPLATE_CTIME = 1_793_491_200;

export class Cluster {
  readonly nodes = new Map<string, ScenarioNode>();
  readonly vms = new Map<number, Vm>();

  constructor(private readonly scenario: Scenario, private readonly rng: Rng) {
    for (const n of scenario.proxmox.nodes) this.nodes.set(n.name, n);
    for (const t of scenario.proxmox.templates) {
      const config = new Map<string, string>([
        ['agent', t.agent === false ? '0' : '1'], ['boot', 'order=scsi0'], ['cores', String(t.cores)], ['ide2', `${t.storage}:cloudinit,media=cdrom`],
        ['memory', String(t.memory)], ['name', t.name], ['net0', `virtio=${randomMac(rng)},bridge=vmbr0`], ['ostype', 'l26'],
        ['scsi0', `${t.storage}:base-${t.vmid}-disk-0,size=20G`], ['scsihw', 'virtio-scsi-single'], ['smbios1', `uuid=${rng.uuid()}`], ['template', '1'],
        // as the Packer templates under runners/ describe what they built
        ['description', `pve-runners ${t.name}; actions/runner ${t.runnerVersion}; built 2026-11-01T00:00:00Z`],
        // qemu-server's create_vm writes it (new_meta_info_string): a VM built again gets a new ctime
        ['meta', `creation-qemu=9.2.0,ctime=${TEMPLATE_CTIME}`],
      ]);
      this.vms.set(t.vmid, { vmid: t.vmid, node: t.node, kind: 'template', config, status: 'stopped', heldMb: 0 });
    }
    for (const f of scenario.proxmox.foreignVms) {
      const config = new Map<string, string>([
        ['cores', '1'], ['memory', String(f.memory)], ['name', f.name], ['net0', `virtio=${randomMac(rng)},bridge=vmbr0`],
        ['scsi0', `local-lvm:vm-${f.vmid}-disk-0,size=32G`], ['smbios1', `uuid=${rng.uuid()}`],
      ]);
      if (f.tags !== undefined) config.set('tags', f.tags);
      const running = f.status === 'running';
      this.vms.set(f.vmid, { vmid: f.vmid, node: f.node, kind: 'foreign', config, status: f.status, heldMb: running ? f.memory : 0, pid: running ? rng.int(1000, 4_000_000) : undefined, startedAtMs: running ? 0 : undefined });
    }
  }

  /**
   * The template built again in place (Packer destroying and re-creating the VMID): a new `meta`
   * ctime, the config otherwise as before. Clones already made keep what they were cloned from.
   */
  rebuildTemplate(vmid: number, atEpochS: number): void {
    const vm = this.vms.get(vmid);
    if (vm?.kind !== 'template') throw new Error(`VM ${vmid} is not a template`);
    vm.config.set('meta', `creation-qemu=9.2.0,ctime=${atEpochS}`);
  }

  templateStorage(vm: Vm): { storage: string; shared: boolean } {
    const t = this.scenario.proxmox.templates.find((x) => x.vmid === vm.vmid);
    const disk = vm.config.get('scsi0') ?? 'local-lvm:';
    const storage = t?.storage ?? disk.slice(0, disk.indexOf(':'));
    return { storage, shared: t?.sharedStorage ?? this.scenario.proxmox.templates.some((x) => x.storage === storage && x.sharedStorage) };
  }

  /** Whether a storage is shared (one lock and one device for the whole cluster), as storage.cfg says. */
  storageShared(storage: string): boolean {
    return this.scenario.proxmox.templates.some((x) => x.storage === storage && x.sharedStorage);
  }

  /** PVE's load_config: the VM must live on the node in the URL. */
  vmOn(node: string, vmid: number): Vm {
    const vm = this.vms.get(vmid);
    if (!vm || vm.node !== node) throw new PveError(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return vm;
  }

  usedMb(node: string): number {
    let used = 0;
    for (const vm of this.vms.values()) if (vm.node === node) used += vm.heldMb;
    return used;
  }

  freeMb(node: string): number {
    return (this.nodes.get(node)?.memoryMb ?? 0) - this.usedMb(node);
  }

  maxmemBytes(vm: Vm): number {
    return memoryMb(vm.config) * MIB;
  }

  /** SHA1 over the config file text, as PVE computes `digest`. */
  digest(vm: Vm): string {
    return createHash('sha1').update(this.configText(vm)).digest('hex');
  }

  configText(vm: Vm): string {
    const lines: string[] = [];
    const description = vm.config.get('description');
    if (description !== undefined) for (const l of description.split('\n')) lines.push(`#${l}`);
    for (const [k, v] of vm.config) if (k !== 'description') lines.push(`${k}: ${v}`);
    return lines.join('\n') + '\n';
  }

  /** The config as GET …/config returns it: integers and booleans typed per the schema. */
  typedConfig(vm: Vm): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (const [k, v] of vm.config) {
      const type = propertySchema(configReturns, k)?.type;
      out[k] = type === 'integer' || type === 'boolean' || type === 'number' ? Number(v) : v;
    }
    out.digest = this.digest(vm);
    return out;
  }

  uptimeS(vm: Vm, nowMs: number): number {
    return vm.status === 'running' && vm.startedAtMs !== undefined ? Math.max(0, Math.floor((nowMs - vm.startedAtMs) / 1000)) : 0;
  }
}
