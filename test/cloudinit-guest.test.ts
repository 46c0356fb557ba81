/**
 * The simulator's guest boots from snippets rendered from the shipped cloud-init templates, so the
 * end-to-end tests exercise the real templates: it must find the same credentials that went in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderUserData, type Registration } from '../src/cloudinit/render.js';
import { credentialsFromUserData } from '../src/sim/guest.js';

const DIR = join(process.cwd(), 'cloud-init');
const templates = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

const registrations: Registration[] = [
  { kind: 'jit', encodedJitConfig: 'eyJydW5uZXIiOiJ7fSJ9' },
  { kind: 'token', url: 'https://github.com/acme/app', token: 'AABF3JGZDX3P5PMEXLND6TS6FCWO6', labels: ['self-hosted', 'linux', '$(id)', 'a"b\nc'] },
];

describe.each(templates)('simulated guest reading %s', (file) => {
  it.each(registrations.map((r) => [r.kind, r] as const))('recovers the %s credentials', (_kind, registration) => {
    const text = renderUserData(readFileSync(join(DIR, file), 'utf8'), { runnerName: 'ubuntu-2404-205-k3x9', vmid: 205, pool: 'ubuntu-2404', node: 'pve1', registration }, file);
    const creds = credentialsFromUserData(text);
    if (registration.kind === 'jit') expect(creds).toEqual(registration);
    else expect(creds).toEqual({ ...registration, name: 'ubuntu-2404-205-k3x9' });
  });
});
