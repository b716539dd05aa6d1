/**
 * The Kubernetes object schema (rule SNAP011) from `kubernetes-models`, the published
 * OpenAPI schemas of core/v1 Pod compiled to validators. Loaded lazily: only
 * `validate`, `checkpoint` and `restore --manifest` pay for the import.
 */
import type { RuleHit } from './types.js';
import { unknownFieldHits } from './unknown-fields.js';
import { keyPath, rec, show } from './util.js';

/** Schema findings for one object (empty when valid). */
export type SchemaValidator = (obj: Record<string, unknown>) => RuleHit[];

/** The subset of an Ajv error that `kubernetes-models` reports. */
interface SchemaError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

let cached: Promise<SchemaValidator> | undefined;

/** Import the Pod model once and return a validator over it. */
export function loadSchemaValidator(): Promise<SchemaValidator> {
  cached ??= import('kubernetes-models/v1/Pod').then(({ Pod }) => (obj: Record<string, unknown>): RuleHit[] => {
    // The published schemas allow any extra field; kubectl's strict validation does not.
    const unknown = unknownFieldHits(obj);
    try {
      // The model copies the fields it is given; kind/apiVersion are checked by SNAP002/SNAP009.
      new Pod({ ...obj, apiVersion: 'v1', kind: 'Pod' } as ConstructorParameters<typeof Pod>[0]).validate();
      return unknown;
    } catch (err) {
      const errors = (err as { errors?: unknown }).errors;
      if (Array.isArray(errors)) return [...schemaHits(obj, errors as SchemaError[]), ...unknown];
      return [{ path: '', message: `the object could not be checked against the Pod schema: ${(err as Error).message}` }, ...unknown];
    }
  });
  return cached;
}

/** A JSON pointer (`/spec/containers/0/image`) as a field path, using the object to tell indexes from keys. */
export function pointerToPath(obj: unknown, pointer: string): string {
  let path = '';
  let cur: unknown = obj;
  for (const raw of pointer.split('/').slice(1)) {
    const step = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(step)) {
      path += `[${step}]`;
      cur = cur[Number(step)];
    } else {
      path = keyPath(path, step);
      cur = rec(cur)?.[step];
    }
  }
  return path;
}

/** Ajv errors grouped per field into one sentence each, without the `oneOf` noise. */
export function schemaHits(obj: Record<string, unknown>, errors: SchemaError[]): RuleHit[] {
  const byPath = new Map<string, string[]>();
  for (const e of errors) {
    let path = pointerToPath(obj, e.instancePath ?? '');
    let message: string;
    const params = e.params ?? {};
    if (e.keyword === 'required' && typeof params['missingProperty'] === 'string') {
      path = keyPath(path, params['missingProperty']);
      message = 'is required';
    } else if (e.keyword === 'enum' && Array.isArray(params['allowedValues'])) {
      message = `must be one of ${(params['allowedValues'] as unknown[]).map((v) => show(v)).join(', ')}`;
    } else if (e.keyword === 'format' && params['format'] === 'quantity') {
      message = 'must be a quantity such as 1, 500m or 16Gi';
    } else if (e.keyword === 'oneOf' || e.keyword === 'anyOf') {
      continue;
    } else {
      message = e.message ?? 'is not valid';
    }
    const list = byPath.get(path) ?? [];
    if (!list.includes(message)) list.push(message);
    byPath.set(path, list);
  }
  const hits: RuleHit[] = [];
  for (const [path, messages] of byPath) {
    // A quantity may be a number or a string: "must be number" beside it only confuses.
    const shown = messages.some((m) => m.startsWith('must be a quantity')) ? messages.filter((m) => !m.startsWith('must be number') && !m.startsWith('must be string')) : messages;
    hits.push({
      path,
      message: `${path || 'the object'} ${shown.join('; ')} (Kubernetes Pod schema); fix the field as \`kubectl explain pod.${path.replace(/\[[^\]]*\]/g, '')}\` describes`,
    });
  }
  return hits;
}
