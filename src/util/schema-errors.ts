import type { ErrorObject } from 'ajv';

/** `/pools/2/labels` → `pools[2].labels`: the path form users see in our error messages. */
export function jsonPointerToPath(pointer: string): string {
  if (!pointer) return '(top level)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** One readable line per ajv error, naming the path and what would be valid. */
export function describeAjvError(e: ErrorObject): string {
  const path = jsonPointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path === '(top level)' ? '' : path + '.'}${String(p.additionalProperty)}: unknown key (remove it or check its spelling)`;
    case 'required':
      return `${path}: missing required key '${String(p.missingProperty)}'`;
    case 'enum':
      return `${path}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `${path}: must be of type ${String(p.type)}`;
    case 'pattern':
      return `${path}: ${e.parentSchema?.description ? String(e.parentSchema.description) : `must match ${String(p.pattern)}`}`;
    case 'oneOf':
    case 'anyOf':
      return `${path}: ${e.parentSchema?.description ? String(e.parentSchema.description) : e.message ?? 'invalid value'}`;
    default:
      return `${path}: ${e.message ?? 'invalid value'}`;
  }
}

/**
 * ajv reports every branch of a failed oneOf; keep the oneOf summary and drop the branch noise so
 * each bad value yields one line.
 */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined): string[] {
  if (!errors) return [];
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath));
  const lines = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf' || !oneOfPaths.has(e.instancePath))
    .map(describeAjvError);
  return [...new Set(lines)];
}
