import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { checkCommand } from '../src/cli/check.js';
import { daemonEnv } from '../src/cli/demo.js';
import { compareVersions } from '../src/github/octokit-api.js';
import { parseScenario } from '../src/sim/scenario.js';
import { Simulator } from '../src/sim/simulator.js';

const ROOT = resolve(process.cwd());
const DEMO = readFileSync(join(ROOT, 'scenarios/demo.yaml'), 'utf8');

async function check(scenarioText: string) {
  const sim = new Simulator(parseScenario(scenarioText), { speed: 20 });
  const endpoints = await sim.start();
  try {
    const lines: string[] = [];
    const code = await checkCommand({ env: daemonEnv(endpoints, join(ROOT, 'pools.yaml'), 20), cwd: ROOT, out: (l) => lines.push(l), write: () => {} });
    return { code, lines, endpoints };
  } finally {
    await sim.stop();
  }
}

describe('check: the runner version baked into templates', () => {
  it('passes when every template has the version GitHub offers', async () => {
    const { code, lines } = await check(DEMO);
    expect(code).toBe(0);
    expect(lines.filter((l) => l.includes('actions/runner'))).toEqual([
      "✓ template 'ubuntu-2404-runner-template' on pve1 (VMID 9000): actions/runner (2.336.0, GitHub's current)",
      "✓ template 'ubuntu-2404-runner-template' on pve2 (VMID 9100): actions/runner (2.336.0, GitHub's current)",
      "✓ template 'ubuntu-2204-runner-template' on pve1 (VMID 9001): actions/runner (2.336.0, GitHub's current)",
      "✓ template 'ubuntu-2204-runner-template' on pve2 (VMID 9101): actions/runner (2.336.0, GitHub's current)",
      "✓ template 'windows-2022-runner-template' on pve1 (VMID 9002): actions/runner (2.336.0, GitHub's current)",
    ]);
  });

  it('warns, with the fix, about a template whose runner lags the one GitHub offers', async () => {
    const stale = DEMO.replace('{name: ubuntu-2204-runner-template, vmid: 9101, node: pve2}', '{name: ubuntu-2204-runner-template, vmid: 9101, node: pve2, runner_version: 2.329.0}').replace('github:\n', 'github:\n  runner_version: 2.336.1\n');
    const { code, lines } = await check(stale);
    expect(code).toBe(0);
    const versionLines = lines.filter((l) => l.includes('actions/runner'));
    expect(versionLines.filter((l) => l.startsWith('!'))).toHaveLength(5);
    expect(versionLines).toContain(
      "! template 'ubuntu-2204-runner-template' on pve2 (VMID 9101): actions/runner: 2.329.0 is older than 2.336.1, the version GitHub offers; GitHub stops giving jobs to runners that lag a release by more than 30 days — fix: rebuild the template with runner_version = \"2.336.1\" (runners/README.md)",
    );
  });

  it('reads versions from a downloads answer shaped as the OpenAPI description says', async () => {
    const sim = new Simulator(parseScenario(DEMO), { speed: 20 });
    const e = await sim.start();
    try {
      const res = await fetch(`${e.github.url}/repos/acme/app/actions/runners/downloads`, { headers: { authorization: `token ${e.github.token}` } });
      const body = (await res.json()) as unknown;
      const spec = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json') as { components: object };
      const ajv = new Ajv({ strict: false });
      addFormats.default(ajv);
      ajv.addSchema({ $id: 'gh', components: spec.components });
      const valid = ajv.validate({ type: 'array', items: { $ref: 'gh#/components/schemas/runner-application' } }, body);
      expect(ajv.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    } finally {
      await sim.stop();
    }
  });

  it('orders versions numerically', () => {
    expect(['2.336.0', '2.99.1', '2.336.10', '3.0.0'].sort(compareVersions)).toEqual(['2.99.1', '2.336.0', '2.336.10', '3.0.0']);
  });
});
