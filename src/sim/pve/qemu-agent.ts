/**
 * The QEMU guest agent endpoints (qemu-server PVE/API2/Qemu/Agent.pm, PVE/QemuServer/Agent.pm):
 * every call first runs agent_available — "No QEMU guest agent configured" when the config's
 * `agent` is unset or disabled, "VM <vmid> is not running", then "QEMU guest agent is not running"
 * until qemu-ga answers in the guest — each a plain die, so HTTP 500 with that text. file-write
 * base64-encodes `content` itself unless `encode=0` (then it must already be base64), and opens the
 * file `wb`, writes, closes: a write that fails leaves what reached the file. Errors qemu-ga
 * returns come back as "Agent error: <desc>".
 */
import { QgaError } from '../contracts.js';
import { parsePropertyString } from './formats.js';
import { arrayParam } from './params.js';
import { PveError } from './errors.js';
import { noteTouch } from './qemu-common.js';
import type { Params, PveWorld } from './world.js';

const agentFormat = { enabled: { type: 'boolean', default_key: 1 }, fstrim_cloned_disks: { type: 'boolean' }, type: { type: 'string' } };

/** get_qga_key($conf, 'enabled'): `agent: 1`, `agent: enabled=1,…`; `0` or absent is no agent. */
function agentEnabled(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const v = parsePropertyString(agentFormat, raw).enabled;
  return v === '1' || v === 'on' || v === 'yes' || v === 'true';
}

function available(w: PveWorld, p: Params, endpoint: string) {
  const vm = w.cluster.vmOn(p.node!, Number(p.vmid));
  noteTouch(w, vm, endpoint, p);
  if (!agentEnabled(vm.config.get('agent'))) throw new PveError('No QEMU guest agent configured');
  if (vm.status !== 'running') throw new PveError(`VM ${vm.vmid} is not running`);
  const agent = w.hooks.agent;
  if (!agent?.running(vm.vmid)) throw new PveError('QEMU guest agent is not running');
  return { vm, agent };
}

const qga = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    if (e instanceof QgaError) throw new PveError(`Agent error: ${e.message}`);
    throw e;
  }
};

export function agentPing(w: PveWorld, p: Params, endpoint: string): unknown {
  available(w, p, endpoint);
  return { result: {} };
}

export function agentOsInfo(w: PveWorld, p: Params, endpoint: string): unknown {
  const { vm, agent } = available(w, p, endpoint);
  return { result: qga(() => agent.osInfo(vm.vmid)) };
}

export function agentFileWrite(w: PveWorld, p: Params, endpoint: string): unknown {
  const { vm, agent } = available(w, p, endpoint);
  const encode = p.encode === undefined || p.encode === '1';
  let bytes: Buffer;
  if (encode) bytes = Buffer.from(p.content!, 'utf8');
  else {
    // qemu-ga decodes buf-b64 (g_base64_decode, which skips what is not base64); PVE checks nothing.
    bytes = Buffer.from(p.content!, 'base64');
  }
  const cut = w.faults.hit('agent_write_failure_rate', endpoint) ? Math.floor(bytes.length / 2) : undefined;
  qga(() => agent.fileWrite(vm.vmid, p.file!, bytes, cut));
  // A write cut short: the guest holds half the file; QMP timed out waiting for guest-file-write.
  if (cut !== undefined) throw new PveError(`VM ${vm.vmid} qmp command 'guest-file-write' failed - got timeout`);
  return null;
}

/**
 * exec: qemu_exec sends path = command[0], arg = the rest, capture-output, and input-data base64
 * encoded; `command` is an array parameter, so `command=cat /etc/x` as one value is a program
 * named "cat /etc/x". PVE answers qemu-ga's `{pid}` as it is.
 */
export function agentExec(w: PveWorld, p: Params, endpoint: string): unknown {
  const { vm, agent } = available(w, p, endpoint);
  const argv = arrayParam(p.command)!;
  const input = p['input-data'] === undefined ? undefined : Buffer.from(p['input-data'], 'utf8');
  return { pid: qga(() => agent.exec(vm.vmid, argv, input)) };
}

/** exec-status: qemu_exec_status decodes out-data/err-data from base64 and turns booleans into 1/0. */
export function agentExecStatus(w: PveWorld, p: Params, endpoint: string): unknown {
  const { vm, agent } = available(w, p, endpoint);
  const s = qga(() => agent.execStatus(vm.vmid, Number(p.pid)));
  const out: Record<string, unknown> = { exited: s.exited ? 1 : 0 };
  if (s.exitcode !== undefined) out.exitcode = s.exitcode;
  if (s.out) out['out-data'] = s.out.toString('utf8');
  if (s.err) out['err-data'] = s.err.toString('utf8');
  return out;
}
