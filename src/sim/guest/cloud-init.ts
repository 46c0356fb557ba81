/**
 * cloud-init's run on first boot, in its module order (config/cloud.cfg.tmpl): init stage
 * bootcmd, write_files; config stage runcmd (only written out as a script); final stage
 * write_files_deferred, scripts_user (runs the runcmd script and a `#!` user-data script),
 * power_state_change. A failing module is logged and the next one runs, as cloud-init does.
 */
import { type CloudConfig, shellify, type WriteFile } from './cloud-config.js';
import { FsError } from './fs.js';
import type { Io, Machine, Proc } from './machine.js';
import { runScript } from './shell.js';

export const RUNCMD_SCRIPT = '/var/lib/cloud/instance/scripts/runcmd';

/** Returns how cloud-init ended: the runcmd script's exit status and whether power_state acted. */
export async function runCloudInit(m: Machine, cfg: CloudConfig, vmName: string): Promise<{ runcmdStatus?: number; powerState: string }> {
  m.fs.hostname = cfg.hostname ?? vmName; // set_hostname; Proxmox's meta-data names the host after the VM
  const io: Io = { out: (l) => m.console.push(l), err: (l) => m.console.push(l) };
  const root: Proc = { user: m.image.os === 'Windows' ? 'SYSTEM' : 'root', cwd: '/', env: new Map([['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ['HOME', '/root']]) };
  if (cfg.bootcmd.length) {
    const s = await runScript(m, shellify(cfg.bootcmd), root, [], io);
    if (s !== 0) io.err(`cloud-init: Failed to run module bootcmd (bootcmd exited ${s})`);
  }
  writeFiles(m, cfg.writeFiles.filter((f) => !f.defer), io, 'write_files');
  if (cfg.runcmd.length && m.image.os === 'Linux') m.fs.write(RUNCMD_SCRIPT, shellify(cfg.runcmd), { mode: 0o700, parents: true });
  writeFiles(m, cfg.writeFiles.filter((f) => f.defer), io, 'write_files_deferred');
  let runcmdStatus: number | undefined;
  if (cfg.runcmd.length) {
    runcmdStatus = await runScript(m, shellify(cfg.runcmd), root, [], io);
    if (runcmdStatus !== 0) io.err(`cloud-init: Failed to run module scripts_user (runcmd exited ${runcmdStatus})`);
  }
  if (cfg.userScript !== undefined) {
    const s = await runScript(m, cfg.userScript, root, [], io);
    if (s !== 0) io.err(`cloud-init: Failed to run module scripts_user (user script exited ${s})`);
  }
  const ps = cfg.powerState;
  if (!ps) return { runcmdStatus, powerState: 'none' };
  let go = ps.condition === true;
  if (typeof ps.condition !== 'boolean') go = (await runScript(m, shellify([ps.condition]), root, [], io)) === 0;
  if (!go) return { runcmdStatus, powerState: 'condition false' };
  if (ps.mode === 'reboot') {
    io.err('cloud-init: power_state reboot is not modelled; the VM stays up');
    return { runcmdStatus, powerState: 'reboot (not modelled)' };
  }
  return m.powerOff(`cloud-init power_state ${ps.mode}`);
}

/** cc_write_files.write_files: one failing entry (unknown owner) fails the module; later entries are not written. */
function writeFiles(m: Machine, files: WriteFile[], io: Io, module: string): void {
  for (const f of files) {
    // cloudbase-init's write_files has no owner: files belong to the service's account.
    const [user = 'root', group = user] = m.image.os === 'Windows' ? ['SYSTEM'] : f.owner.split(':');
    let mode = f.permissions ?? 0o644;
    if (Number.isNaN(mode)) {
      io.err(`cloud-init: Undecodable permissions for ${f.path}, returning default 644`);
      mode = 0o644;
    }
    try {
      const path = m.fs.resolve(f.path);
      if (!m.fs.users.has(user)) throw new FsError(`getpwnam(): name not found: '${user}'`);
      m.fs.write(path, f.content, { append: f.append, mode, owner: user, group, parents: true });
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      io.err(`cloud-init: Failed to run module ${module} (${e.message})`);
      return;
    }
  }
}
