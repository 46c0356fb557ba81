import type { SftpSettings } from '../config/env.js';
import type { PoolConfig } from '../config/types.js';
import type { Logger, Redactor } from '../log.js';
import { RoutedSnippetStore } from './routed.js';
import { SftpSnippetStore } from './sftp-store.js';
import type { SnippetStore } from './store.js';

export interface StoreWiring {
  dir: () => SnippetStore;
  sftp: SftpSettings;
  storage: string;
  log: Logger;
  redactor: Redactor;
  /** the SSH handshake's limit (scaled with the demo's --speed) */
  readyTimeoutMs?: number;
}

/** The snippet store of each delivery the pools use, as one store. */
export function deliveryStores(pools: readonly PoolConfig[], w: StoreWiring): RoutedSnippetStore {
  const used = new Set(pools.map((p) => p.delivery));
  const dir = w.dir();
  const stores = new Map<PoolConfig['delivery'], SnippetStore>();
  // guest-agent pools write no snippet: SNIPPETS_DIR is listed only when a dir pool uses it
  if (used.has('dir')) stores.set('dir', dir);
  const sftp = sftpStore(pools, w);
  if (sftp) stores.set('sftp', sftp);
  return new RoutedSnippetStore(pools, stores, stores.get('dir') ?? stores.get('sftp') ?? dir);
}

/** The SFTP store of the pools with delivery: sftp, over their nodes; undefined when none (or the settings are missing). */
export function sftpStore(pools: readonly PoolConfig[], w: Omit<StoreWiring, 'dir'>): SftpSnippetStore | undefined {
  const s = w.sftp;
  if (!pools.some((p) => p.delivery === 'sftp') || !s.privateKey || !s.knownHosts) return undefined;
  const key = s.privateKey.reveal();
  const knownHosts = s.knownHosts;
  w.redactor.addPermanent(key);
  const sftpNodes = [...new Set(pools.filter((p) => p.delivery === 'sftp').flatMap((p) => p.nodes))];
  return new SftpSnippetStore({
    nodes: sftpNodes,
    storage: w.storage,
    endpoint: (node) => ({ host: s.hosts.get(node)?.host ?? node, port: s.hosts.get(node)?.port ?? s.port, user: s.user, privateKey: key, knownHosts, readyTimeoutMs: w.readyTimeoutMs ?? 20_000 }),
    onReconnect: (node, why) => w.log.info(`SFTP connection to node ${node} failed under an operation (${why}); tried again on a new one`, { node }),
    onHealth: (node, reason) => {
      if (reason === undefined) w.log.info(`SFTP delivery to node ${node} works again: pools with delivery: sftp place VMs there again`, { node });
      else w.log.warn(`SFTP delivery to node ${node} fails, so pools with delivery: sftp place no VM there until it works: ${reason}`, { node });
    },
  });
}
