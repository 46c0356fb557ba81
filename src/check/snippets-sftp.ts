/**
 * `pve-runners check` for pools with `delivery: sftp`: on each node they place VMs on, connect (the
 * host key checked against SFTP_KNOWN_HOSTS_FILE), upload a probe snippet the way the daemon does
 * (temp name, rename, 0600), see that Proxmox lists it in that node's `snippets` content of
 * PROXMOX_STORAGE, and remove it.
 */
import { randomBytes } from 'node:crypto';
import type { ProxmoxApi } from '../proxmox/api.js';
import { SftpUnavailable } from '../snippets/sftp-connection.js';
import type { SftpSnippetStore } from '../snippets/sftp-store.js';
import { effectivePrivileges } from './privileges.js';
import { fail, ok, warn, type CheckLine } from './result.js';

export interface SftpProbeDeps {
  store: SftpSnippetStore;
  /** the sftp pools' nodes that are online */
  nodes: readonly string[];
  storage: string;
  user: string;
  /** undefined when Proxmox is unreachable: only the upload is probed */
  proxmox: ProxmoxApi | undefined;
}

// never parses as a runner's snippet: a running daemon's cleanup leaves it alone
const probeName = () => `pvr-check-${randomBytes(4).toString('hex')}.yaml`;

export async function probeSftp(d: SftpProbeDeps): Promise<CheckLine[]> {
  const dump = d.proxmox ? await d.proxmox.permissions().catch(() => undefined) : undefined;
  const mayList = !dump || effectivePrivileges(dump, `/storage/${d.storage}`).has('Datastore.Allocate');
  const lines: CheckLine[] = [];
  for (const node of d.nodes) {
    const what = `SFTP delivery to ${node}`;
    const file = probeName();
    try {
      await d.store.write(node, file, '#cloud-config\n# written by `pve-runners check` and removed at once; safe to delete\n');
    } catch (e) {
      lines.push(fail(what, e instanceof SftpUnavailable ? e.reason : `uploading a probe snippet as ${d.user} failed: ${(e as Error).message}`,
        e instanceof SftpUnavailable ? 'see the problem; scripts/setup-node-sftp.sh sets a node up and prints its host key lines' : `run scripts/setup-node-sftp.sh --storage ${d.storage} on ${node}: the account must be able to write in the storage's snippets/ directory`));
      continue;
    }
    try {
      if (!d.proxmox) {
        lines.push(ok(what, `connected, host key pinned, probe snippet uploaded and renamed as ${d.user}`));
        continue;
      }
      if (!mayList) {
        lines.push(warn(what, `connected, host key pinned, probe snippet uploaded; not verified that Proxmox lists it as ${d.storage}:snippets on ${node}: Proxmox lists snippet files only to tokens holding Datastore.Allocate on /storage/${d.storage}, which pve-runners does not need`,
          `none needed if the account's chroot is storage '${d.storage}''s path on ${node}; to be sure, look for pvr-check files with \`pvesm list ${d.storage} --content snippets\` while check runs`));
        continue;
      }
      const listed = await d.proxmox.storageContent(node, d.storage, 'snippets').catch((e: unknown) => e as Error);
      if (listed instanceof Error) lines.push(fail(what, `cannot list ${d.storage}:snippets on ${node}: ${listed.message}`, `grant Datastore.Audit on /storage/${d.storage} and make sure the storage holds snippets`));
      else if (listed.some((v) => v.volid === `${d.storage}:snippets/${file}`)) lines.push(ok(what, `connected, host key pinned, probe snippet uploaded, renamed and listed by Proxmox as ${d.storage}:snippets`));
      else lines.push(fail(what, `a snippet uploaded there does not appear as ${d.storage}:snippets/… on ${node}, so VMs started on ${node} would not find their cloud-init user-data`,
        `run scripts/setup-node-sftp.sh --storage ${d.storage} on ${node}: its chroot must be the path of storage '${d.storage}' (for local: /var/lib/vz), or set PROXMOX_STORAGE to the storage the account writes into`));
    } finally {
      try {
        await d.store.remove(node, file);
        if ((await d.store.list()).some((s) => s.node === node && s.file === file)) lines.push(fail(`${what}: probe removed`, `the probe snippet ${file} is still there after its removal`, `let ${d.user} delete its own files in snippets/ (scripts/setup-node-sftp.sh makes it group-writable and sticky)`));
      } catch (e) {
        lines.push(fail(`${what}: probe removed`, `removing the probe snippet ${file} failed: ${(e as Error).message}`, `delete it by hand, and let ${d.user} delete its own files in snippets/`));
      }
    }
  }
  d.store.close();
  return lines;
}
