/**
 * `pve-runners check`: loads the configuration (a problem there is a ConfigError, exit 78), then
 * probes Proxmox, the snippets directory and GitHub and prints one line per probe. Exit 0 only when
 * nothing failed, i.e. a `run` would work; warnings (`!`) do not fail it.
 */
import { probeGithub } from '../check/github.js';
import { probeProxmox } from '../check/proxmox.js';
import { probeRunnerVersions } from '../check/runner-version.js';
import { formatCheckLine, type CheckLine } from '../check/result.js';
import { probeSnippetsDir } from '../check/snippets-dir.js';
import { probeSftp } from '../check/snippets-sftp.js';
import { sftpStore } from '../snippets/wire-stores.js';
import { probeWebhook } from '../check/webhook.js';
import { probeMetricsListener } from '../check/metrics-listen.js';
import { systemClock } from '../clock.js';
import { loadSettings, type Env } from '../config/index.js';
import { wire } from '../daemon/wire.js';
import { createLogger, Redactor } from '../log.js';

export interface CheckCommandOptions {
  env: Env;
  cwd: string;
  /** one line per probe */
  out: (line: string) => void;
  /** log lines of the clients (retries, rate limits), stderr by default */
  write?: (line: string) => void;
}

/** PROXMOX_POOL, read without depending on its field (added to the settings separately). */
export async function checkCommand(o: CheckCommandOptions): Promise<number> {
  const settings = loadSettings(o.env, { cwd: o.cwd });
  const redactor = new Redactor();
  const log = createLogger({ level: 'warn', format: 'text', secrets: redactor, write: o.write });
  const w = wire(settings, { clock: systemClock, log, redactor });
  const { env, config } = settings;
  const counts = { ok: 0, warn: 0, fail: 0 };
  // Every line goes through the redactor as well: a secret must not reach stdout even inside an echoed error.
  const print = (lines: readonly CheckLine[]) => {
    for (const l of lines) {
      counts[l.status]++;
      o.out(redactor.redact(formatCheckLine(l)));
    }
  };

  print([{ status: 'ok', what: 'configuration', problem: `${env.poolsConfig.file}: ${config.pools.length} pool(s) [${config.pools.map((p) => p.name).join(', ')}], ${config.github.repos.length} repo(s), ${config.github.orgs.length} org(s)` }]);
  const px = await probeProxmox({ proxmox: w.proxmox, config, url: env.proxmox.url, tokenId: env.proxmox.tokenId, storage: env.proxmox.storage, resourcePool: env.proxmox.pool });
  print(px.lines);
  const viaDir = config.pools.filter((p) => p.delivery === 'dir');
  if (viaDir.length > 0) print(await probeSnippetsDir({ snippetsDir: env.snippetsDir, nodes: px.onlineNodes.filter((n) => viaDir.some((p) => p.nodes.includes(n))), storage: env.proxmox.storage, proxmox: px.reachable ? w.proxmox : undefined }));
  const sftp = sftpStore(config.pools, { sftp: env.sftp, storage: env.proxmox.storage, log, redactor });
  if (sftp) print(await probeSftp({ store: sftp, nodes: px.onlineNodes.filter((n) => config.pools.some((p) => p.delivery === 'sftp' && p.nodes.includes(n))), storage: env.proxmox.storage, user: env.sftp.user, proxmox: px.reachable ? w.proxmox : undefined }));
  const gh = await probeGithub({ github: w.github, config, apiUrl: env.github.apiUrl, auth: env.github.auth.kind, now: systemClock.now(), pollIntervalMs: env.pollIntervalMs, webhook: env.webhook !== undefined });
  print(gh);
  if (px.reachable && !gh.some((l) => l.status === 'fail')) print(await probeRunnerVersions({ proxmox: w.proxmox, github: w.github, config }));
  if (w.webhook) print([await probeWebhook(w.webhook)]);
  if (w.metricsListener) print([await probeMetricsListener(w.metricsListener)]);

  o.out(`${counts.fail === 0 ? '✓' : '✗'} ${counts.ok} passed, ${counts.warn} warning(s), ${counts.fail} failed${counts.fail === 0 ? ': `pve-runners run` has what it needs' : ''}`);
  return counts.fail === 0 ? 0 : 1;
}
