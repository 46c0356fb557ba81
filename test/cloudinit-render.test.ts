/**
 * The shipped cloud-init templates, rendered by the daemon's renderer with realistic and hostile
 * values, checked by cloud-init's own schema validator and read back as cloud-init would read them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { MAX_SNIPPET_BYTES, renderUserData, UserDataError, type Registration, type UserDataValues } from '../src/cloudinit/render.js';
import { parseRunnerRegistration } from '../src/cloudinit/runner-env.js';
import { CLOUD_INIT, describeWithTools } from './helpers/tools.js';

const TEMPLATE_DIR = join(process.cwd(), 'cloud-init');
const templates = readdirSync(TEMPLATE_DIR).filter((f) => f.endsWith('.yaml')).sort();

const JIT = 'eyJydW5uZXIiOiJ7XCJhZ2VudElkXCI6MTIzfSIsIi5jcmVkZW50aWFscyI6ImV5SmhJam9pWWlKOSJ9';
const TOKEN = 'AABF3JGZDX3P5PMEXLND6TS6FCWO6';

const registrations: Record<string, Registration> = {
  jit: { kind: 'jit', encodedJitConfig: JIT },
  token: { kind: 'token', url: 'https://github.com/acme/app', token: TOKEN, labels: ['self-hosted', 'linux', 'x64', 'ubuntu-24.04'] },
  'token with hostile labels and URL': {
    kind: 'token',
    url: "https://github.com/acme/app\"'$(touch${IFS}/tmp/pwned)`id`#x=1;y",
    token: TOKEN,
    labels: [
      'self-hosted',
      'a\nruncmd: [[touch /tmp/pwned]]',
      '$(touch /tmp/pwned)',
      '`touch /tmp/pwned`',
      `it's "quoted"`,
      '- [rm -rf /]',
      '#comment: yes',
      'on',
      '0600',
      'back\\slash\\x41',
      'tab\there\rcr',
      'ünïcødé-ラベル',
      '{{ runner_env }}',
    ],
  },
};

function values(registration: Registration): UserDataValues {
  return { runnerName: 'ubuntu-2404-205-k3x9', vmid: 205, pool: 'ubuntu-2404', node: 'pve1', registration };
}

function runnerEnvEntry(doc: Record<string, unknown>): Record<string, unknown> {
  const files = doc.write_files as Array<Record<string, unknown>>;
  const entries = files.filter((f) => typeof f.path === 'string' && /runner\.env$/.test(f.path));
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pvr-cloudinit-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('shipped cloud-init templates', () => {
  it('there is one per runner OS', () => {
    expect(templates).toEqual(['ubuntu-2204.yaml', 'ubuntu-2404.yaml', 'windows-2022.yaml']);
  });

  describeWithTools([CLOUD_INIT], 'checked by cloud-init schema', () => {
    describe.each(templates)('%s', (file) => {
      const text = readFileSync(join(TEMPLATE_DIR, file), 'utf8');
      const template = YAML.parse(text, { version: '1.1' }) as Record<string, unknown>;

      it.each(Object.keys(registrations))('renders the %s variant into a valid cloud-config that reads back to the inputs', (variant) => {
        const input = values(registrations[variant]!);
        const rendered = renderUserData(text, input, file);
        const out = join(work, `${file}.${variant.replace(/\W+/g, '_')}.yaml`);
        writeFileSync(out, rendered);

        const schema = spawnSync('cloud-init', ['schema', '--config-file', out], { encoding: 'utf8' });
        expect({ status: schema.status, stdout: schema.stdout.trim(), stderr: schema.stderr.trim() }).toEqual({
          status: 0,
          stdout: `Valid cloud-config: ${out}`,
          stderr: '',
        });

        for (const version of ['1.1', '1.2'] as const) {
          const doc = YAML.parse(rendered, { version }) as Record<string, unknown>;
          // Structure is the template's: same keys, same number of files and commands, same commands.
          expect(Object.keys(doc).sort()).toEqual(Object.keys(template).sort());
          expect(doc.runcmd).toEqual(template.runcmd);
          expect((doc.write_files as unknown[]).length).toBe((template.write_files as unknown[]).length);
          if ('hostname' in template) expect(doc.hostname).toBe(input.runnerName);

          const entry = runnerEnvEntry(doc);
          expect(entry.permissions).toBe('0600');
          const content = entry.encoding === 'b64' ? Buffer.from(String(entry.content), 'base64').toString('utf8') : String(entry.content);
          expect(parseRunnerRegistration(content)).toEqual({ runnerName: input.runnerName, registration: input.registration });
        }
      });
    });
  });
});

describe('renderUserData', () => {
  const good = readFileSync(join(TEMPLATE_DIR, 'ubuntu-2404.yaml'), 'utf8');
  const render = (text: string, v: UserDataValues = values(registrations.jit!)) => renderUserData(text, v, 'pools/custom.yaml');

  it('writes a base64 runner.env when the template asks for encoding b64', () => {
    const b64 = good.replace('permissions: "0600"', 'permissions: "0600"\n    encoding: b64');
    const doc = YAML.parse(render(b64)) as Record<string, unknown>;
    const entry = runnerEnvEntry(doc);
    expect(entry.encoding).toBe('b64');
    expect(String(entry.content)).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(parseRunnerRegistration(Buffer.from(String(entry.content), 'base64').toString('utf8')).registration).toEqual(registrations.jit);
  });

  it('substitutes vmid, pool and node inside strings, list-form commands included', () => {
    const text = good.replace('  - [/opt/actions-runner/run-once.sh]', '  - [logger, "vm {{vmid}} of {{ pool }} on {{ node }}"]\n  - [/opt/actions-runner/run-once.sh]');
    const doc = YAML.parse(render(text)) as { runcmd: unknown[] };
    expect(doc.runcmd[0]).toEqual(['logger', 'vm 205 of ubuntu-2404 on pve1']);
  });

  const badTemplates: Array<[string, string, RegExp]> = [
    ['no #cloud-config header', good.replace('#cloud-config\n', ''), /#cloud-config/],
    ['invalid YAML', good.replace('runcmd:', 'runcmd: [unclosed'), /not valid YAML/],
    ['an unquoted placeholder', good.replace('hostname: "{{ runner_name }}"', 'hostname: {{ runner_name }}'), /unquoted placeholder/],
    ['permissions written as a number', good.replace('permissions: "0600"', 'permissions: 0600'), /permissions must be the string '0600'/],
    ['runner.env readable by others', good.replace('permissions: "0600"', 'permissions: "0644"'), /permissions must be the string '0600'/],
    ['the secret placed somewhere else too', good.replace('hostname: "{{ runner_name }}"', 'hostname: "{{ runner_env }}"'), /\{\{ runner_env \}\} may appear only/],
    ['runner.env content that is not the placeholder', good.replace('content: "{{ runner_env }}"', 'content: "X={{ runner_name }}"'), /content must be exactly/],
    ['an unknown placeholder', good.replace('hostname: "{{ runner_name }}"', 'hostname: "{{ runnername }}"'), /unknown placeholder \{\{ runnername \}\}/],
    ['a stray {{', good.replace('hostname: "{{ runner_name }}"', 'hostname: "{{ x"'), /"\{\{" that is not a placeholder/],
    ['a placeholder in a shell-string command', good.replace('  - [/opt/actions-runner/run-once.sh]', '  - "echo {{ pool }}"\n  - [/opt/actions-runner/run-once.sh]'), /runcmd\[0\]: placeholders cannot go in a shell-string command/],
    ['no run-once in runcmd', good.replace('[/opt/actions-runner/run-once.sh]', '[/bin/true]'), /runcmd must run/],
    ['no runner.env entry', good.replace('/etc/pve-runners/runner.env', '/etc/pve-runners/other.env'), /exactly one entry whose path ends in runner.env \(found 0\)/],
    ['a top-level list', '#cloud-config\n- a\n', /mapping at the top level/],
  ];
  it.each(badTemplates)('rejects a template with %s, naming the file', (_name, text, message) => {
    expect(() => render(text)).toThrow(UserDataError);
    expect(() => render(text)).toThrow(message);
    expect(() => render(text)).toThrow(/^pools\/custom\.yaml: /);
  });

  const badValues: Array<[string, Partial<UserDataValues>, RegExp]> = [
    ['a runner name that is no host name', { runnerName: 'ci-1\nruncmd: x' }, /runner name .* is not a valid host name/],
    ['a pool name with a quote', { pool: `a"b` }, /pool name/],
    ['a JIT config that is not base64', { registration: { kind: 'jit', encodedJitConfig: `${JIT}\nX=1` } }, /JIT config is not base64/],
    ['the contract\'s example label (its commas cannot reach config.sh)', { registration: { kind: 'token', url: 'https://github.com/acme', token: TOKEN, labels: ['a\nruncmd: [[touch, /tmp/pwned]]'] } }, /cannot be passed to config.sh --labels/],
    ['a label with a comma', { registration: { kind: 'token', url: 'https://github.com/acme', token: TOKEN, labels: ['a,b'] } }, /label "a,b" cannot be passed/],
    ['a token with a newline', { registration: { kind: 'token', url: 'https://github.com/acme', token: `${TOKEN}\nX=1`, labels: ['a'] } }, /registration token is empty or contains whitespace/],
    ['a URL with a newline', { registration: { kind: 'token', url: 'https://github.com/acme\nruncmd: [x]', token: TOKEN, labels: ['a'] } }, /URL must be an http\(s\) URL without whitespace/],
    ['no labels', { registration: { kind: 'token', url: 'https://github.com/acme', token: TOKEN, labels: [] } }, /at least one label/],
  ];
  it.each(badValues)('rejects %s without echoing secrets', (_name, override, message) => {
    const v = { ...values(registrations.jit!), ...override };
    let error: unknown;
    try {
      render(good, v);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserDataError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(JIT);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('snippet size', () => {
  // No comments (the renderer drops them), and a string value it keeps verbatim: the rendered size
  // grows one byte per character and stays above the template's.
  const sized = (n: number) =>
    `#cloud-config\nhostname: "{{ runner_name }}"\nwrite_files:\n  - path: /etc/pve-runners/runner.env\n    permissions: "0600"\n    content: "{{ runner_env }}"\nruncmd:\n  - [/opt/actions-runner/run-once.sh]\nfinal_message: "${'x'.repeat(n)}"\n`;
  const renderSized = (n: number) => renderUserData(sized(n), values(registrations.jit!), 'pools/big.yaml');

  it('renders a snippet of exactly the 1 MiB Proxmox reads, and refuses one byte more', () => {
    const n = MAX_SNIPPET_BYTES - 200_000;
    const exact = n + (MAX_SNIPPET_BYTES - Buffer.byteLength(renderSized(n)));
    expect(Buffer.byteLength(renderSized(exact))).toBe(MAX_SNIPPET_BYTES);
    expect(Buffer.byteLength(sized(exact + 1))).toBeLessThan(MAX_SNIPPET_BYTES);
    let error: unknown;
    try {
      renderSized(exact + 1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserDataError);
    expect(error).toMatchObject({ tooLarge: true, message: `pools/big.yaml: renders to ${MAX_SNIPPET_BYTES + 1} bytes, more than the 1048576 bytes (1 MiB) Proxmox reads of a snippet; the VM would not start` });
  });

  it('refuses a template over 1 MiB before parsing it', () => {
    const text = sized(MAX_SNIPPET_BYTES);
    expect(() => renderUserData(text, values(registrations.jit!), 'pools/big.yaml')).toThrow(`pools/big.yaml: is ${Buffer.byteLength(text)} bytes; a rendered snippet must stay within the 1048576 bytes (1 MiB) Proxmox reads of one`);
  });
});
