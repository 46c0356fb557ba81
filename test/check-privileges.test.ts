/**
 * Reading GET /access/permissions (no path) as PVE answers it: each listed path carries its effective
 * privileges with their propagate flag; an unlisted path holds what its nearest listed ancestor
 * propagates (RPCEnvironment::get_effective_permissions / AccessControl::roles).
 */
import { describeShortfalls, effectivePrivileges, inheritedFrom, missingPrivileges, parentPath, shortfalls, type PermissionDump } from '../src/check/privileges.js';
import { compactIds, formatCheckLine } from '../src/check/result.js';

const sorted = (s: Set<string>) => [...s].sort();

describe('effective privileges from the permission dump', () => {
  const dump: PermissionDump = {
    '/': { 'Sys.Audit': 0 },
    '/vms': { 'VM.Audit': 1, 'VM.Allocate': 1, 'VM.PowerMgmt': 0 },
    '/vms/9000': { 'VM.Clone': 1, 'VM.Audit': 1 },
    '/storage': { 'Datastore.Audit': 1 },
  };

  it('walks up the path', () => {
    expect([parentPath('/vms/200'), parentPath('/vms'), parentPath('/')]).toEqual(['/vms', '/', undefined]);
    expect(parentPath('/sdn/zones/localnetwork/vmbr0')).toBe('/sdn/zones/localnetwork');
  });

  it('a listed path holds all its privileges, propagating or not', () => {
    expect(sorted(effectivePrivileges(dump, '/vms'))).toEqual(['VM.Allocate', 'VM.Audit', 'VM.PowerMgmt']);
  });

  it('an unlisted path inherits only what its nearest listed ancestor propagates', () => {
    expect(sorted(effectivePrivileges(dump, '/vms/200'))).toEqual(['VM.Allocate', 'VM.Audit']);
    expect(sorted(effectivePrivileges(dump, '/storage/local'))).toEqual(['Datastore.Audit']);
  });

  it('a deeper ACL replaces what the ancestors grant rather than adding to it', () => {
    expect(sorted(effectivePrivileges(dump, '/vms/9000'))).toEqual(['VM.Audit', 'VM.Clone']);
  });

  it('a privilege on / propagates to every path when flagged so', () => {
    const rootOnly: PermissionDump = { '/': { 'SDN.Use': 1 } };
    expect(sorted(effectivePrivileges(rootOnly, '/sdn/zones/localnetwork/vmbr0'))).toEqual(['SDN.Use']);
    expect(sorted(effectivePrivileges(dump, '/nodes/pve1'))).toEqual([]);
  });

  it('accepts the flag as a number, boolean or string', () => {
    expect(sorted(effectivePrivileges({ '/vms': { a: 1, b: true, c: '1', d: 0, e: '0', f: false } }, '/vms/1'))).toEqual(['a', 'b', 'c']);
  });

  it('a VM in a resource pool also holds what the pool passes on to its members', () => {
    const dump: PermissionDump = { '/pool/ci': { 'VM.PowerMgmt': 1, 'VM.Allocate': 1, 'VM.Monitor': 0 }, '/vms': { 'VM.Audit': 1 } };
    expect(sorted(inheritedFrom(dump, '/pool/ci'))).toEqual(['VM.Allocate', 'VM.PowerMgmt']);
    const req = { path: '/vms/200', privileges: ['VM.Audit', 'VM.PowerMgmt', 'VM.Allocate', 'VM.Monitor'] };
    expect(missingPrivileges(dump, req)).toEqual(['VM.PowerMgmt', 'VM.Allocate', 'VM.Monitor']);
    expect(missingPrivileges(dump, { ...req, inheritsFrom: ['/pool/ci'] })).toEqual(['VM.Monitor']);
    // an unlisted pool passes on what its ancestors propagate
    expect(missingPrivileges({ '/pool': { 'VM.PowerMgmt': 1 } }, { path: '/vms/200', privileges: ['VM.PowerMgmt'], inheritsFrom: ['/pool/ci'] })).toEqual([]);
  });

  it('any-of groups need one of their privileges', () => {
    const held: PermissionDump = { '/vms': { 'VM.Config.Network': 1 } };
    expect(missingPrivileges(held, { path: '/vms/200', privileges: [['VM.Config.Cloudinit', 'VM.Config.Network'], 'VM.PowerMgmt'] })).toEqual(['VM.PowerMgmt']);
    expect(missingPrivileges({}, { path: '/vms/200', privileges: [['VM.Config.Cloudinit', 'VM.Config.Network']] })).toEqual(['VM.Config.Cloudinit|VM.Config.Network']);
  });
});

describe('describing what is missing', () => {
  it('compacts VMIDs into ranges and groups paths by the privileges they lack', () => {
    const dump: PermissionDump = { '/vms/203': { 'VM.PowerMgmt': 1, 'VM.Audit': 1 }, '/vms': { 'VM.Audit': 1 } };
    const reqs = [200, 201, 202, 203, 204, 9000].map((id) => ({ path: `/vms/${id}`, privileges: ['VM.Audit', 'VM.PowerMgmt'] }));
    reqs.push({ path: '/storage/local-lvm', privileges: ['Datastore.AllocateSpace'] });
    expect(describeShortfalls(shortfalls(dump, reqs))).toBe('VM.PowerMgmt on /vms/200-202, /vms/204, /vms/9000; Datastore.AllocateSpace on /storage/local-lvm');
  });

  it('compactIds', () => {
    expect(compactIds([205, 200, 201, 202, 230, 231])).toBe('200-202,205,230-231');
    expect(compactIds([])).toBe('');
  });

  it('formats each probe as one line, whatever its texts hold', () => {
    expect(formatCheckLine({ status: 'ok', what: 'a', problem: 'b' })).toBe('✓ a (b)');
    expect(formatCheckLine({ status: 'warn', what: 'a', problem: 'b\nc', fix: 'd' })).toBe('! a: b c — fix: d');
    expect(formatCheckLine({ status: 'fail', what: 'a', problem: 'b', fix: 'd' })).toBe('✗ a: b — fix: d');
  });
});
