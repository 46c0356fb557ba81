/**
 * Parameter verification as PVE does it (pve-common PVE/JSONSchema.pm validate/check_prop), with
 * its exact texts: every request parameter, path parameters included, is checked against the
 * endpoint's schema; the first problem per parameter wins (add_error keeps the first).
 */
import { PveParamError } from './errors.js';
import { checkNamedFormat, parsePropertyString, perlToJsRegex, propertyStringFormats } from './formats.js';
import { propertySchema, type PveSchema } from './schema.js';

const INTEGER_RE = /^[+-]?\d+$/;
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NOT_IN_SCHEMA = 'property is not defined in schema and the schema does not allow additional properties';

type Errors = Record<string, string>;

/**
 * How a parameter of type `array` travels in Params: a form body repeats the key
 * (`command=cat&command=/etc/x`), and CGI.pm's Vars, which pveproxy parses bodies with, joins the
 * values with NUL; each handler splits them again (arrayParam).
 */
export const ARRAY_SEP = '\0';
export const arrayParam = (value: string | undefined): string[] | undefined => value?.split(ARRAY_SEP);
const addError = (errors: Errors, path: string, msg: string): void => {
  if (errors[path] === undefined) errors[path] = msg;
};

function checkType(type: string | undefined, value: string): boolean {
  switch (type) {
    case 'boolean':
      return value === '1' || value === '0';
    case 'integer':
      return INTEGER_RE.test(value);
    case 'number':
      return NUMBER_RE.test(value);
    default:
      return true;
  }
}

/** Checks one scalar against its schema; returns false if an error was added. */
function checkProp(errors: Errors, path: string, schema: PveSchema, value: string): void {
  if (!checkType(schema.type, value)) {
    addError(errors, path, `type check ('${schema.type}') failed - got '${value}'`);
    return;
  }
  const format = schema.format;
  if (format !== undefined) {
    const inline = typeof format === 'object' ? format : propertyStringFormats[format];
    try {
      if (inline) checkObject(errors, path, inline, parsePropertyString(inline, value));
      else checkNamedFormat(format as string, value);
    } catch (e) {
      addError(errors, path, `invalid format - ${(e as Error).message}`);
      return;
    }
  }
  if (schema.minLength !== undefined && value.length < Number(schema.minLength)) addError(errors, path, `value must be at least ${schema.minLength} characters long`);
  if (schema.maxLength !== undefined && value.length > Number(schema.maxLength)) addError(errors, path, `value may only be ${schema.maxLength} characters long`);
  if (schema.pattern !== undefined && !new RegExp(`^(?:${perlToJsRegex(schema.pattern)})$`).test(value)) addError(errors, path, 'value does not match the regex pattern');
  if (schema.type === 'integer' || schema.type === 'number') {
    if (schema.minimum !== undefined && Number(value) < Number(schema.minimum)) addError(errors, path, `value must have a minimum value of ${schema.minimum}`);
    if (schema.maximum !== undefined && Number(value) > Number(schema.maximum)) addError(errors, path, `value must have a maximum value of ${schema.maximum}`);
  }
  if (schema.enum && !schema.enum.includes(value)) addError(errors, path, `value '${value}' does not have a value in the enumeration '${schema.enum.join(', ')}'`);
}

/** An array parameter arrives as its values joined by NUL (server.ts); each item is checked as itself. */
function checkArray(errors: Errors, path: string, schema: PveSchema, value: string): void {
  const items = schema.items ?? {};
  value.split(ARRAY_SEP).forEach((item, i) => checkProp(errors, `${path}[${i}]`, items, item));
}

function checkObject(errors: Errors, prefix: string, props: Record<string, PveSchema>, values: Record<string, string>, additional = false): void {
  const at = (k: string) => (prefix ? `${prefix}.${k}` : k);
  for (const [key, value] of Object.entries(values)) {
    const sub = propertySchema(props, key);
    if (!sub) {
      if (!additional) addError(errors, at(key), NOT_IN_SCHEMA);
      continue;
    }
    if (sub.type === 'array') checkArray(errors, at(key), sub, value);
    else checkProp(errors, at(key), sub, value);
  }
  for (const [key, sub] of Object.entries(props)) {
    if (key.endsWith('[n]') || sub.optional || sub.alias !== undefined || values[key] !== undefined) continue;
    addError(errors, at(key), 'property is missing and it is not optional');
  }
}

/**
 * Validates request parameters (all strings, as they arrive form- or query-encoded) against an
 * endpoint's `parameters` schema; throws PveParamError (HTTP 400) with PVE's per-parameter texts.
 */
export function validateParams(schema: PveSchema, params: Record<string, string>): void {
  const errors: Errors = {};
  const additional = schema.additionalProperties === 1 || schema.additionalProperties === true;
  checkObject(errors, '', schema.properties ?? {}, params, additional);
  if (Object.keys(errors).length) throw new PveParamError(errors);
}
