/**
 * Validates simulator answers against the response schemas of GitHub's own OpenAPI description
 * (@octokit/openapi, api.github.com.json). The components are added to ajv once under the id `gh`;
 * a response schema is compiled with its `#/components/…` refs pointed there. OpenAPI 3.0's
 * `nullable` is understood by ajv 8 itself.
 */
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class OpenApiResponses {
  private readonly spec: Json;
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor() {
    this.spec = require('@octokit/openapi/generated/api.github.com.json') as Json;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv) => void)(this.ajv);
    allowNullInNullableEnums(this.spec.components);
    this.ajv.addSchema({ $id: 'gh', components: this.spec.components }, undefined, false);
  }

  /** Status codes the spec documents for this operation. */
  statuses(method: string, template: string): string[] {
    return Object.keys(this.operation(method, template).responses as Json);
  }

  /** Returns ajv's error list (empty = valid). Throws if the spec has no such response. */
  errors(method: string, template: string, status: number, body: unknown): string[] {
    const key = `${method} ${template} ${status}`;
    let validate = this.cache.get(key);
    if (!validate) {
      let response = (this.operation(method, template).responses as Json)[String(status)] as Json | undefined;
      // Errors the spec does not list for an operation (e.g. 404 on DELETE runner) still come as basic-error.
      if (!response && status >= 400) response = { content: { 'application/json': { schema: { $ref: '#/components/schemas/basic-error' } } } };
      if (!response) throw new Error(`${key}: not a documented response`);
      if (response.$ref) response = this.resolve(response.$ref as string);
      const schema = response.content?.['application/json']?.schema as Json | undefined;
      // A documented response without content (204, 304): there must be no body.
      if (!schema) return body === undefined || body === '' ? [] : [`${key} documents no body, got ${JSON.stringify(body).slice(0, 80)}`];
      validate = this.ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"gh#/components/')) as Json);
      this.cache.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`);
  }

  private operation(method: string, template: string): Json {
    const op = (this.spec.paths[template] as Json | undefined)?.[method.toLowerCase()] as Json | undefined;
    if (!op) throw new Error(`${method} ${template}: not in the OpenAPI description`);
    return op;
  }

  private resolve(ref: string): Json {
    return ref.replace(/^#\//, '').split('/').reduce<Json>((node, seg) => node[seg] as Json, this.spec);
  }
}

/*
 * The spec marks e.g. job.conclusion `nullable` with an enum lacking null; GitHub returns null for a
 * queued job and ajv (following OpenAPI 3.0.3) checks enum after nullable, so null is added to such enums.
 */
function allowNullInNullableEnums(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(allowNullInNullableEnums);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Json;
  if (o.nullable === true && Array.isArray(o.enum) && !o.enum.includes(null)) o.enum = [...o.enum, null];
  Object.values(o).forEach(allowNullInNullableEnums);
}
