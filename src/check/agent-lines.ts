/**
 * `check` for pools with delivery: guest-agent: the token's agent privileges on the pool's VMIDs
 * (PVE 9: VM.GuestAgent.Audit for ping/get-osinfo and VM.GuestAgent.FileWrite for file-write, each
 * also satisfied by VM.GuestAgent.Unrestricted — the permissions.check of those endpoints in
 * apidata 9.1.3; PVE 8: VM.Monitor for all of them, apidata 8.4), and that each template the pool
 * clones enables the agent (`agent: 1`): without it PVE answers every agent call "No QEMU guest
 * agent configured" and no runner would ever get its inputs.
 */
import type { PoolConfig } from '../config/index.js';
import { shortfalls, describeShortfalls, type PermissionDump, type Privilege } from './privileges.js';
import { fail, ok, type CheckLine } from './result.js';

export function agentPrivileges(pveMajor: number): Privilege[] {
  return pveMajor >= 9 ? [['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted'], ['VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted']] : ['VM.Monitor'];
}

/** `agent: 1`, `agent: enabled=1,…` (qemu-server's agent property string, `enabled` its default key). */
export function agentEnabled(value: string | number | undefined): boolean {
  if (value === undefined) return false;
  const first = String(value).split(',').map((p) => p.trim()).find((p) => p === '1' || p === '0' || p.startsWith('enabled='));
  return first === '1' || first === 'enabled=1';
}

export interface AgentLineInputs {
  pool: PoolConfig;
  /** the pool's VMIDs nobody else holds */
  vmids: readonly number[];
  /** VMIDs' inherited paths (the resource pool new VMs join) */
  inheritsFrom: readonly string[];
  /** template VMID → its config (undefined: unreadable, reported elsewhere) */
  templates: ReadonlyMap<number, Record<string, string | number> | undefined>;
  pveMajor: number;
  tokenId: string;
  resourcePool?: string;
}

export function agentLines(dump: PermissionDump, i: AgentLineInputs): CheckLine[] {
  if (i.pool.delivery !== 'guest-agent') return [];
  const lines: CheckLine[] = [];
  const privileges = agentPrivileges(i.pveMajor);
  const short = shortfalls(dump, i.vmids.map((id) => ({ path: `/vms/${id}`, privileges, inheritsFrom: i.inheritsFrom })));
  const what = `pool ${i.pool.name}: guest agent privileges`;
  const role = i.pveMajor >= 9 ? 'PVERunnersAgent' : 'PVERunnersAgentPve8';
  const target = i.resourcePool ? `/pool/${i.resourcePool}` : '/vms';
  const user = i.tokenId.split('!')[0]!;
  lines.push(short.length === 0
    ? ok(what, `ping and file-write on ${i.pool.vmidRange.lo}-${i.pool.vmidRange.hi}`)
    : fail(what, `missing ${describeShortfalls(short)}; delivery: guest-agent cannot wait for the agent or write runner.env`,
      `run scripts/create-proxmox-token.sh with --guest-agent, or \`pveum acl modify ${target} --roles ${role} --users ${user} --tokens '${i.tokenId}' --propagate 1\` (${role}: ${privileges.map((p) => (typeof p === 'string' ? p : p[0])).join(' ')}, see scripts/grants.conf)`));
  for (const [vmid, cfg] of i.templates) {
    if (!cfg) continue;
    const w = `pool ${i.pool.name}: template ${vmid} guest agent`;
    lines.push(agentEnabled(cfg.agent)
      ? ok(w, 'agent enabled')
      : fail(w, `template ${vmid} does not enable the QEMU guest agent (agent: ${cfg.agent ?? 'unset'}); every agent call would answer "No QEMU guest agent configured"`,
        `\`qm set ${vmid} --agent enabled=1\` on a node (the Packer templates in runners/ set qemu_agent = true), and install qemu-guest-agent in the image`));
  }
  return lines;
}
