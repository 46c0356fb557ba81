/**
 * What a client sees when part of PVE's API stack is restarting (http_error_rate): which part
 * answers depends on who serves the method (pve-http-server PVE/APIServer/AnyEvent.pm).
 *
 * - `protected: 1` methods are run by pvedaemon: pveproxy forwards them to 127.0.0.1:85 with
 *   AnyEvent::HTTP (proxy_request), and a refused connection comes back as AnyEvent::HTTP's pseudo
 *   status 595 with the errno text as reason and no body ("595 - errors during connection
 *   establishment"; AnyEvent-HTTP's connect callback sets `Reason => "$!"`). A pvedaemon *reload*
 *   keeps its listening socket (pve-common PVE/Daemon.pm, PVE_DAEMON_SOCKET_<port>); a stop/start or
 *   a crash leaves the port closed for a moment.
 * - `proxyto: node` methods for another node are forwarded to that node's pveproxy on 8006 the same
 *   way: while it restarts, the same 595.
 * - Everything else pveproxy serves itself (e.g. GET /cluster/resources, /cluster/nextid): while the
 *   one pveproxy the client talks to restarts there is no HTTP answer at all — the connection is
 *   refused or, for a kept-alive one, closed. The simulator closes the connection.
 *
 * In each case nothing was carried out, and the client may try again.
 */
import type { PveEndpoint } from './schema.js';

export type Transient = { kind: 'answer'; status: 595; reason: string } | { kind: 'reset' };

export function transientFailure(schema: PveEndpoint, node: string | undefined, entryNode: string): Transient {
  if (schema.protected === 1) return { kind: 'answer', status: 595, reason: 'Connection refused' };
  if (schema.proxyto === 'node' && node !== undefined && node !== entryNode) return { kind: 'answer', status: 595, reason: 'Connection refused' };
  return { kind: 'reset' };
}
