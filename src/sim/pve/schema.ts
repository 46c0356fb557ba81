/**
 * The trimmed official PVE API schema (schemas/pve-api.trimmed.json, made by
 * scripts/trim-pve-schema.mjs) and its conversion to JSON Schema for ajv.
 */
import { createRequire } from 'node:module';
import { perlToJsRegex } from './formats.js';

const require = createRequire(import.meta.url);

/** One property/return description in PVE's own schema dialect (pve-common PVE/JSONSchema.pm). */
export interface PveSchema {
  type?: string;
  optional?: number | boolean;
  description?: string;
  properties?: Record<string, PveSchema>;
  additionalProperties?: number | boolean | PveSchema;
  items?: PveSchema;
  enum?: string[] | null;
  format?: string | Record<string, PveSchema>;
  pattern?: string;
  minimum?: number | string;
  maximum?: number | string;
  minLength?: number | string;
  maxLength?: number | string;
  default_key?: number;
  alias?: string;
  [other: string]: unknown;
}

export type PermCheck = [string, ...unknown[]];

export interface PveEndpoint {
  name: string;
  parameters: PveSchema;
  returns: PveSchema;
  permissions?: { check?: PermCheck; user?: string; description?: string };
  proxyto?: string;
  protected?: number;
  allowtoken?: number;
}

export const pveApi = require('../../../schemas/pve-api.trimmed.json') as { source: string; endpoints: Record<string, PveEndpoint> };

/** `ipconfig[n]` → `ipconfig`: PVE documents indexed options once under a templated name. */
export const TEMPLATED_NAME = /^([a-z][a-z0-9_-]*)\[n\]$/i;

/** Looks up the schema entry for a (possibly indexed) property name, e.g. `net0` under `net[n]`. */
export function propertySchema(props: Record<string, PveSchema> | undefined, key: string): PveSchema | undefined {
  if (!props) return undefined;
  if (Object.hasOwn(props, key)) return props[key];
  const m = /^([a-z][a-z0-9_-]*?)(\d+)$/i.exec(key);
  return m ? props[`${m[1]}[n]`] : undefined;
}

const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

/**
 * PVE schema → JSON Schema (draft-07) describing the JSON PVE actually sends: booleans are 0/1,
 * `optional: 1` leaves a property out of `required`, `additionalProperties: 0/1` become booleans,
 * limits given as strings become numbers, and `name[n]` properties become patternProperties.
 * Patterns are anchored as PVE anchors them; named PVE formats are not carried over (their rules
 * live in Perl — see formats.ts for the ones we check on requests).
 */
export function pveToJsonSchema(s: PveSchema, { topLevel = true } = {}): Record<string, unknown> {
  const out = convert(s);
  // A handler declaring an optional return (e.g. POST config's UPID) may answer null.
  return topLevel && s.optional ? { anyOf: [out, { type: 'null' }] } : out;
}

function convert(s: PveSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.description) out.description = s.description;
  switch (s.type) {
    case 'boolean':
      out.enum = [0, 1];
      return out;
    case 'integer':
    case 'number':
      out.type = s.type;
      if (s.minimum !== undefined) out.minimum = num(s.minimum);
      if (s.maximum !== undefined) out.maximum = num(s.maximum);
      return out;
    case 'string':
      out.type = 'string';
      if (s.enum) out.enum = s.enum;
      if (s.maxLength !== undefined) out.maxLength = num(s.maxLength);
      if (s.minLength !== undefined) out.minLength = num(s.minLength);
      if (s.pattern) out.pattern = `^(?:${perlToJsRegex(s.pattern)})$`;
      return out;
    case 'null':
      out.type = 'null';
      return out;
    case 'array':
      out.type = 'array';
      if (s.items) out.items = convert(s.items);
      return out;
    case 'object': {
      out.type = 'object';
      const properties: Record<string, unknown> = {};
      const patternProperties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [key, sub] of Object.entries(s.properties ?? {})) {
        const m = TEMPLATED_NAME.exec(key);
        if (m) patternProperties[`^${m[1]}\\d+$`] = convert(sub);
        else {
          properties[key] = convert(sub);
          if (!sub.optional) required.push(key);
        }
      }
      if (Object.keys(properties).length) out.properties = properties;
      if (Object.keys(patternProperties).length) out.patternProperties = patternProperties;
      if (required.length) out.required = required;
      const ap = s.additionalProperties;
      if (ap === 0 || ap === false) out.additionalProperties = false;
      else if (ap && typeof ap === 'object') out.additionalProperties = convert(ap);
      return out;
    }
    default:
      return out; // untyped: anything
  }
}
