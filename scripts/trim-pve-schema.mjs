#!/usr/bin/env node
/**
 * Cuts the official PVE API schema (pve-docs api-viewer/apidata.js as JSON) down to the endpoints the
 * simulated Proxmox serves, so the simulator and its contract tests need nothing outside the repo.
 *
 *   node scripts/trim-pve-schema.mjs [path/to/apidata.json] [out.json]
 *
 * Default input: ../shared/reference/pve-api/apidata-9.1.3.json relative to the repo root's parent.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const input = process.argv[2] ?? resolve(repoRoot, '..', 'shared/reference/pve-api/apidata-9.1.3.json');
const output = process.argv[3] ?? resolve(repoRoot, 'schemas/pve-api.trimmed.json');

/** `METHOD /path` the simulator implements; anything else answers 501 as PVE does for unknown methods. */
export const ENDPOINTS = [
  'GET /version',
  'GET /cluster/resources',
  'GET /cluster/nextid',
  'GET /nodes',
  'GET /nodes/{node}/qemu',
  'DELETE /nodes/{node}/qemu/{vmid}',
  'GET /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/config',
  'PUT /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/clone',
  'GET /nodes/{node}/qemu/{vmid}/status/current',
  'POST /nodes/{node}/qemu/{vmid}/status/start',
  'POST /nodes/{node}/qemu/{vmid}/status/stop',
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
  'POST /nodes/{node}/qemu/{vmid}/agent/ping',
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo',
  'POST /nodes/{node}/qemu/{vmid}/agent/file-write',
  'POST /nodes/{node}/qemu/{vmid}/agent/exec',
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status',
  'GET /nodes/{node}/tasks',
  'GET /nodes/{node}/tasks/{upid}/status',
  'GET /nodes/{node}/tasks/{upid}/log',
  'GET /nodes/{node}/storage',
  'GET /nodes/{node}/storage/{storage}/status',
  'GET /nodes/{node}/storage/{storage}/content',
  'GET /storage/{storage}',
  'GET /access/permissions',
];

let tree;
try {
  tree = JSON.parse(readFileSync(input, 'utf8'));
} catch (e) {
  console.error(`${input}: cannot read the PVE API schema (${e.message}); pass its path as the first argument`);
  process.exit(1);
}
const byPath = new Map();
(function walk(nodes) {
  for (const n of nodes) {
    byPath.set(n.path, n);
    if (n.children) walk(n.children);
  }
})(tree);

const endpoints = {};
const missing = [];
for (const key of ENDPOINTS) {
  const [method, path] = key.split(' ');
  const info = byPath.get(path)?.info?.[method];
  if (!info) {
    missing.push(key);
    continue;
  }
  const { name, parameters, returns, permissions, proxyto, protected: prot, allowtoken } = info;
  endpoints[key] = { name, parameters, returns, permissions, proxyto, protected: prot, allowtoken };
}
if (missing.length) {
  console.error(`${input}: endpoints not in the schema: ${missing.join(', ')}`);
  process.exit(1);
}
const version = /apidata-([\d.]+)\.json$/.exec(input)?.[1] ?? 'unknown';
writeFileSync(output, JSON.stringify({ source: `pve-docs api-viewer/apidata.js (PVE ${version})`, endpoints }, null, 1) + '\n');
console.log(`wrote ${Object.keys(endpoints).length} endpoints to ${output}`);
