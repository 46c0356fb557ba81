import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObservedSnippet } from '../planner/observation.js';
import { SNIPPET_PREFIX } from '../planner/names.js';

/** Where rendered user-data goes so Proxmox can find it as `STORAGE:snippets/FILE`. */
export interface SnippetStore {
  /** Atomically (temp file + rename), mode 0600: a reader never sees half a file, nobody else reads secrets. */
  write(node: string, file: string, content: string): Promise<void>;
  /** Gone already is fine. */
  remove(node: string, file: string): Promise<void>;
  /**
   * Files of our snippet shapes in every directory: `pvr-*.yaml`, and the `.pvr-*.yaml.<hex>.tmp` a
   * write killed before its rename leaves (mode 0600, holding a JIT config or registration token).
   * Which of them belong to a pool, and when they go, is the planner's call.
   */
  list(): Promise<ObservedSnippet[]>;
  /** cicustom volume of a file */
  volid(file: string): string;
  /** Nodes this store cannot deliver to now, with why (SFTP: unreachable, host key refused); placement skips them. */
  unavailable?(): ReadonlyMap<string, string>;
}

/** The name a snippet has while being written; must match what planner/names.ts recognises. */
export function tempName(file: string, hex: string): string {
  return `.${file}.${hex}.tmp`;
}

const TEMP_RE = new RegExp(`^\\.${SNIPPET_PREFIX}.+\\.yaml\\.[0-9a-f]{8}\\.tmp$`);

export function isOurShape(file: string): boolean {
  return (file.startsWith(SNIPPET_PREFIX) && file.endsWith('.yaml')) || TEMP_RE.test(file);
}

/**
 * Snippets on a mounted directory: one shared directory, or one per node when SNIPPETS_DIR holds
 * `{node}` (each node's local `snippets` dir mounted separately).
 */
export class DirSnippetStore implements SnippetStore {
  private readonly perNode: boolean;

  constructor(private readonly dirTemplate: string, private nodes: readonly string[], private readonly storage: string) {
    this.perNode = dirTemplate.includes('{node}');
  }

  /** A reload: the nodes whose directories are listed. A node no pool names any more stays listed, so its snippets still go. */
  addNodes(nodes: readonly string[]): void {
    this.nodes = [...new Set([...this.nodes, ...nodes])];
  }

  private dir(node: string): string {
    return this.perNode ? this.dirTemplate.split('{node}').join(node) : this.dirTemplate;
  }

  async write(node: string, file: string, content: string): Promise<void> {
    const dir = this.dir(node);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, tempName(file, randomBytes(4).toString('hex')));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, join(dir, file));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async remove(node: string, file: string): Promise<void> {
    await rm(join(this.dir(node), file), { force: true });
  }

  async list(): Promise<ObservedSnippet[]> {
    const out: ObservedSnippet[] = [];
    for (const node of this.perNode ? this.nodes : ['']) {
      let files: string[];
      try {
        files = await readdir(this.dir(node));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      for (const file of files) if (isOurShape(file)) out.push({ node, file });
    }
    return out;
  }

  volid(file: string): string {
    return `${this.storage}:snippets/${file}`;
  }
}
