/**
 * ajv errors → problems whose fix is the description the schema gives the offending property, so
 * the schema file is the one place where "what would be valid" is written down.
 */
import type { ErrorObject } from 'ajv';
import type { ConfigProblem } from './errors.js';
import { pointerToSegments } from './yaml-source.js';
import type { PathSegment, YamlSource } from './yaml-source.js';

interface SchemaNode {
  description?: string;
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  else?: SchemaNode;
  definitions?: Record<string, SchemaNode>;
}

function isSchemaNode(v: unknown): v is SchemaNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class SchemaDescriber {
  constructor(private readonly root: SchemaNode) {}

  private deref(node: SchemaNode): SchemaNode | undefined {
    const name = node.$ref?.replace(/^#\/definitions\//, '');
    return name === undefined ? undefined : this.root.definitions?.[name];
  }

  /** The node's own description, else that of what it refers to. */
  private describe(node: SchemaNode | undefined): string | undefined {
    for (let n = node, hops = 0; n && hops < 10; n = this.deref(n), hops++) if (n.description) return n.description;
    return undefined;
  }

  private child(node: SchemaNode, seg: PathSegment): SchemaNode | undefined {
    for (let n: SchemaNode | undefined = node, hops = 0; n && hops < 10; n = this.deref(n), hops++) {
      const props = n.properties ?? n.else?.properties;
      if (typeof seg === 'string' && props?.[seg]) return props[seg];
      if (typeof seg === 'number' && n.items) return n.items;
    }
    return undefined;
  }

  /** The most specific description along `segments` (an array item without one gets its array's). */
  descriptionAt(segments: readonly PathSegment[]): string | undefined {
    let node: SchemaNode | undefined = this.root;
    let found = this.describe(node);
    for (const seg of segments) {
      node = node && this.child(node, seg);
      if (!node) break;
      found = this.describe(node) ?? found;
    }
    return found;
  }

  /** Property names allowed in the object at `segments`. */
  keysAt(segments: readonly PathSegment[]): string[] {
    let node: SchemaNode | undefined = this.root;
    for (const seg of segments) node = node && this.child(node, seg);
    for (let n = node, hops = 0; n && hops < 10; n = this.deref(n), hops++) {
      const props = n.properties ?? n.else?.properties;
      if (props) return Object.keys(props);
    }
    return [];
  }
}

/** Quotes a value for a one-line message; control characters (a newline in a label) are escaped. */
function show(v: unknown): string {
  if (typeof v === 'string') return /[\x00-\x1f\x7f]/.test(v) ? JSON.stringify(v) : `'${v}'`;
  return JSON.stringify(v) ?? String(v);
}

export function schemaProblems(errors: readonly ErrorObject[], source: YamlSource, schema: SchemaDescriber): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // `if` only says which branch failed; the branch's own errors say why.
    if (e.keyword === 'if') continue;
    const at = pointerToSegments(e.instancePath);
    const p = e.params as Record<string, unknown>;
    let segments = at;
    let message: string;
    let fix: string;
    switch (e.keyword) {
      case 'additionalProperties': {
        segments = [...at, String(p.additionalProperty)];
        const keys = schema.keysAt(at);
        message = 'unknown key';
        fix = `remove it or correct its spelling; valid here: ${keys.join(', ')}`;
        break;
      }
      case 'required':
        segments = [...at, String(p.missingProperty)];
        message = 'is missing';
        fix = `add it: ${schema.descriptionAt(segments) ?? 'see schemas/pools.schema.json'}`;
        break;
      case 'enum':
        message = `${show(e.data)} is not one of ${(p.allowedValues as unknown[]).map(show).join(', ')}`;
        fix = schema.descriptionAt(at) ?? 'use one of the listed values';
        break;
      case 'pattern':
        message = `${show(e.data)} is not valid`;
        fix = schema.descriptionAt(at) ?? `match ${String(p.pattern)}`;
        break;
      case 'uniqueItems':
        message = `items ${Math.min(Number(p.i), Number(p.j))} and ${Math.max(Number(p.i), Number(p.j))} are the same (${show((e.data as unknown[])[Number(p.i)])})`;
        fix = `remove the duplicate; ${schema.descriptionAt(at) ?? ''}`.replace(/; $/, '');
        break;
      default:
        message = `${e.message ?? 'is not valid'} (got ${show(e.data)})`;
        fix = schema.descriptionAt(at) ?? 'see schemas/pools.schema.json';
    }
    const problem = source.problem(segments, message, fix);
    const key = `${problem.path}\0${problem.message}`;
    if (!seen.has(key)) problems.push(problem);
    seen.add(key);
  }
  return problems;
}
