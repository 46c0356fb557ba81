import { loadScenario } from '../sim/scenario.js';
import { Simulator, type SimEndpoints } from '../sim/simulator.js';

export interface SimCommandOptions {
  scenario: string;
  speed: number;
  /** where the scenario's webhook (github.webhook) delivers; without it every delivery fails, as to a dead URL */
  webhookUrl?: string;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<void>;
}

/** The JSON line `pve-runners sim` prints: both services' URLs and credentials, snake_case like the report. */
export function describeEndpoints(e: SimEndpoints): Record<string, unknown> {
  return {
    proxmox: {
      url: e.proxmox.url,
      token_id: e.proxmox.tokenId,
      token_secret: e.proxmox.tokenSecret,
      storage: e.proxmox.storage,
      nodes: e.proxmox.nodes,
      snippets_dirs: e.proxmox.snippetsDirs,
    },
    github: {
      url: e.github.url,
      token: e.github.token,
      ...(e.github.app
        ? { app: { id: e.github.app.id, client_id: e.github.app.clientId, installation_id: e.github.app.installationId, private_key: e.github.app.privateKey } }
        : {}),
      ...(e.github.webhook ? { webhook: { secret: e.github.webhook.secret } } : {}),
    },
  };
}

/**
 * `pve-runners sim --scenario FILE`: both simulated services until a signal or the scenario's time
 * limit; one JSON line on stdout to connect to them, the report on stderr at the end.
 */
export async function simCommand(o: SimCommandOptions): Promise<number> {
  const scenario = loadScenario(o.scenario);
  const sim = new Simulator(scenario, { speed: o.speed });
  const endpoints = await sim.start();
  if (o.webhookUrl !== undefined && !sim.github.webhooks) o.err(`--webhook-url ${o.webhookUrl}: ${o.scenario} has no github.webhook, so nothing is delivered`);
  o.out(JSON.stringify(describeEndpoints(endpoints)));
  // after the line is out: its ping then reaches a daemon started from it only if that is already listening
  sim.github.webhooks?.setTarget(o.webhookUrl);
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, scenario.timeLimitMs / o.speed);
  });
  await Promise.race([o.stopSignal, timeUp]);
  clearTimeout(timer);
  o.err(JSON.stringify(sim.report({ finished: sim.workloadDone() })));
  await sim.stop();
  return 0;
}
