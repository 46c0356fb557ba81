/**
 * `pve-runners check`: SNIPPETS_DIR exists and is writable (a probe file is written and removed), and
 * Proxmox sees what is written there as `<storage>:snippets/<file>` on each node that will start VMs
 * from it — the mount that is missing or points at the wrong node otherwise only shows when a VM
 * fails to start.
 */
import { randomBytes } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { snippetsDirFor } from '../config/index.js';
import type { ProxmoxApi } from '../proxmox/api.js';
import { effectivePrivileges } from './privileges.js';
import { fail, ok, warn, type CheckLine } from './result.js';

export interface SnippetsDirProbeDeps {
  /** SNIPPETS_DIR, possibly with `{node}` */
  snippetsDir: string;
  /** nodes VMs are started on */
  nodes: readonly string[];
  /** PROXMOX_STORAGE */
  storage: string;
  /** undefined when Proxmox is unreachable: only the directory itself is probed */
  proxmox: ProxmoxApi | undefined;
}

// `pvr-` + `.yaml` makes Proxmox list it as a snippet; the name never parses as a runner's, so a
// running daemon's snippet cleanup leaves it alone.
const probeName = () => `pvr-check-${randomBytes(4).toString('hex')}.yaml`;

function fsProblem(e: unknown): { code: string; text: string } {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const text: Record<string, string> = {
    ENOENT: 'does not exist',
    ENOTDIR: 'is not a directory',
    EACCES: 'is not writable by this user',
    EPERM: 'is not writable by this user',
    EROFS: 'is on a read-only file system',
    ENOSPC: 'has no space left',
  };
  return { code, text: text[code] ?? (e as Error).message };
}

async function probeDir(d: SnippetsDirProbeDeps, dir: string, nodes: readonly string[]): Promise<CheckLine[]> {
  const what = `SNIPPETS_DIR ${dir}${d.snippetsDir.includes('{node}') ? '' : nodes.length ? ` (for ${nodes.join(', ')})` : ''}`;
  const mountFix = `mount the snippets directory of storage '${d.storage}'${nodes.length === 1 ? ` of ${nodes[0]}` : ''} there (for local: /var/lib/vz/snippets), writable by the daemon's user, or set SNIPPETS_DIR to where it is mounted`;
  try {
    if (!(await stat(dir)).isDirectory()) return [fail(what, 'is not a directory', mountFix)];
  } catch (e) {
    return [fail(what, fsProblem(e).text, mountFix)];
  }
  const file = probeName();
  const path = join(dir, file);
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile('#cloud-config\n# written by `pve-runners check` and removed at once; safe to delete\n');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const p = fsProblem(e);
    return [fail(what, `${p.text} (writing a probe file failed${p.code ? ` with ${p.code}` : ''})`, `let the daemon's user write there (\`chown\`/\`chmod\`, or the mount's options), or set SNIPPETS_DIR to a writable mount of the storage's snippets directory`)];
  }
  try {
    if (!d.proxmox || nodes.length === 0) return [ok(what, 'writable')];
    // pve-storage check_volume_access lists a snippet file only to whom holds Datastore.Allocate on
    // the storage, which pve-runners does not need (and should not hold): then nothing can be seen.
    const dump = await d.proxmox.permissions().catch(() => undefined);
    if (dump && !effectivePrivileges(dump, `/storage/${d.storage}`).has('Datastore.Allocate')) {
      return [warn(what, `writable; not verified that Proxmox reads it as ${d.storage}:snippets on ${nodes.join(', ')}: Proxmox lists snippet files only to tokens holding Datastore.Allocate on /storage/${d.storage}, which pve-runners does not need`,
        `none needed if ${dir} is the snippets directory of storage '${d.storage}'${d.snippetsDir.includes('{node}') ? '' : ' on every node it serves'}; to be sure, write a file there and look for it with \`pvesm list ${d.storage} --content snippets\` on ${nodes.join(', ')}`)];
    }
    const volid = `${d.storage}:snippets/${file}`;
    const lines: CheckLine[] = [];
    const seenOn: string[] = [];
    for (const node of nodes) {
      let listed: Array<{ volid: string }>;
      try {
        listed = await d.proxmox.storageContent(node, d.storage, 'snippets');
      } catch (e) {
        lines.push(fail(`${what}: seen by Proxmox on ${node}`, `cannot list ${d.storage}:snippets on ${node}: ${(e as Error).message}`, `grant Datastore.Audit on /storage/${d.storage} and make sure the storage holds snippets`));
        continue;
      }
      if (listed.some((v) => v.volid === volid)) seenOn.push(node);
      else {
        lines.push(fail(`${what}: seen by Proxmox on ${node}`, `a file written there does not appear as ${d.storage}:snippets/… on ${node}, so VMs started on ${node} would not find their cloud-init user-data`,
          d.snippetsDir.includes('{node}')
            ? `mount ${node}'s snippets directory of storage '${d.storage}' (for local: /var/lib/vz/snippets) at ${dir}`
            : `for a storage local to each node, use one mount per node and put {node} in SNIPPETS_DIR (e.g. /mnt/pve-snippets/{node}); else mount the shared storage's snippets directory at ${dir}`));
      }
    }
    if (seenOn.length) lines.unshift(ok(what, `writable; Proxmox lists what is written there as ${d.storage}:snippets on ${seenOn.join(', ')}`));
    return lines;
  } finally {
    await rm(path, { force: true });
  }
}

export async function probeSnippetsDir(d: SnippetsDirProbeDeps): Promise<CheckLine[]> {
  const perNode = d.snippetsDir.includes('{node}');
  const groups = perNode ? d.nodes.map((n) => ({ dir: snippetsDirFor(d.snippetsDir, n), nodes: [n] })) : [{ dir: d.snippetsDir, nodes: [...d.nodes] }];
  const lines: CheckLine[] = [];
  for (const g of groups) lines.push(...(await probeDir(d, g.dir, g.nodes)));
  return lines;
}
