/**
 * A parsed YAML file that remembers where each value was written, so problems found later (by the
 * schema or by cross-pool checks) can name the line.
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { Document } from 'yaml';
import { jsonPointerToPath } from '../util/schema-errors.js';
import type { ConfigProblem } from './errors.js';

export type PathSegment = string | number;

/** `['pools', 2, 'labels']` → `pools[2].labels`, the same form ajv errors are shown in. */
export function formatPath(segments: readonly PathSegment[]): string {
  return jsonPointerToPath(segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''));
}

/** `/pools/2/labels` → `['pools', 2, 'labels']` (array indexes as numbers, as yaml's getIn wants). */
export function pointerToSegments(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The tags whose values are plain JSON data; anything else (!!binary, !!set, !!js/…, !local) is refused. */
const CORE_TAGS = ['str', 'int', 'float', 'bool', 'null', 'seq', 'map'].map((t) => `tag:yaml.org,2002:${t}`);
const TAGS_FIX = 'remove it: pools.yaml holds only plain strings, numbers, booleans, lists and mappings (!!str, !!int, !!float, !!bool, !!null, !!seq and !!map are accepted)';
/** Aliases are for sharing a label list or two; 1000 resolutions is far more than that needs. */
const MAX_ALIAS_COUNT = 1000;

export class YamlSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Parses `text`; on syntax errors returns them as problems with their line and column. */
  static parse(text: string, file: string): { source?: YamlSource; data?: unknown; problems: ConfigProblem[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return {
        problems: doc.errors.map((e) => {
          const pos = e.linePos?.[0];
          const firstLine = e.message.split('\n')[0] ?? e.message;
          return {
            file,
            path: pos ? `line ${pos.line}, column ${pos.col}` : '(top level)',
            message: `not valid YAML: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}`,
            fix: 'correct the YAML syntax there (indentation, a missing ] or }, an unquoted : in a value, a key written twice)',
          };
        }),
      };
    }
    // An unknown tag only warns in the yaml library, and its value silently becomes a string.
    const tagProblems: ConfigProblem[] = [];
    visit(doc, {
      Node(_key, node) {
        if (node.tag === undefined || CORE_TAGS.includes(node.tag)) return;
        const at = node.range ? lines.linePos(node.range[0]) : undefined;
        const shown = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
        tagProblems.push({ file, path: at ? `line ${at.line}, column ${at.col}` : '(top level)', message: `the tag ${shown} is not allowed`, fix: TAGS_FIX });
      },
    });
    if (tagProblems.length > 0) return { problems: tagProblems };
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // The yaml library's guard against exponential alias expansion throws a ReferenceError.
      if (!(e instanceof ReferenceError) || !/alias/i.test(e.message)) throw e;
      return {
        problems: [{ file, path: '(top level)', message: 'its aliases (*name) expand to more than YAML loading allows, as in a "billion laughs" attack', fix: 'write the repeated values out, or repeat fewer of them through aliases' }],
      };
    }
    return { source: new YamlSource(file, doc, lines), data, problems: [] };
  }

  /** The 1-based line where the value at `segments` (or, with `key`, its key) is written. */
  lineOf(segments: readonly PathSegment[], key = false): number | undefined {
    if (key && segments.length > 0) {
      const parent = this.doc.getIn(segments.slice(0, -1), true);
      const last = segments[segments.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
        const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
        if (range) return this.lines.linePos(range[0]).line;
      }
    }
    const node = this.doc.getIn(segments, true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return this.lines.linePos(node.range[0]).line;
    return segments.length > 0 ? this.lineOf(segments.slice(0, -1)) : undefined;
  }

  problem(segments: readonly PathSegment[], message: string, fix: string): ConfigProblem {
    const line = this.lineOf(segments, true);
    return line === undefined ? { file: this.file, path: formatPath(segments), message, fix } : { file: this.file, path: formatPath(segments), line, message, fix };
  }
}
