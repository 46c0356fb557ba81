import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSnippetStore } from '../src/snippets/store.js';

describe('snippet store', () => {
  it('writes snippets with mode 0600, leaving no temporary file, per node when the path holds {node}', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pvr-snip-'));
    const store = new DirSnippetStore(join(root, '{node}', 'snippets'), ['pve1', 'pve2'], 'local');
    await store.write('pve2', 'pvr-ubuntu-200-ab12.yaml', '#cloud-config\n');
    const file = join(root, 'pve2', 'snippets', 'pvr-ubuntu-200-ab12.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('#cloud-config\n');
    expect(readdirSync(join(root, 'pve2', 'snippets'))).toEqual(['pvr-ubuntu-200-ab12.yaml']);
    expect(store.volid('pvr-ubuntu-200-ab12.yaml')).toBe('local:snippets/pvr-ubuntu-200-ab12.yaml');
  });

  it('replaces an existing snippet whole and lists only ours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvr-snip-'));
    const store = new DirSnippetStore(dir, ['pve1'], 'cephfs');
    writeFileSync(join(dir, 'user-notes.yaml'), 'not ours');
    await store.write('pve1', 'pvr-a-200-aaaa.yaml', 'old');
    await store.write('pve1', 'pvr-a-200-aaaa.yaml', 'new');
    expect(readFileSync(join(dir, 'pvr-a-200-aaaa.yaml'), 'utf8')).toBe('new');
    expect(await store.list()).toEqual([{ node: '', file: 'pvr-a-200-aaaa.yaml' }]);
    await store.remove('pve1', 'pvr-a-200-aaaa.yaml');
    await store.remove('pve1', 'pvr-a-200-aaaa.yaml'); // already gone is fine
    expect(await store.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual(['user-notes.yaml']);
  });
});
