/**
 * The grammar of the guest's small sh: simple commands with assignments and redirections, joined by
 * `&&`, `||`, `;` and newlines; words with '…', "…", backslashes and $VAR / ${VAR} / ${VAR:-x}
 * expansions. Whatever else sh has (pipes, `$(…)`, `if`/`for`, functions, here-documents, globs in
 * effect) is refused by name, so a bootstrap that needs it fails loudly instead of being guessed at.
 */
export class ShellUnsupported extends Error {}
export class ShellSyntax extends Error {}

export interface Redir {
  fd: 1 | 2;
  op: '>' | '>>' | '>&';
  /** raw word (expanded at run time), or the fd number for `>&` */
  target: string;
}

export interface SimpleCommand {
  /** raw `NAME=value` words before the command name */
  assigns: string[];
  words: string[];
  redirs: Redir[];
}

/** `a && b || c`: run left to right, each op deciding on the previous status. */
export interface AndOr {
  cmds: SimpleCommand[];
  ops: Array<'&&' | '||'>;
}

type Tok = { kind: 'word'; raw: string } | { kind: 'op'; op: string };

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'function', '{', '}', '!', 'select', '[[']);
export const ASSIGN_RE = /^[A-Za-z_][A-Za-z0-9_]*=/;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\' && src[i + 1] === '\n') { i += 2; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#') { while (i < src.length && src[i] !== '\n') i++; continue; }
    if (c === '\n') { toks.push({ kind: 'op', op: '\n' }); i++; continue; }
    const two = src.slice(i, i + 2);
    if (two === '<<') throw new ShellUnsupported('here-documents (<<) are not modelled');
    if (src.startsWith('2>&1', i)) { toks.push({ kind: 'op', op: '2>&1' }); i += 4; continue; }
    if (src.startsWith('>&2', i) || src.startsWith('1>&2', i)) { toks.push({ kind: 'op', op: '>&2' }); i += src[i] === '1' ? 4 : 3; continue; }
    if (src.startsWith('2>>', i)) { toks.push({ kind: 'op', op: '2>>' }); i += 3; continue; }
    if (two === '2>' && (i === 0 || /\s/.test(src[i - 1]!))) { toks.push({ kind: 'op', op: '2>' }); i += 2; continue; }
    if (two === '&&' || two === '||' || two === '>>') { toks.push({ kind: 'op', op: two }); i += 2; continue; }
    if (c === '|') throw new ShellUnsupported('pipelines (|) are not modelled');
    if (c === '&') throw new ShellUnsupported('background jobs (&) are not modelled');
    if (c === '(' || c === ')') throw new ShellUnsupported('subshells and functions ( ) are not modelled');
    if (c === '<') throw new ShellUnsupported('input redirection (<) is not modelled');
    if (c === ';' || c === '>') { toks.push({ kind: 'op', op: c }); i++; continue; }
    // A word: runs until unquoted blank or operator; quotes are kept raw for expansion later.
    let raw = '';
    while (i < src.length) {
      const d = src[i]!;
      if (d === '\\') {
        if (src[i + 1] === '\n') { i += 2; continue; }
        raw += src.slice(i, i + 2); i += 2; continue;
      }
      if (d === "'") {
        const end = src.indexOf("'", i + 1);
        if (end < 0) throw new ShellSyntax('unterminated quoted string');
        raw += src.slice(i, end + 1); i = end + 1; continue;
      }
      if (d === '"') {
        let j = i + 1;
        while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
        if (j >= src.length) throw new ShellSyntax('unterminated quoted string');
        raw += src.slice(i, j + 1); i = j + 1; continue;
      }
      if (d === '`') throw new ShellUnsupported('command substitution (`…`) is not modelled');
      if (d === '$' && src[i + 1] === '(') throw new ShellUnsupported('command substitution ($(…)) and arithmetic ($((…))) are not modelled');
      if (/[\s;&|<>()]/.test(d)) break;
      raw += d; i++;
    }
    toks.push({ kind: 'word', raw });
  }
  return toks;
}

/**
 * sh reads and runs a script one complete command at a time, so a line it cannot parse ends the
 * script there, after the lines before it ran: the script's logical lines (quotes, `\`-newline and a
 * trailing && or || continue one).
 */
export function logicalLines(src: string): string[] {
  const lines: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') { cur += c + (src[i + 1] ?? ''); i++; continue; }
      if (c === quote) quote = undefined;
      cur += c;
      continue;
    }
    if (c === '\\') { cur += c + (src[i + 1] ?? ''); i++; continue; }
    if (c === "'" || c === '"') quote = c;
    if (c === '#' && (cur === '' || /\s$/.test(cur))) { while (i + 1 < src.length && src[i + 1] !== '\n') i++; continue; }
    if (c === '\n' && !/(&&|\|\|)\s*$/.test(cur)) {
      lines.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() || quote) lines.push(cur);
  return lines.filter((l) => l.trim() !== '');
}

export function parseScript(src: string): AndOr[] {
  const toks = tokenize(src);
  const out: AndOr[] = [];
  let k = 0;
  const simple = (): SimpleCommand => {
    const cmd: SimpleCommand = { assigns: [], words: [], redirs: [] };
    for (;;) {
      const t = toks[k];
      if (!t) break;
      if (t.kind === 'word') {
        if (cmd.words.length === 0 && ASSIGN_RE.test(t.raw)) cmd.assigns.push(t.raw);
        else {
          if (cmd.words.length === 0 && RESERVED.has(t.raw)) throw new ShellUnsupported(`'${t.raw}' (compound commands) is not modelled`);
          if (cmd.words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*\(\)$/.test(t.raw)) throw new ShellUnsupported('functions are not modelled');
          cmd.words.push(t.raw);
        }
        k++;
        continue;
      }
      if (t.op === '2>&1') { cmd.redirs.push({ fd: 2, op: '>&', target: '1' }); k++; continue; }
      if (t.op === '>&2') { cmd.redirs.push({ fd: 1, op: '>&', target: '2' }); k++; continue; }
      if (t.op === '>' || t.op === '>>' || t.op === '2>' || t.op === '2>>') {
        const target = toks[k + 1];
        if (target?.kind !== 'word') throw new ShellSyntax(`syntax error: redirection ${t.op} without a file`);
        cmd.redirs.push({ fd: t.op.startsWith('2') ? 2 : 1, op: t.op.endsWith('>>') ? '>>' : '>', target: target.raw });
        k += 2;
        continue;
      }
      break;
    }
    if (!cmd.words.length && !cmd.assigns.length && !cmd.redirs.length) throw new ShellSyntax(`syntax error near unexpected token '${opText(toks[k])}'`);
    return cmd;
  };
  let afterCommand = false;
  while (k < toks.length) {
    const t = toks[k]!;
    if (t.kind === 'op' && (t.op === '\n' || t.op === ';')) {
      if (t.op === ';' && !afterCommand) throw new ShellSyntax("syntax error near unexpected token ';'");
      afterCommand = false;
      k++;
      continue;
    }
    const item: AndOr = { cmds: [simple()], ops: [] };
    for (;;) {
      const n = toks[k];
      if (n?.kind !== 'op' || (n.op !== '&&' && n.op !== '||')) break;
      k++;
      while (toks[k]?.kind === 'op' && (toks[k] as { op: string }).op === '\n') k++; // `a &&\n b`
      item.ops.push(n.op);
      item.cmds.push(simple());
    }
    out.push(item);
    afterCommand = true;
  }
  return out;
}

function opText(t: Tok | undefined): string {
  if (!t) return 'newline';
  return t.kind === 'word' ? t.raw : t.op === '\n' ? 'newline' : t.op;
}

export interface ExpandEnv {
  get(name: string): string | undefined;
  positional: string[];
  status: number;
  home: string;
}

/**
 * Expands one raw word into fields: quote removal, parameter expansion, and field splitting of
 * unquoted expansions on blanks (IFS's default). No globbing: a `*` stays a `*`.
 */
export function expandWord(raw: string, env: ExpandEnv, split = true): string[] {
  const fields: string[] = [];
  let cur = '';
  let have = false; // cur is a field even if empty ("" or '')
  const pushSplit = (value: string) => {
    if (!split) {
      cur += value;
      have = true;
      return;
    }
    const parts = value.split(/[ \t\n]+/);
    parts.forEach((p, idx) => {
      if (idx > 0) {
        if (have || cur) fields.push(cur);
        cur = '';
        have = false;
      }
      cur += p;
      if (p) have = true;
    });
  };
  const param = (s: string, at: number): { value: string | string[]; next: number } => {
    const c = s[at];
    if (c === '(') throw new ShellUnsupported('command substitution ($(…)) and arithmetic ($((…))) are not modelled');
    if (c === '{') {
      const end = s.indexOf('}', at);
      if (end < 0) throw new ShellSyntax('bad substitution');
      const body = s.slice(at + 1, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#@*])(?:(:?[-+])(.*))?$/.exec(body);
      if (!m) throw new ShellUnsupported(`\${${body}} is not a modelled parameter expansion`);
      const v = lookup(m[1]!);
      const set = v !== undefined && (m[2]?.startsWith(':') ? v !== '' : true);
      let value = v ?? '';
      if (m[2]?.endsWith('-') && !set) value = expandInner(m[3] ?? '', env);
      if (m[2]?.endsWith('+')) value = set ? expandInner(m[3] ?? '', env) : '';
      return { value, next: end + 1 };
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9]|[?#@*$])/.exec(s.slice(at));
    if (!m) return { value: '$', next: at };
    if (m[1] === '@') return { value: [...env.positional], next: at + 1 };
    return { value: lookup(m[1]!) ?? '', next: at + m[1]!.length };
  };
  const lookup = (name: string): string | undefined => {
    if (name === '?') return String(env.status);
    if (name === '#') return String(env.positional.length);
    if (name === '*' || name === '@') return env.positional.join(' ');
    if (name === '$') return '4242';
    if (/^[0-9]+$/.test(name)) return name === '0' ? 'sh' : env.positional[Number(name) - 1];
    return env.get(name);
  };
  let i = 0;
  if (raw.startsWith('~') && (raw.length === 1 || raw[1] === '/')) { cur = env.home; have = true; i = 1; }
  while (i < raw.length) {
    const c = raw[i]!;
    if (c === '\\') { cur += raw[i + 1] ?? ''; have = true; i += 2; continue; }
    if (c === "'") { const end = raw.indexOf("'", i + 1); cur += raw.slice(i + 1, end); have = true; i = end + 1; continue; }
    if (c === '"') {
      have = true;
      i++;
      while (raw[i] !== '"') {
        const d = raw[i]!;
        if (d === '\\' && '$`"\\\n'.includes(raw[i + 1] ?? '')) { cur += raw[i + 1]; i += 2; continue; }
        if (d === '$') {
          const r = param(raw, i + 1);
          if (Array.isArray(r.value)) {
            r.value.forEach((v, idx) => { if (idx > 0) { fields.push(cur); cur = ''; } cur += v; });
          } else cur += r.value;
          i = r.next;
          continue;
        }
        cur += d;
        i++;
      }
      i++;
      continue;
    }
    if (c === '$') {
      const r = param(raw, i + 1);
      if (Array.isArray(r.value)) r.value.forEach((v, idx) => pushSplit(idx > 0 ? ` ${v}` : v));
      else pushSplit(r.value);
      i = r.next;
      continue;
    }
    cur += c;
    have = true;
    i++;
  }
  if (have || cur) fields.push(cur);
  return fields;
}

/** The word of ${X:-word}, expanded as one string. */
function expandInner(word: string, env: ExpandEnv): string {
  return expandWord(word, env, false).join(' ');
}

/** An assignment's value: expanded without field splitting, as sh does. */
export function expandAssignment(raw: string, env: ExpandEnv): [string, string] {
  const eq = raw.indexOf('=');
  return [raw.slice(0, eq), expandWord(raw.slice(eq + 1), env, false).join(' ')];
}
