import { existsSync, readFileSync } from 'node:fs';

/** The only file access configuration loading does, so tests can hand in their own files. */
export interface ConfigFs {
  /** Returns the file's text; throws (with a Node-style `code`, e.g. ENOENT) when it cannot. */
  readText(path: string): string;
  exists(path: string): boolean;
}

export const nodeFs: ConfigFs = Object.freeze({
  readText: (path: string) => readFileSync(path, 'utf8'),
  exists: (path: string) => existsSync(path),
});

/** `ENOENT: no such file or directory, open '/x'` → `no such file or directory`; keeps messages short. */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') {
    const text = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
    return text ? `${text} (${err.code})` : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}
