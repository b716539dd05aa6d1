/**
 * A custom resource's structural schema (`openAPIV3Schema` of its CRD version), applied
 * as the real API server applies it on every write: unknown fields pruned, `default`s
 * filled in, then `type`, `enum`, `required`, `minimum`/`maximum`, `minLength`/`maxLength`
 * checked with the real messages. `apiVersion`, `kind` and `metadata` are the server's,
 * never pruned. Not covered (accepted as sent): `pattern`, `format`, `oneOf`/`anyOf`/
 * `allOf`/`not`, `x-kubernetes-int-or-string`, `x-kubernetes-validations`.
 */
import type { StatusCause } from './errors.js';
import { isRecord, type KubeObject } from './types.js';

/** The part of an OpenAPI v3 schema node a structural schema uses here. */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const ROOT_KEPT = new Set(['apiVersion', 'kind', 'metadata']);

function asNode(v: unknown): SchemaNode | undefined {
  return isRecord(v) ? (v as SchemaNode) : undefined;
}

/** The schema of `key` inside an object of schema `node`; undefined: an unknown field. */
function childSchema(node: SchemaNode, key: string): SchemaNode | 'keep' | undefined {
  const prop = node.properties?.[key];
  if (prop !== undefined) return prop;
  if (node.additionalProperties === true) return 'keep';
  const extra = asNode(node.additionalProperties);
  if (extra !== undefined) return extra;
  return node['x-kubernetes-preserve-unknown-fields'] === true ? 'keep' : undefined;
}

/** Drop every field the schema does not know, in place. */
function prune(value: unknown, node: SchemaNode, root: boolean): void {
  if (Array.isArray(value)) {
    const items = asNode(node.items);
    if (items) for (const v of value) prune(v, items, false);
    return;
  }
  if (!isRecord(value)) return;
  for (const key of Object.keys(value)) {
    if (root && ROOT_KEPT.has(key)) continue;
    const child = childSchema(node, key);
    if (child === undefined) delete value[key];
    else if (child !== 'keep') prune(value[key], child, false);
  }
}

/** Fill in `default`s of absent fields of objects that exist, in place. */
function fillDefaults(value: unknown, node: SchemaNode, root: boolean): void {
  if (Array.isArray(value)) {
    const items = asNode(node.items);
    if (items) for (const v of value) fillDefaults(v, items, false);
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, prop] of Object.entries(node.properties ?? {})) {
    if (root && ROOT_KEPT.has(key)) continue;
    if (value[key] === undefined && prop.default !== undefined) value[key] = structuredClone(prop.default);
  }
  for (const key of Object.keys(value)) {
    if (root && ROOT_KEPT.has(key)) continue;
    const child = childSchema(node, key);
    if (child !== undefined && child !== 'keep') fillDefaults(value[key], child, false);
  }
}

/** The OpenAPI type name of a JSON value. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

function hasType(v: unknown, type: string): boolean {
  const t = typeOf(v);
  return t === type || (type === 'number' && t === 'integer');
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function check(value: unknown, node: SchemaNode, path: string, out: StatusCause[], root: boolean): void {
  const field = path;
  const where = path === '' ? '' : `${path} in body`;
  if (node.type !== undefined && !hasType(value, node.type)) {
    const t = typeOf(value);
    out.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${t}": ${where} must be of type ${node.type}: "${t}"` });
    return;
  }
  if (node.enum !== undefined && !node.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push({ reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${show(value)}: supported values: ${node.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (typeof value === 'number') {
    if (node.minimum !== undefined && value < node.minimum) out.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${where} should be greater than or equal to ${node.minimum}` });
    if (node.maximum !== undefined && value > node.maximum) out.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${where} should be less than or equal to ${node.maximum}` });
  }
  if (typeof value === 'string') {
    if (node.minLength !== undefined && value.length < node.minLength) out.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${show(value)}: ${where} should be at least ${node.minLength} chars long` });
    if (node.maxLength !== undefined && value.length > node.maxLength) out.push({ reason: 'FieldValueTooLong', field, message: `Too long: may not be longer than ${node.maxLength}` });
  }
  if (Array.isArray(value)) {
    const items = asNode(node.items);
    // The real validator names a scalar item by its list (`spec.tags`), an object item by index.
    const scalar = items?.type !== undefined && items.type !== 'object' && items.type !== 'array';
    if (items) value.forEach((v, i) => check(v, items, scalar ? path : `${path}[${i}]`, out, false));
    return;
  }
  if (!isRecord(value)) return;
  const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
  for (const key of node.required ?? []) {
    if (value[key] === undefined) out.push({ reason: 'FieldValueRequired', field: at(key), message: 'Required value' });
  }
  for (const [key, v] of Object.entries(value)) {
    if (root && ROOT_KEPT.has(key)) continue;
    const child = childSchema(node, key);
    if (child !== undefined && child !== 'keep') check(v, child, at(key), out, false);
  }
}

/**
 * Prune, default and validate `obj` (in place) against `schema`, the CRD version's
 * `openAPIV3Schema`. Returns the causes of a 422 (empty when valid).
 */
export function applyCustomResourceSchema(schema: unknown, obj: KubeObject): StatusCause[] {
  const node = asNode(schema);
  if (node === undefined) return [];
  prune(obj, node, true);
  fillDefaults(obj, node, true);
  const out: StatusCause[] = [];
  check(obj, node, '', out, true);
  return out;
}
