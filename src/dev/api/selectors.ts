/**
 * Label and field selectors with the real API server's grammar. Labels: the one grammar
 * of src/protocol/label-selector.ts, a bad selector a 400; fields: `f=v`, `f==v`, `f!=v`,
 * restricted to the fields each resource supports.
 */
import { badRequest } from './errors.js';
import type { KubeObject } from './types.js';
import { LabelSelectorError, matchRequirement, parseLabelSelector, type LabelRequirement } from '../../protocol/label-selector.js';

/** A compiled selector: returns true when the object matches. */
export type Matcher = (obj: KubeObject) => boolean;

/** Compile a label selector string into a matcher over `metadata.labels`; a bad one is a 400. */
export function labelMatcher(sel: string | undefined): Matcher {
  if (sel === undefined || sel.trim() === '') return () => true;
  let reqs: LabelRequirement[];
  try {
    reqs = parseLabelSelector(sel);
  } catch (err) {
    if (err instanceof LabelSelectorError) throw badRequest(err.message);
    throw err;
  }
  return (o) => reqs.every((r) => matchRequirement(o.metadata.labels ?? {}, r));
}

/** Read a dotted field path such as `spec.nodeName` from an object, as a string. */
export function fieldValue(obj: KubeObject, path: string): string {
  if (path === 'source') return String(obj['source']?.component ?? obj['reportingComponent'] ?? '');
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}

/**
 * Compile a field selector. `allowed` lists the fields this resource supports besides
 * metadata.name and metadata.namespace; anything else is a 400 like the real server.
 */
export function fieldMatcher(sel: string | undefined, allowed: string[]): Matcher {
  if (sel === undefined || sel.trim() === '') return () => true;
  const reqs: { key: string; neg: boolean; value: string }[] = [];
  for (const part of sel.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${sel}'; can't understand '${part}'`);
    const key = m[1]!;
    if (key !== 'metadata.name' && key !== 'metadata.namespace' && !allowed.includes(key)) {
      throw badRequest(`field label not supported: ${key}`);
    }
    reqs.push({ key, neg: m[2] === '!=', value: m[3]! });
  }
  return (o) => reqs.every((r) => (fieldValue(o, r.key) === r.value) !== r.neg);
}
