import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './e2e.js';

/**
 * The shipped pools.yaml with some of its text replaced, written beside a link to the shipped
 * cloud-init/ templates (user_data paths are relative to the pools file). Returns its path.
 */
export function poolsVariant(replace: Array<[string, string]>): string {
  let text = readFileSync(join(ROOT, 'pools.yaml'), 'utf8');
  for (const [from, to] of replace) {
    if (!text.includes(from)) throw new Error(`pools.yaml has no '${from}'`);
    text = text.split(from).join(to);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pvr-pools-'));
  symlinkSync(join(ROOT, 'cloud-init'), join(dir, 'cloud-init'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, text);
  return file;
}

/** A pools.yaml written as given, beside a link to the shipped cloud-init/ templates. Returns its path. */
export function poolsFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pvr-pools-'));
  symlinkSync(join(ROOT, 'cloud-init'), join(dir, 'cloud-init'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, text);
  return file;
}
