/**
 * Contract tests: every answer of the simulated Proxmox validates against the official PVE 9.1.3
 * schema's `returns` (converted by pveToJsonSchema), and requests that break the schema get PVE's
 * exact error shapes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { matchRoute, pveApi, pveToJsonSchema } from '../src/sim/pve/index.js';
import { BASIC, BASIC_CLUSTER, startPve, type PveHarness } from './helpers/pve-sim.js';

// PVE sends some integers as strings (e.g. /cluster/nextid echoes its parameter): validate with coercion.
const ajv = new Ajv({ coerceTypes: true, allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>();
const validatorFor = (endpoint: string) => {
  let v = validators.get(endpoint);
  if (!v) {
    v = ajv.compile(pveToJsonSchema(pveApi.endpoints[endpoint]!.returns));
    validators.set(endpoint, v);
  }
  return v;
};

describe('pveToJsonSchema', () => {
  it('turns PVE dialect into JSON Schema that rejects what PVE would not send', () => {
    const v = ajv.compile(pveToJsonSchema({
      type: 'object', additionalProperties: 0,
      properties: { on: { type: 'boolean' }, n: { type: 'integer', minimum: '1', optional: 1 }, 'net[n]': { type: 'string' } },
    }));
    expect(v({ on: 1, n: 2, net0: 'x', net12: 'y' })).toBe(true);
    expect(v({ on: true })).toBe(false); // booleans are 0/1 on the wire
    expect(v({ on: 0, n: 0 })).toBe(false); // string minimum honoured
    expect(v({ n: 2 })).toBe(false); // not optional → required
    expect(v({ on: 0, other: 1 })).toBe(false); // additionalProperties 0
    expect(v({ on: 0, netx: 'a' })).toBe(false);
  });
});

describe('PveSim responses validate against the official schema', () => {
  let h: PveHarness;
  const seen = new Map<string, number>();
  const problems: string[] = [];

  // Sees every answer proxmox-api gets and checks its data against the endpoint's `returns`.
  const checkingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await fetch(input, init);
    const url = new URL(String(input));
    const route = matchRoute((init?.method ?? 'GET').toUpperCase(), url.pathname.replace(/^\/api2\/json/, ''));
    if (route && res.status === 200) {
      expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
      const body = (await res.clone().json()) as { data: unknown };
      const validate = validatorFor(route.endpoint);
      if (!validate(structuredClone(body.data))) problems.push(`${route.endpoint}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body.data).slice(0, 300)}`);
      seen.set(route.endpoint, (seen.get(route.endpoint) ?? 0) + 1);
    }
    return res;
  };

  beforeAll(async () => {
    h = await startPve(`${BASIC}\nfaults: {}`, { fetch: checkingFetch as typeof fetch });
  });
  afterAll(async () => h.close());

  it('covers every served endpoint', async () => {
    const { px } = h;
    await px.version.$get();
    await px.nodes.$get();
    await px.cluster.resources.$get();
    await px.cluster.resources.$get({ type: 'vm' });
    await px.cluster.resources.$get({ type: 'node' });
    await px.cluster.nextid.$get();
    await px.access.permissions.$get();
    await px.nodes.$('pve1').storage.$get({ content: 'snippets' });
    await px.nodes.$('pve1').storage.$('local').status.$get();
    writeFileSync(join(h.info.snippetsDirs.pve1!, 'r.yaml'), '#cloud-config\n');
    const snippets = await px.nodes.$('pve1').storage.$('local').content.$get({ content: 'snippets' });
    expect(snippets).toEqual([expect.objectContaining({ volid: 'local:snippets/r.yaml', content: 'snippets', size: 14 })]);

    const clone = await px.nodes.$('pve1').qemu.$(9000).clone.$post({ newid: 150, name: 'r-150-abcd' });
    await px.nodes.$('pve1').qemu.$get({ full: true });
    await px.nodes.$('pve1').qemu.$(150).status.current.$get();
    await px.nodes.$('pve1').tasks.$(clone).log.$get();
    expect(await h.waitTask('pve1', clone)).toBe('OK');
    // (the active list's shape is checked in sim-pve-tasks.test.ts, where the clock stands still)
    expect(await px.nodes.$('pve1').tasks.$get({ source: 'all', limit: 5 })).toEqual(expect.arrayContaining([expect.objectContaining({ upid: clone, status: 'OK', user: 'pve-runners@pve', tokenid: 'daemon' })]));
    await px.nodes.$('pve1').storage.$('local-lvm').content.$get({ vmid: 150 });
    expect(await px.nodes.$('pve1').qemu.$(150).config.$put({ cicustom: 'user=local:snippets/r.yaml', tags: 'pve-runners;pvr-pool.a' })).toBeNull();
    const cfg = await px.nodes.$('pve1').qemu.$(150).config.$post({ cores: 2, memory: '1024' });
    expect(await h.waitTask('pve1', cfg as string)).toBe('OK');
    await px.nodes.$('pve1').qemu.$(150).config.$get();
    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(150).status.start.$post())).toBe('OK');
    await px.cluster.resources.$get({ type: 'vm' });
    await px.nodes.$('pve1').qemu.$(150).status.current.$get();
    expect(await px.nodes.$('pve1').qemu.$(150).agent.ping.$post()).toEqual({ result: {} });
    expect(await px.nodes.$('pve1').qemu.$(150).agent['get-osinfo'].$get()).toEqual({ result: expect.objectContaining({ id: 'ubuntu' }) });
    expect(await px.nodes.$('pve1').qemu.$(150).agent['file-write'].$post({ file: '/etc/pve-runners/runner.env', content: 'A="1"\n' })).toBeNull();
    const { pid } = await px.nodes.$('pve1').qemu.$(150).agent.exec.$post({ command: ['cat', '/etc/pve-runners/runner.env'] });
    expect(await px.nodes.$('pve1').qemu.$(150).agent['exec-status'].$get({ pid })).toEqual({ exited: 1, exitcode: 0, 'out-data': 'cat /etc/pve-runners/runner.env\n' });
    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(150).status.shutdown.$post({ forceStop: true }))).toBe('OK');
    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(150).status.stop.$post())).toBe('OK');
    expect(await h.waitTask('pve1', await px.nodes.$('pve1').qemu.$(150).$delete({ purge: true }))).toBe('OK');
    const log = await px.nodes.$('pve1').tasks.$(clone).log.$get({ start: 0, limit: 10 });
    expect(log.at(-1)).toEqual({ n: log.length, t: 'TASK OK' });

    // GET /storage/{storage} needs Datastore.Allocate: held here (PVEDatastoreAdmin), not with the default grants.
    await px.storage.$('local').$get();
    const plain = await startPve(BASIC_CLUSTER);
    try {
      expect((await plain.raw('GET', '/storage/local')).reason).toBe('Permission check failed (/storage/local, Datastore.Allocate)');
    } finally {
      await plain.close();
    }

    const missing = Object.keys(pveApi.endpoints).filter((e) => !seen.has(e));
    expect(missing).toEqual([]);
    expect(problems).toEqual([]);
  });
});

describe('PveSim request verification and error shapes', () => {
  let h: PveHarness;
  beforeAll(async () => {
    h = await startPve();
  });
  afterAll(async () => h.close());

  const paramErrors = async (method: string, path: string, body?: string) => {
    const r = await h.raw(method, path, body === undefined ? {} : { body });
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Parameter verification failed.');
    expect(r.contentType).toBe('application/json;charset=UTF-8');
    expect(r.json.data).toBeNull();
    return r.json.errors as Record<string, string>;
  };

  it.each([
    ['unknown parameter', 'POST', '/nodes/pve1/qemu/9000/clone', 'newid=300&colour=red', { colour: 'property is not defined in schema and the schema does not allow additional properties' }],
    ['true for a boolean', 'POST', '/nodes/pve1/qemu/9000/clone', 'newid=300&full=true', { full: "type check ('boolean') failed - got 'true'" }],
    ['missing required', 'POST', '/nodes/pve1/qemu/9000/clone', 'name=x', { newid: 'property is missing and it is not optional' }],
    ['integer type', 'POST', '/nodes/pve1/qemu/9000/config', 'cores=abc', { cores: "type check ('integer') failed - got 'abc'" }],
    ['minimum', 'POST', '/nodes/pve1/qemu/9000/config', 'cores=0', { cores: 'value must have a minimum value of 1' }],
    ['maximum', 'POST', '/nodes/pve1/qemu/205/config', 'cores=2&background_delay=31', { background_delay: 'value must have a maximum value of 30' }],
    // PVE checks a format before limits, so an out-of-range VMID reports the format.
    ['vmid above range', 'GET', '/cluster/nextid?vmid=1000000000', undefined, { vmid: 'invalid format - value does not look like a valid VM ID\n' }],
    ['enum', 'GET', '/cluster/resources?type=vms', undefined, { type: "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'" }],
    ['bad vmid in the path', 'GET', '/nodes/pve1/qemu/abc/config', undefined, { vmid: "type check ('integer') failed - got 'abc'" }],
    ['vmid format', 'POST', '/nodes/pve1/qemu/9000/clone', 'newid=0099', { newid: 'invalid format - value does not look like a valid VM ID\n' }],
    ['dns-name', 'POST', '/nodes/pve1/qemu/9000/clone', 'newid=300&name=under_score', { name: 'invalid format - value does not look like a valid DNS name\n' }],
    ['pve-tag-list', 'PUT', '/nodes/pve1/qemu/205/config', 'tags=ok;b%40d', { tags: 'invalid format - invalid characters in tag\n' }],
    ['pve-qm-cicustom key', 'PUT', '/nodes/pve1/qemu/205/config', 'cicustom=usr%3Dlocal%3Asnippets%2Fa.yaml', { 'cicustom.usr': 'property is not defined in schema and the schema does not allow additional properties' }],
    ['pve-qm-cicustom volume', 'PUT', '/nodes/pve1/qemu/205/config', 'cicustom=user%3Dnot-a-volume', { 'cicustom.user': "invalid format - unable to parse volume ID 'not-a-volume'\n" }],
    ['description maxLength', 'PUT', '/nodes/pve1/qemu/205/config', `description=${'x'.repeat(8193)}`, { description: 'value may only be 8192 characters long' }],
  ])('%s', async (_name, method, path, body, expected) => {
    expect(await paramErrors(method, path, body)).toEqual(expected);
  });

  it('a VM on another node → 500 with the config-file text as reason and message', async () => {
    const r = await h.raw('GET', '/nodes/pve2/qemu/205/status/current');
    expect(r.status).toBe(500);
    expect(r.reason).toBe("Configuration file 'nodes/pve2/qemu-server/205.conf' does not exist");
    expect(r.json).toEqual({ data: null, message: "Configuration file 'nodes/pve2/qemu-server/205.conf' does not exist\n" });
  });

  it('an unknown node → 500 hostname lookup, as pveproxy fails to proxy', async () => {
    const r = await h.raw('GET', '/nodes/pve9/qemu');
    expect(r.status).toBe(500);
    expect(r.reason).toBe("hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known");
  });

  it('unknown path → 501 not implemented; body on GET/DELETE → 501', async () => {
    const r = await h.raw('GET', '/foo');
    expect([r.status, r.reason]).toEqual([501, "Method 'GET /foo' not implemented"]);
    const d = await h.raw('DELETE', '/nodes/pve1/qemu/205', { body: 'purge=1' });
    expect([d.status, d.reason]).toEqual([501, "Unexpected content for method 'DELETE'"]);
  });

  it('missing or wrong token → 401 without a body or content type', async () => {
    for (const auth of [null, `PVEAPIToken=${h.info.tokenId}=11111111-2222-3333-4444-555555555555`, 'Bearer x']) {
      const r = await h.raw('GET', '/version', { auth });
      expect([r.status, r.reason, r.contentType, r.text]).toEqual([401, 'Authentication failed!', null, '']);
    }
  });

  it('answers with 0/1 booleans and exact content type', async () => {
    const r = await h.raw('GET', '/cluster/resources?type=vm');
    expect(r.contentType).toBe('application/json;charset=UTF-8');
    const tpl = (r.json.data as Array<Record<string, unknown>>).find((x) => x.vmid === 9000);
    expect(tpl).toMatchObject({ id: 'qemu/9000', type: 'qemu', template: 1, node: 'pve1', status: 'stopped' });
  });
});

describe('PveSim permissions', () => {
  let h: PveHarness;
  beforeAll(async () => {
    h = await startPve(`${BASIC_CLUSTER}\ntoken: {privileges: [VM.Audit, VM.Clone, Datastore.AllocateSpace, Datastore.Audit, SDN.Use]}`);
  });
  afterAll(async () => h.close());

  it('403 names path and privilege; listings hide nothing the token may audit', async () => {
    const del = await h.raw('DELETE', '/nodes/pve1/qemu/205?purge=1');
    expect([del.status, del.reason]).toEqual([403, 'Permission check failed (/vms/205, VM.Allocate)']);
    const start = await h.raw('POST', '/nodes/pve1/qemu/205/status/start', { body: '' });
    expect([start.status, start.reason]).toEqual([403, 'Permission check failed (/vms/205, VM.PowerMgmt)']);
    // clone: VM.Clone held, but neither VM.Allocate on /vms/{newid} nor on the pool → PVE's bare text.
    const clone = await h.raw('POST', '/nodes/pve1/qemu/9000/clone', { body: 'newid=300' });
    expect([clone.status, clone.reason]).toEqual([403, 'Permission check failed']);
    const cfg = await h.raw('PUT', '/nodes/pve1/qemu/205/config', { body: 'cicustom=user%3Dlocal%3Asnippets%2Fa.yaml' });
    expect([cfg.status, cfg.reason]).toEqual([403, 'Permission check failed (/vms/205, VM.Config.Disk|VM.Config.CDROM|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.HWType|VM.Config.Options|VM.Config.Cloudinit)']);
    const perms = await h.raw('GET', '/access/permissions?path=/vms/205');
    expect(perms.json.data).toEqual({ '/vms/205': { 'Datastore.AllocateSpace': 1, 'Datastore.Audit': 1, 'SDN.Use': 1, 'VM.Audit': 1, 'VM.Clone': 1 } });
  });
});
