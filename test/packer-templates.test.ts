/**
 * The Packer templates under runners/: each *.pkr.hcl parses as HCL2 (HashiCorp's own parser, via
 * @cdktf/hcl2json), declares what its example packer.pkrvars.hcl sets and vice versa, references only
 * files that exist, and installs run-once where the cloud-init templates' runcmd expects it.
 */
import { parse } from '@cdktf/hcl2json';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

const REPO = process.cwd();
const RUNNERS = join(REPO, 'runners');
const TEMPLATE_DIRS = readdirSync(RUNNERS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && readdirSync(join(RUNNERS, d.name)).some((f) => f.endsWith('.pkr.hcl')))
  .map((d) => d.name)
  .sort();

type Hcl = Record<string, unknown>;
type Variable = { default?: unknown; type?: string; sensitive?: boolean };

async function parseHcl(file: string): Promise<Hcl> {
  return (await parse(file, readFileSync(file, 'utf8'))) as Hcl;
}

async function loadDir(dir: string): Promise<{ files: Record<string, Hcl>; text: string; variables: Record<string, Variable>; locals: Set<string> }> {
  const names = readdirSync(join(RUNNERS, dir)).filter((f) => f.endsWith('.pkr.hcl'));
  const files: Record<string, Hcl> = {};
  const variables: Record<string, Variable> = {};
  const locals = new Set<string>();
  let text = '';
  for (const name of names) {
    const path = join(RUNNERS, dir, name);
    const hcl = await parseHcl(path);
    files[name] = hcl;
    text += readFileSync(path, 'utf8');
    for (const [v, decls] of Object.entries((hcl.variable ?? {}) as Record<string, Variable[]>)) {
      expect(variables[v]).toBeUndefined();
      variables[v] = decls[0]!;
    }
    for (const block of (hcl.locals ?? []) as Array<Record<string, unknown>>) Object.keys(block).forEach((k) => locals.add(k));
  }
  return { files, text, variables, locals };
}

/** The file paths a template points at, resolved the way Packer resolves ${path.root} and our local. */
function referencedFiles(dir: string, text: string): string[] {
  const root = join(RUNNERS, dir);
  const refs = [...text.matchAll(/"\$\{(path\.root|local\.linux_scripts)\}\/([^"]+)"/g)];
  return refs.map((m) => (m[1] === 'path.root' ? join(root, m[2]!) : join(root, '../linux', m[2]!)));
}

describe('Packer templates', () => {
  it('exist for every runner OS', () => {
    expect(TEMPLATE_DIRS).toEqual(['ubuntu-2204', 'ubuntu-2404', 'windows-2022']);
  });

  it('the HCL2 parser rejects broken HCL (so passing means something)', async () => {
    await expect(parse('broken.pkr.hcl', 'source "proxmox-iso" "x" {\n  vm_name = "a"\n')).rejects.toBeDefined();
    await expect(parse('broken.pkr.hcl', 'variable "x" {\n  default = "unterminated\n}\n')).rejects.toBeDefined();
  });

  it('keeps real variable files out of git', () => {
    const r = spawnSync('git', ['check-ignore', '-q', 'runners/ubuntu-2404/packer.auto.pkrvars.hcl'], { cwd: REPO });
    expect(r.status).toBe(0);
  });

  describe.each(TEMPLATE_DIRS)('%s', (dir) => {
    it('parses as HCL2 and builds one proxmox-iso source into a template', async () => {
      const { files } = await loadDir(dir);
      const sources = Object.values(files).flatMap((h) => Object.entries((h.source ?? {}) as Record<string, Record<string, unknown>>));
      expect(sources.map(([type, named]) => [type, Object.keys(named)])).toEqual([['proxmox-iso', [dir]]]);
      const builds = Object.values(files).flatMap((h) => (h.build ?? []) as Array<{ sources: string[] }>);
      expect(builds.map((b) => b.sources)).toEqual([[`source.proxmox-iso.${dir}`]]);
      const plugins = Object.values(files).flatMap((h) => (h.packer ?? []) as Array<{ required_plugins: Array<Record<string, { source: string }>> }>);
      expect(plugins[0]!.required_plugins[0]!.proxmox!.source).toBe('github.com/hashicorp/proxmox');
    });

    it('declares every variable its example packer.pkrvars.hcl sets, and the example sets every required one', async () => {
      const { variables } = await loadDir(dir);
      const example = await parseHcl(join(RUNNERS, dir, 'packer.pkrvars.hcl'));
      const declared = Object.keys(variables).sort();
      const required = declared.filter((v) => !('default' in variables[v]!));
      expect(Object.keys(example).filter((k) => !declared.includes(k))).toEqual([]);
      expect(required.filter((v) => !(v in example))).toEqual([]);
      // Secrets are declared sensitive, so Packer never prints them.
      for (const v of declared.filter((n) => /token|password/.test(n))) expect({ v, sensitive: variables[v]!.sensitive }).toEqual({ v, sensitive: true });
    });

    it('references only declared variables and locals, and files that exist', async () => {
      const { text, variables, locals } = await loadDir(dir);
      const usedVars = new Set([...text.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!));
      expect([...usedVars].filter((v) => !(v in variables))).toEqual([]);
      const usedLocals = new Set([...text.matchAll(/\blocal\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!));
      expect([...usedLocals].filter((l) => !locals.has(l))).toEqual([]);
      const files = referencedFiles(dir, text);
      expect(files.length).toBeGreaterThan(2);
      expect(files.filter((f) => !existsSync(f))).toEqual([]);
    });

    it('gives every templatefile exactly the placeholders its file uses', async () => {
      const { text } = await loadDir(dir);
      const calls = [...text.matchAll(/templatefile\("\$\{path\.root\}\/([^"]+)",\s*\{([^}]*)\}/g)];
      expect(calls.length).toBe(1);
      for (const [, file, args] of calls) {
        const given = [...args!.matchAll(/^\s*([a-z_]+)\s*=/gm)].map((m) => m[1]!).sort();
        const body = readFileSync(join(RUNNERS, dir, file!), 'utf8');
        const used = [...new Set([...body.matchAll(/\$\{([a-z_]+)\}/g)].map((m) => m[1]!))].sort();
        expect(used).toEqual(given);
      }
    });

    it('installs run-once where the cloud-init template\'s runcmd runs it', async () => {
      const { files } = await loadDir(dir);
      const fileProvisioners = Object.values(files).flatMap((h) =>
        ((h.build ?? []) as Array<{ provisioner: Record<string, Array<Record<string, unknown>>> }>).flatMap((b) => b.provisioner.file ?? []),
      );
      const shellInline = JSON.stringify(files);
      const userData = YAML.parse(readFileSync(join(REPO, 'cloud-init', `${dir}.yaml`), 'utf8')) as { runcmd: string[][] };
      const runOnce = userData.runcmd.flat().find((a) => /run-once\.(sh|ps1)$/.test(a))!;
      if (runOnce.endsWith('.ps1')) {
        expect(fileProvisioners.map((p) => String(p.destination).replace(/\//g, '\\'))).toContain(runOnce);
      } else {
        // Linux: uploaded to /tmp, then installed root-owned and executable at the runcmd path.
        expect(shellInline).toContain(`-m 0755 /tmp/run-once.sh ${runOnce}`);
      }
    });
  });

  it.each(['ubuntu-2204', 'ubuntu-2404'])('%s autoinstall renders to YAML with the build user and no other', (dir) => {
    const text = readFileSync(join(RUNNERS, dir, 'autoinstall/user-data.pkrtpl'), 'utf8').replace('${ssh_password_hash}', '$6$salt$hash');
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const doc = YAML.parse(text) as { autoinstall: { version: number; identity: { username: string; password: string } } };
    expect(doc.autoinstall.version).toBe(1);
    expect(doc.autoinstall.identity).toMatchObject({ username: 'packer', password: '$6$salt$hash' });
  });
});
