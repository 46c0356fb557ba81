/**
 * A guest's disk as far as its bootstrap can see it: files with content, mode and owner, the users
 * the image has, and the host name. In memory, one per VM; paths are absolute and normalised.
 */
export interface GuestFile {
  content: string;
  mode: number;
  owner: string;
  group: string;
}

export interface GuestUser {
  uid: number;
  home: string;
}

export class FsError extends Error {}

export class GuestFs {
  private readonly files = new Map<string, GuestFile>();
  private readonly dirs = new Set<string>(['/']);
  readonly users = new Map<string, GuestUser>();
  hostname = 'localhost';

  constructor(readonly windows = false) {}

  /** Absolute, `.`/`..` resolved; Windows paths keep their drive and compare case-insensitively. */
  resolve(path: string, cwd = '/'): string {
    if (this.windows) return path.replace(/\//g, '\\').toLowerCase();
    const parts = (path.startsWith('/') ? path : `${cwd}/${path}`).split('/');
    const out: string[] = [];
    for (const p of parts) {
      if (p === '' || p === '.') continue;
      if (p === '..') out.pop();
      else out.push(p);
    }
    return `/${out.join('/')}`;
  }

  private parent(path: string): string {
    const i = path.lastIndexOf(this.windows ? '\\' : '/');
    return i <= 0 ? (this.windows ? path.slice(0, 3) : '/') : path.slice(0, i);
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  isDir(path: string): boolean {
    return this.dirs.has(path);
  }

  read(path: string): GuestFile | undefined {
    return this.files.get(path);
  }

  mkdir(path: string, parents: boolean): void {
    if (this.windows || this.dirs.has(path)) return;
    const up = this.parent(path);
    if (!this.dirs.has(up)) {
      if (!parents) throw new FsError(`cannot create directory '${path}': No such file or directory`);
      this.mkdir(up, true);
    }
    if (this.files.has(path)) throw new FsError(`cannot create directory '${path}': File exists`);
    this.dirs.add(path);
  }

  /** Writes (or appends to) a file; the directory must exist unless `parents` (write_files makes them). */
  write(path: string, content: string, opts: { append?: boolean; mode?: number; owner?: string; group?: string; parents?: boolean } = {}): void {
    if (this.dirs.has(path)) throw new FsError(`${path}: Is a directory`);
    const up = this.parent(path);
    if (!this.windows && !this.dirs.has(up)) {
      if (!opts.parents) throw new FsError(`${path}: No such file or directory`);
      this.mkdir(up, true);
    }
    const old = this.files.get(path);
    this.files.set(path, {
      content: opts.append && old ? old.content + content : content,
      mode: opts.mode ?? old?.mode ?? 0o644,
      owner: opts.owner ?? old?.owner ?? 'root',
      group: opts.group ?? old?.group ?? 'root',
    });
  }

  remove(path: string): boolean {
    return this.files.delete(path);
  }

  chmod(path: string, mode: number): void {
    const f = this.files.get(path);
    if (f) f.mode = mode;
    else if (!this.dirs.has(path)) throw new FsError(`cannot access '${path}': No such file or directory`);
  }

  chown(path: string, owner: string, group: string | undefined): void {
    if (!this.users.has(owner)) throw new FsError(`invalid user: '${owner}'`);
    const f = this.files.get(path);
    if (f) {
      f.owner = owner;
      if (group !== undefined) f.group = group;
    } else if (!this.dirs.has(path)) throw new FsError(`cannot access '${path}': No such file or directory`);
  }
}
