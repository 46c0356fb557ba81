/**
 * A pool's user_data template, checked when the configuration loads (start-up, `check`) instead of
 * when the first VM is made: a template that cannot render would otherwise loop clone → register →
 * fail → destroy for ever. The check is a trial render through the real renderer, with values at
 * least as long as any real VM of the pool gets, so a template that passes here renders for every VM.
 */
import { MAX_SNIPPET_BYTES, renderUserData, UserDataError, type Registration } from '../cloudinit/render.js';
import { describeFsError, FileShapeError, fsFix } from './fs.js';
import type { ConfigFs } from './fs.js';

const TEMPLATE_FIX = 'correct the template (cloud-init/README.md in the pve-runners package says what it must hold), or point user_data at one of the shipped cloud-init/*.yaml';
const TEMPLATE_SIZE_FIX = `keep the template well under ${MAX_SNIPPET_BYTES} bytes (1 MiB), the most Proxmox reads of a snippet: the rendered copy adds the runner's name and credentials (a few KiB)`;

/**
 * A real encoded_jit_config is base64 of three small JSON files (runner, OAuth client, RSA key), a
 * few KiB; four times that leaves room for GitHub making them longer.
 */
const SAMPLE_JIT_CONFIG = 'A'.repeat(16 * 1024);
/** Registration tokens are 29 characters today; runner URLs are the web URL of a repo or org. */
const SAMPLE_TOKEN = 'A'.repeat(128);
const SAMPLE_URL = `https://github.example.com/${'o'.repeat(39)}/${'r'.repeat(100)}`;
/** Every character runner.env escapes, plus YAML and placeholder syntax: it must stay data. */
const HOSTILE_LABEL = 'x"$(id)`\\\n: {{ runner_env }} #\'';

export interface TrialPool {
  readonly name: string;
  readonly prefix: string;
  readonly vmidHi: number;
  readonly nodes: readonly string[];
  readonly labels: readonly string[];
}

interface Problem {
  readonly message: string;
  readonly fix: string;
}

/** The template's text, or why it cannot be read (a template past the snippet limit is never read whole). */
export function readTemplate(fs: ConfigFs, path: string, base: string): { text: string } | Problem {
  try {
    const text = fs.readText(path, MAX_SNIPPET_BYTES);
    if (text.trim() === '') return { message: `${path} is empty`, fix: 'put the cloud-init user-data template there (see cloud-init/ in the pve-runners package)' };
    return { text };
  } catch (e) {
    const fix = e instanceof FileShapeError && e.kind === 'size' ? TEMPLATE_SIZE_FIX : fsFix(e, 'user_data', `create the file or correct the path; a relative path starts at ${base}`);
    return { message: `cannot read ${path}: ${describeFsError(e)}`, fix };
  }
}

/** Undefined when the template renders for both registration kinds, else what the renderer refused. */
export function trialRender(text: string, path: string, pool: TrialPool): Problem | undefined {
  const runnerName = `${pool.prefix}-${pool.vmidHi}-zzzz`;
  const node = [...pool.nodes].sort((a, b) => b.length - a.length)[0] ?? 'pve1';
  const registrations: Registration[] = [
    { kind: 'jit', encodedJitConfig: SAMPLE_JIT_CONFIG },
    { kind: 'token', url: SAMPLE_URL, token: SAMPLE_TOKEN, labels: [...pool.labels, HOSTILE_LABEL] },
  ];
  try {
    for (const registration of registrations) renderUserData(text, { runnerName, vmid: pool.vmidHi, pool: pool.name, node, registration }, path);
    return undefined;
  } catch (e) {
    if (e instanceof UserDataError) return { message: e.message, fix: e.tooLarge ? TEMPLATE_SIZE_FIX : TEMPLATE_FIX };
    throw e;
  }
}
