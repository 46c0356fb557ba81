import { inspect } from 'node:util';

/**
 * A credential that cannot end up in a log by accident: printing, interpolating, JSON-encoding or
 * util.inspect-ing it shows `[redacted]`; only `reveal()` gives the value, at the point of use.
 */
export class Secret {
  readonly #value: string;

  /** `source` says where it came from (e.g. `GITHUB_TOKEN_FILE=/run/keys/gh`) so `check` can tell. */
  constructor(value: string, readonly source: string) {
    this.#value = value;
    Object.freeze(this);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return `Secret([redacted] from ${this.source})`;
  }
}
