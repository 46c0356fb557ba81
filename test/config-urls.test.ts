/**
 * API base URLs never need a query, a fragment or credentials; one that has them most likely carries
 * a secret (`?access_token=…`). It is refused at load (exit 78) and the message never shows the
 * value: refusing is simpler to make watertight than redacting every client's error text.
 */
import { rmSync } from 'node:fs';
import { runCli, shippedPools, validEnv } from './helpers/cli.js';

const SECRET = 'Sup3rS3cretV4lue';
let dir: string;
let pools: string;
beforeAll(() => ({ dir, pools } = shippedPools()));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('URLs with a query, fragment or credentials', () => {
  it.each([
    ['PROXMOX_URL', `https://pve1:8006/api2/json?access_token=${SECRET}`, "has a query string (?…), which an API base never needs and which may hold a credential"],
    ['PROXMOX_URL', `https://pve1:8006/api2/json#${SECRET}`, 'has a fragment (#…)'],
    ['PROXMOX_URL', `ftp://pve1/?token=${SECRET}`, "'ftp://pve1/?…' is not an http(s) URL"],
    ['PROXMOX_URL', `pve1 8006?token=${SECRET}`, "'pve1 8006?…' is not a URL"],
    ['PROXMOX_URL', `https://root:${SECRET}@pve1:8006`, 'contains a user name or password'],
    ['GITHUB_API_URL', `https://ghe.example.com/api/v3?access_token=${SECRET}`, 'has a query string (?…)'],
    ['GITHUB_API_URL', `https://x-access-token:${SECRET}@ghe.example.com/api/v3`, 'contains a user name or password'],
    ['GITHUB_API_URL', `gopher://ghe.example.com/#${SECRET}`, "'gopher://ghe.example.com/#…' is not an http(s) URL"],
  ])('%s=%s is exit 78 without the secret', async (name, value, message) => {
    const r = await runCli(['check'], { ...validEnv(pools), [name]: value });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`environment: ${name}: ${message}`);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});
