/**
 * Renders a pool's cloud-init user-data template into the snippet one VM boots with.
 *
 * The template is parsed as YAML first and placeholders are replaced only inside string scalars, then
 * the result is serialised again by the `yaml` library: a value is always data, so no label, URL or
 * name can add a key, end a list or start a command. Both parse and output use YAML 1.1 rules, which
 * is what cloud-init's PyYAML reads (e.g. `0600` is an octal number there, `on` a boolean), and the
 * output is checked to read back identically under YAML 1.1 and 1.2. Placeholder syntax and the shape
 * a template must have are documented in cloud-init/README.md.
 */
import { isDeepStrictEqual } from 'node:util';
import YAML, { isScalar, isSeq } from 'yaml';
import { formatRunnerEnv } from './runner-env.js';

export type Registration =
  | { kind: 'jit'; encodedJitConfig: string }
  /** `group`: the organisation runner group config.sh joins (`--runnergroup`); absent for repositories */
  | { kind: 'token'; url: string; token: string; labels: string[]; group?: string };

export interface UserDataValues {
  runnerName: string;
  vmid: number;
  pool: string;
  node: string;
  registration: Registration;
}

/** Everything wrong with a template or with the values for it. `file` is the template's path. */
export class UserDataError extends Error {
  /** `tooLarge`: the template is fine but its snippet would exceed MAX_SNIPPET_BYTES. */
  constructor(readonly file: string, readonly detail: string, readonly tooLarge = false) {
    super(`${file}: ${detail}`);
    this.name = 'UserDataError';
  }
}

/**
 * The most Proxmox reads of a cicustom snippet: qemu-server's read_cloudinit_snippets_file reads it
 * with file_get_contents(…, 1 MiB), which dies "too long - aborting" only past the limit (PVE::Tools
 * safe_read_from), so exactly 1 MiB still starts. Bigger, and every start of the VM fails.
 */
export const MAX_SNIPPET_BYTES = 1024 * 1024;

export const PLACEHOLDERS = ['runner_name', 'vmid', 'pool', 'node', 'runner_env'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const RUNNER_ENV_CONTENT = /^\{\{\s*runner_env\s*\}\}$/;
const RUN_ONCE_RE = /(^|[\\/])run-once\.(sh|ps1)$/;
/** Keys whose string items cloud-init hands to a shell: a value substituted there could run as code. */
const SHELL_LIST_KEYS = new Set(['runcmd', 'bootcmd']);

const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

function pathText(path: Path): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '') || '(top level)';
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

/** Parses and checks a template; returns its plain value with placeholders still in place. */
export function checkUserDataTemplate(templateText: string, templateFile: string): { [key: string]: Json } {
  const fail = (detail: string): never => {
    throw new UserDataError(templateFile, detail);
  };
  // Rendering only adds text: a template past the limit cannot render to a snippet Proxmox reads.
  const size = Buffer.byteLength(templateText, 'utf8');
  if (size > MAX_SNIPPET_BYTES) throw new UserDataError(templateFile, `is ${size} bytes; a rendered snippet must stay within the ${MAX_SNIPPET_BYTES} bytes (1 MiB) Proxmox reads of one`, true);
  if (!/^#cloud-config[ \t]*\r?\n/.test(templateText)) fail('must start with a "#cloud-config" line (cloud-init ignores anything else as cloud-config)');

  const doc = YAML.parseDocument(templateText, { version: '1.1', prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) fail(`not valid YAML: ${doc.errors[0]!.message}`);
  YAML.visit(doc, {
    Pair(_key, pair) {
      if (!isScalar(pair.key)) {
        fail('a mapping key is itself a collection; an unquoted placeholder ({{ x }} is a YAML flow mapping) is the usual cause: put placeholders inside quotes, e.g. "{{ runner_name }}"');
      }
    },
  });

  const value = toPlain(doc.toJS({ maxAliasCount: 100 }), [], fail);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('must be a YAML mapping at the top level');

  checkPlaceholders(value, [], fail);
  findRunnerEnvEntry(value, fail);
  const runcmd = value.runcmd;
  const runsRunOnce =
    Array.isArray(runcmd) &&
    runcmd.some((cmd) => (Array.isArray(cmd) ? cmd.some((arg) => typeof arg === 'string' && RUN_ONCE_RE.test(arg)) : typeof cmd === 'string' && /run-once\.(sh|ps1)\b/.test(cmd)));
  if (!runsRunOnce) fail('runcmd must run the template\'s run-once script (/opt/actions-runner/run-once.sh, or run-once.ps1 on Windows)');
  return value;
}

/** Rejects what YAML can hold but a cloud-config cannot usefully be rendered from (dates, binary, sets). */
function toPlain(v: unknown, path: Path, fail: (d: string) => never): Json {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : fail(`${pathText(path)}: non-finite number`);
  if (Array.isArray(v)) return v.map((item, i) => toPlain(item, [...path, i], fail));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: { [key: string]: Json } = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) out[k] = toPlain(item, [...path, k], fail);
    return out;
  }
  return fail(`${pathText(path)}: unsupported YAML value (only strings, numbers, booleans, null, lists and mappings)`);
}

function checkPlaceholders(v: Json, path: Path, fail: (d: string) => never): void {
  if (typeof v === 'string') {
    const inShell = path.length === 2 && SHELL_LIST_KEYS.has(String(path[0]));
    for (const m of v.matchAll(PLACEHOLDER_RE)) {
      const name = m[1]!;
      if (!(PLACEHOLDERS as readonly string[]).includes(name)) fail(`${pathText(path)}: unknown placeholder {{ ${name} }}; known: ${PLACEHOLDERS.map((p) => `{{ ${p} }}`).join(', ')}`);
      if (inShell) fail(`${pathText(path)}: placeholders cannot go in a shell-string command; use the list form, e.g. [/path/cmd, "{{ ${name} }}"]`);
    }
    if (v.replace(PLACEHOLDER_RE, '').includes('{{')) fail(`${pathText(path)}: "{{" that is not a placeholder; placeholders look like {{ runner_name }}`);
    return;
  }
  if (Array.isArray(v)) v.forEach((item, i) => checkPlaceholders(item, [...path, i], fail));
  else if (v !== null && typeof v === 'object') {
    for (const [k, item] of Object.entries(v)) {
      if (k.includes('{{')) fail(`${pathText([...path, k])}: placeholders cannot be mapping keys`);
      checkPlaceholders(item, [...path, k], fail);
    }
  }
}

/**
 * The contract's one write_files entry for runner.env: mode '0600' (a quoted string — unquoted 0600 is
 * the number 384 to cloud-init), content exactly {{ runner_env }}, and {{ runner_env }} nowhere else
 * so the secrets cannot leak into a hostname, a log line or a world-readable file.
 */
function findRunnerEnvEntry(value: { [key: string]: Json }, fail: (d: string) => never): { index: number; b64: boolean } {
  const files = value.write_files;
  if (!Array.isArray(files)) return fail('write_files must be a list with the runner.env entry');
  const matches = files.flatMap((f, index) =>
    f !== null && typeof f === 'object' && !Array.isArray(f) && typeof f.path === 'string' && basename(f.path) === 'runner.env' ? [{ f, index }] : [],
  );
  if (matches.length !== 1) return fail(`write_files must have exactly one entry whose path ends in runner.env (found ${matches.length})`);
  const { f, index } = matches[0]!;
  const where = `write_files[${index}]`;
  if (f.permissions !== '0600') fail(`${where}.permissions must be the string '0600' (quoted)`);
  if (typeof f.content !== 'string' || !RUNNER_ENV_CONTENT.test(f.content)) fail(`${where}.content must be exactly "{{ runner_env }}"`);
  const encoding = f.encoding ?? null;
  if (encoding !== null && encoding !== 'b64' && encoding !== 'base64' && encoding !== 'text/plain') fail(`${where}.encoding must be absent, text/plain, b64 or base64`);
  if (f.append === true) fail(`${where}.append must not be set: runner.env is written whole`);

  const count = JSON.stringify(value).match(/\{\{\s*runner_env\s*\}\}/g)?.length ?? 0;
  if (count !== 1) fail(`{{ runner_env }} may appear only as ${where}.content (it holds the registration secret)`);
  return { index, b64: encoding === 'b64' || encoding === 'base64' };
}

function checkValues(values: UserDataValues, fail: (d: string) => never): void {
  if (!HOSTNAME_RE.test(values.runnerName)) fail(`runner name ${JSON.stringify(values.runnerName)} is not a valid host name (letters, digits, inner '-', at most 63)`);
  if (!Number.isInteger(values.vmid) || values.vmid < 100 || values.vmid > 999_999_999) fail(`vmid ${values.vmid} is not a Proxmox VMID (100 … 999999999)`);
  if (!NAME_RE.test(values.pool)) fail(`pool name ${JSON.stringify(values.pool)} must match ${NAME_RE.source}`);
  if (!HOSTNAME_RE.test(values.node)) fail(`node name ${JSON.stringify(values.node)} is not a valid host name`);
  const reg = values.registration;
  // Secret values are described, never quoted, in these messages.
  if (reg.kind === 'jit') {
    if (!BASE64_RE.test(reg.encodedJitConfig)) fail('the JIT config is not base64 text');
  } else if (reg.kind === 'token') {
    if (!/^https?:\/\/\S+$/.test(reg.url)) fail('registration URL must be an http(s) URL without whitespace');
    if (reg.token === '' || /[\s\0]/.test(reg.token)) fail('the registration token is empty or contains whitespace');
    if (reg.labels.length === 0) fail('a token registration needs at least one label');
  } else {
    fail(`unknown registration kind ${JSON.stringify((reg as { kind: unknown }).kind)}`);
  }
}

function substitute(v: Json, vars: Record<Placeholder, string>): Json {
  if (typeof v === 'string') return v.replace(PLACEHOLDER_RE, (_m, name: string) => vars[name as Placeholder]);
  if (Array.isArray(v)) return v.map((item) => substitute(item, vars));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, substitute(item, vars)]));
  return v;
}

/** Double quotes for one-line strings (never mistaken for a number, boolean or date by any YAML reader), literal blocks for multi-line ones. */
function serialise(value: Json): string {
  const doc = new YAML.Document(value, { version: '1.1' });
  YAML.visit(doc, {
    Scalar(key, node) {
      if (key !== 'key' && typeof node.value === 'string') node.type = node.value.includes('\n') ? 'BLOCK_LITERAL' : 'QUOTE_DOUBLE';
    },
    // Commands like runcmd's [cmd, arg] read best on one line.
    Seq(_key, node, path) {
      if (isSeq(path[path.length - 1]) && node.items.every((i) => isScalar(i) && !String(i.value).includes('\n'))) node.flow = true;
    },
  });
  return `#cloud-config\n${doc.toString({ lineWidth: 0 })}`;
}

export function renderUserData(templateText: string, values: UserDataValues, templateFile: string): string {
  const fail = (detail: string): never => {
    throw new UserDataError(templateFile, detail);
  };
  const template = checkUserDataTemplate(templateText, templateFile);
  checkValues(values, fail);

  let runnerEnv: string;
  try {
    runnerEnv = formatRunnerEnv(values.runnerName, values.registration);
  } catch (e) {
    return fail((e as Error).message);
  }
  const { b64 } = findRunnerEnvEntry(template, fail);
  const vars: Record<Placeholder, string> = {
    runner_name: values.runnerName,
    vmid: String(values.vmid),
    pool: values.pool,
    node: values.node,
    runner_env: b64 ? Buffer.from(runnerEnv, 'utf8').toString('base64') : runnerEnv,
  };
  const rendered = substitute(template, vars);
  const text = serialise(rendered);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SNIPPET_BYTES) throw new UserDataError(templateFile, `renders to ${size} bytes, more than the ${MAX_SNIPPET_BYTES} bytes (1 MiB) Proxmox reads of a snippet; the VM would not start`, true);

  // Belt and braces: whatever reads the snippet (cloud-init with YAML 1.1, the simulator with 1.2)
  // must see exactly the value we built.
  for (const version of ['1.1', '1.2'] as const) {
    if (!isDeepStrictEqual(YAML.parse(text, { version }), rendered)) fail(`rendered user-data does not read back identically as YAML ${version}`);
  }
  return text;
}
