/**
 * What a `qmclone` worker does with the disks, step by step (qemu-server clone_vm → clone_disk for
 * each drive in sorted order, so `ide2` before `scsi0`):
 * - the cloud-init drive is always allocated anew (clone_vm treats it as a full clone; no data is
 *   copied): `vdisk_alloc`, under the storage lock;
 * - a linked clone's disk: `vdisk_clone` → the plugin's clone_image (lvcreate -s, rbd clone, zfs
 *   clone…), under the storage lock;
 * - a full clone's disk: `vdisk_alloc` under the lock, then the copy (`qemu-img convert`) outside
 *   it, sharing the storage's bandwidth with the other copies running there.
 * When a step fails, clone_vm sleeps 1 s, frees the volumes it made (vdisk_free, under the lock
 * again; failures only warned) and dies `clone failed: <error>`.
 */
import type { Vm } from './cluster.js';
import { storageKey, type StorageRef } from './storage-locks.js';
import type { PveWorld } from './world.js';

type Step =
  | { kind: 'wait'; ms: number }
  | { kind: 'locked'; ms: number; makes?: string; line: string }
  | { kind: 'copy'; ms: number };

export interface ClonePlan {
  steps: Step[];
  /** the task's time with no lock to wait for and no other copy on the storage */
  uncontendedMs: number;
  lockMs: number;
}

const DRIVE = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;

/**
 * The steps of a clone of `src`. A template has two volumes (cloud-init and the base disk), each
 * one locked step of `timings.storage_lock`; the rest of `timings.clone` (linked) runs before them
 * unlocked, the rest of `timings.full_clone` (full) is the copy of the data disks.
 */
export function clonePlan(w: PveWorld, src: Vm, full: boolean, storage: string): ClonePlan {
  const { cloneMs, fullCloneMs, storageLockMs } = w.ctx.scenario.proxmox.timings;
  const volumes = [...src.config.keys()].filter((k) => DRIVE.test(k)).sort()
    .map((k) => ({ drive: k, file: src.config.get(k)!.split(',')[0]!, cloudinit: src.config.get(k)!.includes('cloudinit') }))
    .filter((v) => v.cloudinit || /:(base|vm)-\d+-disk-\d+/.test(v.file));
  const locked = volumes.length * storageLockMs;
  const data = volumes.filter((v) => !v.cloudinit).length;
  const copyMs = full && data > 0 ? Math.max(0, fullCloneMs - locked) / data : 0;
  const steps: Step[] = [];
  if (!full && cloneMs > locked) steps.push({ kind: 'wait', ms: cloneMs - locked });
  for (const v of volumes) {
    const made = v.cloudinit ? `${storage}:vm-NEWID-cloudinit` : `${storage}:vm-NEWID-disk-${/(\d+)$/.exec(v.file)?.[1] ?? '0'}`;
    if (v.cloudinit || full) {
      steps.push({ kind: 'locked', ms: storageLockMs, makes: made, line: `create full clone of drive ${v.drive} (${v.file})` });
      if (!v.cloudinit) steps.push({ kind: 'copy', ms: copyMs });
    } else {
      steps.push({ kind: 'locked', ms: storageLockMs, makes: made, line: `create linked clone of drive ${v.drive} (${v.file})` });
    }
  }
  const uncontendedMs = steps.reduce((t, s) => t + s.ms, 0);
  return { steps, uncontendedMs, lockMs: storageLockMs };
}

/** Runs the steps; `end()` when all are done, `end(error)` after undoing what was made. */
export function runClone(w: PveWorld, plan: ClonePlan, ref: StorageRef, newid: number, log: string[], end: (error?: string) => void): void {
  const made: string[] = [];
  const fail = (error: string) => {
    w.ctx.recorder.event(`storage lock: clone into VM ${newid} failed: ${error}`);
    // "some storage like rbd need to wait before release volume - really?"
    w.ctx.clock.after(1000, () => freeAll(w, ref, plan.lockMs, made, log, () => end(error)));
  };
  const next = (i: number): void => {
    const step = plan.steps[i];
    if (!step) return end();
    if (step.kind === 'wait') w.ctx.clock.after(step.ms, () => next(i + 1));
    else if (step.kind === 'copy') w.bandwidth.copy(storageKey(ref), step.ms, () => next(i + 1));
    else {
      log.push(step.line);
      w.storageLocks.run(ref, step.ms, log, () => {
        if (step.makes) made.push(step.makes.replace('NEWID', String(newid)));
        next(i + 1);
      }, fail);
    }
  };
  next(0);
}

/** vdisk_free of each volume made, one after the other, each under the lock; a failure is only warned. */
function freeAll(w: PveWorld, ref: StorageRef, lockMs: number, volumes: string[], log: string[], done: () => void): void {
  const volid = volumes.shift();
  if (volid === undefined) return done();
  w.storageLocks.run(ref, lockMs, log, () => freeAll(w, ref, lockMs, volumes, log, done), (error) => {
    log.push(error);
    freeAll(w, ref, lockMs, volumes, log, done);
  });
}
