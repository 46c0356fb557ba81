import { Writable } from 'node:stream';
import winston from 'winston';

/** Structured fields every action line carries where known. */
export type LogMeta = Record<string, string | number | boolean | undefined | null | string[]>;

export interface Logger {
  error(msg: string, meta?: LogMeta): void;
  warn(msg: string, meta?: LogMeta): void;
  info(msg: string, meta?: LogMeta): void;
  debug(msg: string, meta?: LogMeta): void;
  child(meta: LogMeta): Logger;
}

export type LogFormat = 'text' | 'json';

/** What LOG_LEVEL takes (see config/env.ts), each the least severe level shown. */
export type Level = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  level?: Level;
  format?: LogFormat;
  /** stdout goes to journald (JOURNAL_STREAM is set): prefix lines with `<N>` so `journalctl -p err` works, no timestamps of our own. */
  journald?: boolean;
  /** Where lines go; stderr by default. Tests pass a sink. */
  write?: (line: string) => void;
  /** Values that must never be printed (tokens, JIT configs, keys); more can be added later. */
  secrets?: Redactor;
}

/** Our levels as winston's syslog level names: a name winston does not know would log nothing at all. */
const WINSTON_LEVEL: Record<Level, string> = { error: 'error', warn: 'warning', info: 'info', debug: 'debug' };

/** syslog priorities, as journald and `journalctl -p` know them */
const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warning: 4, info: 6, debug: 7 };

const MAX_SECRETS = 2000;

/**
 * Replaces every known secret value, and anything shaped like a GitHub token, with a marker.
 * Defence in depth: code is written never to log secrets, this catches the case it fails.
 */
export class Redactor {
  private readonly values = new Set<string>();
  private readonly permanent = new Set<string>();
  private static readonly PATTERNS = [
    /\b(gh[pousr]_[A-Za-z0-9]{20,})\b/g,
    /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g,
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
    /(PVEAPIToken=[^=\s]+=)[0-9a-f-]{36}/g,
  ];

  /** A credential of the process itself (token secret, GitHub token, App key): never forgotten. */
  addPermanent(secret: string | undefined): void {
    if (secret && secret.length >= 6) this.permanent.add(secret);
  }

  /**
   * A credential minted per VM (JIT config, registration token): dead within hours, so only the
   * newest MAX_SECRETS are kept and every log line is not checked against all ever issued.
   */
  add(secret: string | undefined): void {
    if (!secret || secret.length < 6) return;
    this.values.delete(secret);
    this.values.add(secret);
    if (this.values.size > MAX_SECRETS) this.values.delete(this.values.values().next().value!);
  }

  redact(text: string): string {
    let out = text;
    for (const set of [this.permanent, this.values]) for (const v of set) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    for (const re of Redactor.PATTERNS) out = out.replace(re, (m, keep?: string) => (keep && m.startsWith('PVEAPIToken') ? `${keep}[REDACTED]` : '[REDACTED]'));
    return out;
  }
}

function formatMeta(meta: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined || v === null || k === 'level' || k === 'message') continue;
    const s = Array.isArray(v) ? v.join(',') : String(v);
    parts.push(`${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`);
  }
  return parts.join(' ');
}

class WinstonLogger implements Logger {
  constructor(private readonly w: winston.Logger, private readonly redactor: Redactor) {}
  private log(level: string, msg: string, meta?: LogMeta): void {
    // a line that is not written costs no redaction and no formatting (debug lines at 1,500 listings a tick)
    if (!this.w.isLevelEnabled(level)) return;
    this.w.log(level, this.redactor.redact(msg), meta);
  }
  error(msg: string, meta?: LogMeta): void { this.log('error', msg, meta); }
  warn(msg: string, meta?: LogMeta): void { this.log('warning', msg, meta); }
  info(msg: string, meta?: LogMeta): void { this.log('info', msg, meta); }
  debug(msg: string, meta?: LogMeta): void { this.log('debug', msg, meta); }
  child(meta: LogMeta): Logger {
    return new WinstonLogger(this.w.child(meta), this.redactor);
  }
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const redactor = o.secrets ?? new Redactor();
  const write = o.write ?? ((line: string) => process.stderr.write(line));
  const redactMeta = winston.format((info) => {
    for (const [k, v] of Object.entries(info)) if (typeof v === 'string' && k !== 'level') (info as Record<string, unknown>)[k] = redactor.redact(v);
    return info;
  });
  const text = winston.format.printf((info) => {
    const meta = formatMeta(info as Record<string, unknown>);
    const body = `${info.message as string}${meta ? ' ' + meta : ''}`;
    if (o.journald) return `<${SYSLOG_PRIORITY[info.level] ?? 6}>${body}`;
    return `${new Date().toISOString()} ${info.level.padEnd(7)} ${body}`;
  });
  const json = winston.format.combine(winston.format.timestamp(), winston.format.json());
  const level = Object.hasOwn(WINSTON_LEVEL, o.level ?? 'info') ? WINSTON_LEVEL[o.level ?? 'info'] : undefined;
  if (level === undefined) throw new Error(`unknown log level '${String(o.level)}' (${Object.keys(WINSTON_LEVEL).join(', ')})`);
  const w = winston.createLogger({
    levels: winston.config.syslog.levels,
    level,
    format: winston.format.combine(redactMeta(), o.format === 'json' ? json : text),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _enc, cb) {
            write(String(chunk));
            cb();
          },
        }),
      }),
    ],
  });
  return new WinstonLogger(w, redactor);
}

/** A logger that keeps lines in memory, for tests and the demo's log capture. */
export function memoryLogger(o: Omit<LoggerOptions, 'write'> = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ ...o, write: (l) => lines.push(l.replace(/\n$/, '')) }), lines };
}
