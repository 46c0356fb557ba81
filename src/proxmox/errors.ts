/**
 * A failed Proxmox call, with the HTTP status and Proxmox's own message (its HTTP reason phrase,
 * which is the error's first line). proxmox-api throws plain Errors; this recovers what they held.
 */
export class ProxmoxError extends Error {
  constructor(
    readonly status: number,
    readonly pveMessage: string,
    readonly operation: string,
    readonly paramErrors: Record<string, string> = {},
  ) {
    super(`${operation}: ${status} ${pveMessage}${Object.keys(paramErrors).length ? ' ' + JSON.stringify(paramErrors) : ''}`);
    this.name = 'ProxmoxError';
  }

  /** Lock contention and lock timeouts pass; worth retrying with backoff. */
  get isLockContention(): boolean {
    return /got timeout|is locked|lock request timeout/i.test(this.pveMessage);
  }

  get isTransient(): boolean {
    return this.status >= 500 || this.status === 0 || this.isLockContention;
  }
}

/** A task that ended `stopped` with an exitstatus other than OK / WARNINGS. */
export class TaskFailedError extends Error {
  constructor(readonly upid: string, readonly exitstatus: string, readonly operation: string) {
    super(`${operation}: task failed: ${exitstatus}`);
    this.name = 'TaskFailedError';
  }

  get isLockContention(): boolean {
    return /got timeout|is locked|lock request timeout/i.test(this.exitstatus);
  }
}

export class TaskTimeoutError extends Error {
  constructor(readonly upid: string, readonly operation: string, readonly timeoutMs: number) {
    super(`${operation}: task still running after ${Math.round(timeoutMs / 1000)}s`);
    this.name = 'TaskTimeoutError';
  }
}

const RETURN_ERROR = /^(\w+) (\S+) return Error (\d{3}) (.*?): (\{[\s\S]*\})$/;
const CONNECTION_FAILED = /^(\w+) (\S+) connection failed with (\d{3}) (.*?) return: ([\s\S]*)$/;

/** Turns whatever proxmox-api threw into a ProxmoxError (status 0 for network failures). */
export function toProxmoxError(e: unknown, operation: string): ProxmoxError {
  if (e instanceof ProxmoxError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const m = RETURN_ERROR.exec(msg) ?? CONNECTION_FAILED.exec(msg);
  if (m) {
    let errors: Record<string, string> = {};
    try {
      const body = JSON.parse(m[5]!) as { errors?: unknown };
      if (body.errors && typeof body.errors === 'object') errors = body.errors as Record<string, string>;
    } catch {
      /* body is informational only */
    }
    return new ProxmoxError(Number(m[3]), m[4]!, operation, errors);
  }
  return new ProxmoxError(0, msg.replace(/^FaILED to call /, 'network error calling '), operation);
}
