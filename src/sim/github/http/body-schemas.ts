/**
 * Request-body validation as GitHub does it: the body is checked against the endpoint's JSON schema
 * (the one published in the OpenAPI description) and a failure is a 422 whose message lists the
 * problems in GitHub's wording ("\"name\" wasn't supplied.", "For 'properties/x', 1 is not a string.").
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from './errors.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });

/** From @octokit/openapi: POST …/actions/runners/generate-jitconfig requestBody. */
const jitConfigBody = ajv.compile<JitConfigBody>({
  type: 'object',
  required: ['name', 'runner_group_id', 'labels'],
  properties: {
    name: { type: 'string', minLength: 1 },
    runner_group_id: { type: 'integer' },
    labels: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1 } },
    work_folder: { type: 'string' },
  },
});

export interface JitConfigBody {
  name: string;
  runner_group_id: number;
  labels: string[];
  work_folder?: string;
}

const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

function describe(e: ErrorObject): string {
  const field = e.instancePath.split('/').filter(Boolean);
  const where = field.length ? `For 'properties/${field.join('/')}', ` : '';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `"${String(p.missingProperty)}" wasn't supplied.`;
    case 'type':
      return `${where}${JSON.stringify(e.data)} is not ${article(String(p.type))}.`;
    case 'minItems':
      return `${where}${JSON.stringify(e.data)} has fewer items than ${String(p.limit)}.`;
    case 'maxItems':
      return `${where}the array has more items than ${String(p.limit)}.`;
    case 'minLength':
      return `${where}${JSON.stringify(e.data)} is too short (minimum is ${String(p.limit)} characters).`;
    default:
      return `${where}${e.message ?? 'is invalid'}.`;
  }
}

function check<T>(validate: ValidateFunction<T>, body: unknown, onInvalid?: (problems: string[]) => void): T {
  if (validate(body)) return body as T;
  const problems = [...new Set((validate.errors ?? []).map(describe))];
  onInvalid?.(problems);
  throw new ApiError(422, `Invalid request.\n\n${problems.join('\n')}`, { errors: problems });
}

export const parseJitConfigBody = (body: unknown, onInvalid?: (problems: string[]) => void): JitConfigBody => check(jitConfigBody, body, onInvalid);
