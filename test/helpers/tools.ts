/**
 * Tests that run a Debian tool (shellcheck, cloud-init, systemd-analyze, promtool, prometheus) against what we ship.
 * `npm test` must pass on a fresh machine that has only Node.js: there a test whose tool is missing
 * is skipped, with one line on stderr saying what to install. Under CI=true nothing is skipped: a
 * missing tool fails every test that needs it (.ci/run installs them all).
 */
import { spawnSync } from 'node:child_process';

export interface Tool {
  /** the command the test runs */
  cmd: string;
  /** the Debian package that provides it */
  pkg: string;
}

export const SHELLCHECK: Tool = { cmd: 'shellcheck', pkg: 'shellcheck' };
export const CLOUD_INIT: Tool = { cmd: 'cloud-init', pkg: 'cloud-init' };
export const SYSTEMD_ANALYZE: Tool = { cmd: 'systemd-analyze', pkg: 'systemd' };
export const PROMTOOL: Tool = { cmd: 'promtool', pkg: 'prometheus' };
export const PROMETHEUS: Tool = { cmd: 'prometheus', pkg: 'prometheus' };
export const SSHD: Tool = { cmd: '/usr/sbin/sshd', pkg: 'openssh-server' };
export const SSH_KEYGEN: Tool = { cmd: 'ssh-keygen', pkg: 'openssh-client' };

const inCi = process.env.CI === 'true';

function installed(t: Tool): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', t.cmd], { stdio: 'ignore' }).status === 0;
}

/**
 * `describe` for tests that need `tools`: as is when they are installed; skipped with one visible
 * line when one is missing; under CI=true, run with a beforeAll that fails them all.
 */
export function describeWithTools(tools: readonly Tool[], title: string, fn: () => void): void {
  const missing = tools.filter((t) => !installed(t));
  if (missing.length === 0) {
    describe(title, fn);
    return;
  }
  const what = missing.map((t) => t.cmd).join(', ');
  const install = `apt-get install -y ${[...new Set(missing.map((t) => t.pkg))].join(' ')}`;
  if (inCi) {
    describe(title, () => {
      beforeAll(() => {
        throw new Error(`${what} not installed, and CI=true skips nothing: ${install} (.ci/run does this)`);
      });
      fn();
    });
    return;
  }
  process.stderr.write(`skipped: ${title} — needs ${what}: ${install}\n`);
  describe.skip(`${title} [skipped: needs ${what} — ${install}]`, fn);
}
