import { missingPermission, permissionFix, describePermission } from '../github/permissions.js';
import type { Logger } from '../log.js';

/**
 * A credential missing a GitHub permission fails the same call every tick. The first failure is
 * logged as an error naming the permission and how to grant it; repeats only at debug level, so the
 * journal says it once, clearly, instead of a warning per tick.
 */
export class PermissionLog {
  private readonly said = new Set<string>();

  constructor(private readonly log: Logger, private readonly auth: 'token' | 'app') {}

  /**
   * True when `e` is GitHub refusing for lack of a permission (then it has been reported);
   * false for any other failure, which the caller reports itself.
   */
  report(e: unknown, what: string, where: string): boolean {
    const missing = missingPermission(e);
    if (!missing) return false;
    const key = `${where}\n${missing.accepted}`;
    const text = `github: ${what} refused (403 ${missing.message}): the ${this.auth === 'token' ? 'token' : 'GitHub App'} lacks the ${describePermission(missing.accepted)} on ${where}`;
    if (this.said.has(key)) {
      this.log.debug(text);
      return true;
    }
    this.said.add(key);
    this.log.error(`${text}; fix: ${permissionFix(missing.accepted, this.auth, where)} (said once; repeats are logged at debug level)`);
    return true;
  }
}
