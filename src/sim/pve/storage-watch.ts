/**
 * The check behind "no secret on Proxmox storage": before every request the simulated Proxmox
 * answers, each snippets directory that changed is read again, and at every VM start the
 * cloud-init drive it builds (the cicustom user-data and the VM's own config values: ciuser,
 * cipassword, sshkeys, …, all in `<vmid>.conf` on pmxcfs) is read too. Any runner credential the
 * simulated GitHub issued (JIT configs, registration tokens), whole or inside base64, is recorded
 * by place — never by value. The daemon always writes snippets by rename, which changes the
 * directory's mtime, so a write is seen by the next request (the start that uses it at the latest).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Snippets } from './snippets.js';

/** Long enough that a base64 run can hold a 29-character registration token. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{40,}={0,2}/g;

export class StorageWatch {
  /** where a secret was seen: `snippets <node>/<file>` or `vm <vmid> cloud-init drive`, each place once */
  readonly places: string[] = [];
  private readonly dirMtimes = new Map<string, number>();
  private readonly fileSigs = new Map<string, string>();
  private secrets: () => readonly string[] = () => [];

  constructor(private readonly snippets: Snippets) {}

  /** What counts as a secret (the simulated GitHub's issued credentials), asked at each check. */
  watchFor(secrets: () => readonly string[]): void {
    this.secrets = secrets;
  }

  scanSnippets(): void {
    for (const [node, dir] of Object.entries(this.snippets.directories())) {
      const mtime = statSync(dir).mtimeMs;
      if (this.dirMtimes.get(dir) === mtime) continue;
      this.dirMtimes.set(dir, mtime);
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (!e.isFile()) continue;
        const path = join(dir, e.name);
        let text: string;
        let sig: string;
        try {
          const st = statSync(path);
          sig = `${st.size}:${st.mtimeMs}`;
          if (this.fileSigs.get(path) === sig) continue;
          text = readFileSync(path, 'utf8');
        } catch {
          continue; // gone between the listing and the read
        }
        this.fileSigs.set(path, sig);
        this.check(`snippets ${this.snippets.shared ? 'shared' : node}/${e.name}`, text);
      }
    }
  }

  /** The drive a start builds: its user-data and the config values Proxmox generates the rest from. */
  checkDrive(vmid: number, userData: string | undefined, config: ReadonlyMap<string, string>): void {
    this.check(`vm ${vmid} cloud-init drive`, [userData ?? '', ...config.values()].join('\n'));
  }

  private check(place: string, text: string): void {
    const secrets = this.secrets();
    if (secrets.length === 0) return;
    const texts = [text, ...[...text.matchAll(BASE64_RUN)].map((m) => Buffer.from(m[0], 'base64').toString('utf8'))];
    if (secrets.some((s) => s.length >= 16 && texts.some((t) => t.includes(s))) && !this.places.includes(place)) this.places.push(place);
  }
}
