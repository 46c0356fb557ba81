import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';

/** The only file access configuration loading does, so tests can hand in their own files. */
export interface ConfigFs {
  /**
   * Returns the text of a regular file of at most `maxBytes`; throws (with a Node-style `code`, e.g.
   * ENOENT, or a FileShapeError) when it cannot. Never blocks on a FIFO or reads a device.
   */
  readText(path: string, maxBytes: number): string;
  exists(path: string): boolean;
}

/** Secrets are one line, a PEM key a few KiB: anything bigger is the wrong file. */
export const MAX_SECRET_BYTES = 64 * 1024;
/** pools.yaml and a CA bundle: a few KiB in practice; 1 MiB is far beyond any real one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The file exists but is not something configuration can be read from: a pipe, a device, too big. */
export class FileShapeError extends Error {
  constructor(readonly kind: 'type' | 'size', detail: string) {
    super(detail);
    this.name = 'FileShapeError';
  }
}

function typeOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Opened non-blocking, so a FIFO without a writer cannot stall start-up; checked with fstat (on the
 * descriptor, so the file checked is the file read) before a byte is read; read at most one byte past
 * the limit, so a file that grows after the check, or a huge one, is never read whole.
 */
export function readBoundedText(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileShapeError('type', `it is ${typeOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw new FileShapeError('size', `it is ${st.size} bytes, more than the ${formatBytes(maxBytes)} allowed`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) throw new FileShapeError('size', `it grew past the ${formatBytes(maxBytes)} allowed while being read`);
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export const nodeFs: ConfigFs = Object.freeze({
  readText: readBoundedText,
  exists: (path: string) => existsSync(path),
});

/** `ENOENT: no such file or directory, open '/x'` → `no such file or directory`; keeps messages short. */
export function describeFsError(e: unknown): string {
  if (e instanceof FileShapeError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') {
    const text = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
    return text ? `${text} (${err.code})` : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}

/** The fix for a file that could not be read: for a pipe, device or oversized file, what to point at instead. */
export function fsFix(e: unknown, what: string, otherwise: string): string {
  if (e instanceof FileShapeError) {
    return e.kind === 'type' ? `point ${what} at a regular file (not a pipe, device or directory)` : `point ${what} at the right file; this one is far bigger than any valid one`;
  }
  return otherwise;
}
