/**
 * Proxmox's error kinds (pve-common PVE/Exception.pm) as the simulated API answers them:
 * a plain `die` is HTTP 500 whose reason phrase is the message's first line; raise_param_exc is 400
 * with per-parameter texts; raise_perm_exc is 403.
 */
export class PveError extends Error {
  constructor(message: string, readonly status = 500) {
    super(message);
    this.name = 'PveError';
  }
}

export class PveParamError extends PveError {
  constructor(readonly errors: Record<string, string>) {
    super('Parameter verification failed.', 400);
    this.name = 'PveParamError';
  }
}

export class PvePermError extends PveError {
  /** `what` is `<path>, <priv>`; without it PVE says only "Permission check failed" (failed `or` checks). */
  constructor(what?: string) {
    super(what ? `Permission check failed (${what})` : 'Permission check failed', 403);
    this.name = 'PvePermError';
  }
}
