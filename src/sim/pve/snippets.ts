/**
 * The snippet storage's real directories: one per node (`<root>/<node>/snippets`, like `local` on
 * each node of a real cluster) or one shared by all (`<root>/shared/snippets`, like NFS/CephFS).
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from '../scenario.js';

/** qemu-server caps a cicustom snippet at 1 MiB (Cloudinit.pm read_cloudinit_snippets_file). */
const MAX_SNIPPET_BYTES = 1024 * 1024;

export class Snippets {
  readonly storage: string;
  readonly shared: boolean;
  private readonly dirs = new Map<string, string>();

  constructor(root: string, scenario: Scenario) {
    this.storage = scenario.proxmox.storage;
    this.shared = scenario.proxmox.snippets === 'shared';
    for (const n of scenario.proxmox.nodes) {
      const dir = this.shared ? join(root, 'shared', 'snippets') : join(root, n.name, 'snippets');
      mkdirSync(dir, { recursive: true });
      this.dirs.set(n.name, dir);
    }
  }

  /** node → real directory, as `pve-runners sim` prints it. */
  directories(): Record<string, string> {
    return Object.fromEntries(this.dirs);
  }

  /** The path PVE would report for this storage (dir storage `local` is /var/lib/vz). */
  pvePath(file: string): string {
    const base = this.storage === 'local' ? '/var/lib/vz' : `/mnt/pve/${this.storage}`;
    return `${base}/snippets/${file}`;
  }

  list(node: string): Array<{ file: string; size: number; ctime: number }> {
    const dir = this.dirs.get(node);
    if (!dir) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const st = statSync(join(dir, e.name));
        return { file: e.name, size: st.size, ctime: Math.floor(st.mtimeMs / 1000) };
      })
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  /** PVE::Tools::file_get_contents as the start worker calls it; throws PVE's text if unreadable. */
  read(node: string, file: string): string {
    const dir = this.dirs.get(node);
    try {
      if (!dir || file.includes('/')) throw Object.assign(new Error(), { code: 'ENOENT' });
      const buf = readFileSync(join(dir, file));
      if (buf.length > MAX_SNIPPET_BYTES) throw new Error(`error reading '${this.pvePath(file)}' - file too long`);
      return buf.toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`can't open '${this.pvePath(file)}' - No such file or directory`);
      if (code === 'EACCES') throw new Error(`can't open '${this.pvePath(file)}' - Permission denied`);
      throw e;
    }
  }

  /** Files left behind in any snippets directory (each shared file once). */
  leftovers(): string[] {
    const seen = new Set<string>();
    for (const dir of new Set(this.dirs.values())) for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isFile()) seen.add(join(dir, e.name));
    return [...seen].sort();
  }
}
