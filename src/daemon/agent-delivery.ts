/**
 * delivery: guest-agent — the runner's inputs go into the running VM through the QEMU guest agent,
 * so no credential is ever written to Proxmox storage (no snippet, nothing in the cloud-init drive).
 *
 * After the start task, the agent is pinged (POST …/agent/ping) until it answers, within the pool's
 * boot_timeout; PVE answers 500 "QEMU guest agent is not running" until qemu-ga is up in the guest
 * (qemu-server PVE/QemuServer/Agent.pm agent_available). Then one file-write puts the whole of
 * runner.env at RUNNER_ENV_PATH. PVE's file-write opens the file truncating, writes, closes: a
 * failure can leave a prefix in the guest. The content therefore ends with RUNNER_ENV_COMPLETE_LINE,
 * and the image's run-once (runners/linux/run-once.sh --agent) acts only on a file whose last line
 * it is: a prefix never carries it, so a half-written file is never used.
 */
import { formatRunnerEnv } from '../cloudinit/runner-env.js';
import type { Registration } from '../cloudinit/render.js';
import type { Clock } from '../clock.js';
import { AGENT_FILE_WRITE_MAX, type ProxmoxApi } from '../proxmox/api.js';
import { ProxmoxError } from '../proxmox/errors.js';

export const RUNNER_ENV_PATH = '/etc/pve-runners/runner.env';
export const RUNNER_ENV_PATH_WINDOWS = 'C:\\ProgramData\\pve-runners\\runner.env';
/** The last line of an agent-written runner.env; a reader acts on the file only once it is there. */
export const RUNNER_ENV_COMPLETE_LINE = 'RUNNER_ENV_COMPLETE="1"\n';

/** The agent did not answer, or refused: the VM cannot get its runner this way. Message is secret-free. */
export class AgentDeliveryError extends Error {}

/** PVE's answers while the agent is not (yet) there to talk to (agent_available); anything else is final. */
const NOT_UP_YET = /^QEMU guest agent is not running|^qmp command 'guest-ping' failed|got timeout/;

export interface AgentDeliveryDeps {
  proxmox: ProxmoxApi;
  clock: Clock;
  pollMs: number;
}

/** The file's text: runner.env as cloud-init would write it, then the completion line. */
export function agentRunnerEnv(runnerName: string, reg: Registration): string {
  const text = formatRunnerEnv(runnerName, reg) + RUNNER_ENV_COMPLETE_LINE;
  if (text.length > AGENT_FILE_WRITE_MAX) throw new AgentDeliveryError(`runner.env is ${text.length} characters, more than the ${AGENT_FILE_WRITE_MAX} PVE's agent/file-write accepts`);
  return text;
}

/** Pings until the agent answers or `deadline` (clock ms) passes. */
export async function waitForAgent(d: AgentDeliveryDeps, node: string, vmid: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      await d.proxmox.agentPing(node, vmid);
      return;
    } catch (e) {
      if (!(e instanceof ProxmoxError)) throw e;
      if (/^No QEMU guest agent configured/.test(e.pveMessage)) {
        throw new AgentDeliveryError(`VM ${vmid} has no guest agent configured: set agent: 1 on the pool's template (delivery: guest-agent needs it)`);
      }
      if (!(e.status === 500 && NOT_UP_YET.test(e.pveMessage))) throw e;
    }
    if (d.clock.now() + d.pollMs > deadline) throw new AgentDeliveryError(`the guest agent of VM ${vmid} did not answer within boot_timeout`);
    await d.clock.sleep(d.pollMs);
  }
}

/** Waits for the agent, asks which OS it runs in (the file's place differs on Windows), then writes the runner's inputs in one call. */
export async function deliverThroughAgent(d: AgentDeliveryDeps, t: { node: string; vmid: number; deadline: number }, content: string): Promise<string> {
  await waitForAgent(d, t.node, t.vmid, t.deadline);
  const file = (await d.proxmox.agentOsId(t.node, t.vmid)) === 'mswindows' ? RUNNER_ENV_PATH_WINDOWS : RUNNER_ENV_PATH;
  await d.proxmox.agentFileWrite(t.node, t.vmid, file, content);
  return file;
}
