/**
 * The `encoded_jit_config` GitHub returns from generate-jitconfig: base64 of a JSON map from file
 * name to base64 file content, which `run.sh --jitconfig` writes into the runner directory
 * (actions/runner PR #1925). We fill the same three files; the broker reads `.runner` for the agent
 * id and `.credentials` for the client id, which must match the registration.
 */
import type { Ids } from './ids.js';
import type { Runner } from './model.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

export function encodeJitConfig(runner: Runner, clientId: string, gitHubUrl: string, workFolder: string, ids: Ids): string {
  const tenant = ids.hex(20);
  const files = {
    '.runner': b64(JSON.stringify({
      agentId: String(runner.id), agentName: runner.name, poolId: String(runner.group.id), poolName: runner.group.name,
      disableUpdate: 'False', ephemeral: 'True', serverUrl: `https://pipelinesghubeus2.actions.githubusercontent.com/${tenant}/`,
      gitHubUrl, workFolder, useV2Flow: 'True',
    })),
    '.credentials': b64(JSON.stringify({
      scheme: 'OAuth',
      data: { clientId, authorizationUrl: `https://vstoken.actions.githubusercontent.com/_apis/oauth2/token/${ids.uuid()}`, requireFipsCryptography: 'True' },
    })),
    '.credentials_rsaparams': b64(JSON.stringify({
      d: ids.base64(256), dp: ids.base64(128), dq: ids.base64(128), exponent: 'AQAB', inverseQ: ids.base64(128),
      modulus: ids.base64(256), p: ids.base64(128), q: ids.base64(128),
    })),
  };
  return b64(JSON.stringify(files));
}

export interface DecodedJitConfig {
  runnerId: number;
  runnerName: string;
  clientId: string;
}

/** Reads what the runner would from its JIT files; undefined if it is not a JIT config at all. */
export function decodeJitConfig(encoded: string): DecodedJitConfig | undefined {
  try {
    const files = JSON.parse(unb64(encoded)) as Record<string, unknown>;
    const runnerFile = files['.runner'];
    const credFile = files['.credentials'];
    if (typeof runnerFile !== 'string' || typeof credFile !== 'string') return undefined;
    const runner = JSON.parse(unb64(runnerFile)) as { agentId?: unknown; agentName?: unknown };
    const cred = JSON.parse(unb64(credFile)) as { data?: { clientId?: unknown } };
    const runnerId = Number(runner.agentId);
    const clientId = cred.data?.clientId;
    if (!Number.isInteger(runnerId) || typeof runner.agentName !== 'string' || typeof clientId !== 'string') return undefined;
    return { runnerId, runnerName: runner.agentName, clientId };
  } catch {
    return undefined;
  }
}
