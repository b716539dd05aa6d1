/**
 * Label and field selector matching for the in-memory fake clients of the tests
 * (command tests and agent tests): the subset of the API server's syntax we use.
 */
import type { KubeObject } from '../../protocol/types.js';
import type { ResourceType } from '../types.js';

/** Store key of an object: plural, namespace (for namespaced kinds) and name. */
export function objectKey(res: ResourceType, ns: string | undefined, name: string): string {
  return `${res.plural}/${res.namespaced ? (ns ?? '') : ''}/${name}`;
}

/** `a=b`, `a==b`, `a!=b`, `a` (exists) and `!a` (absent), comma-separated and ANDed. */
export function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = obj.metadata?.labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (t === '') return true;
    const ne = t.split('!=');
    if (ne.length === 2) return labels[ne[0]!] !== ne[1];
    const eq = t.split(/==?/);
    if (eq.length === 2) return labels[eq[0]!] === eq[1];
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

function fieldValue(obj: KubeObject, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** `path=value` terms (any dotted path), comma-separated and ANDed. */
export function matchesFields(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [path, value] = term.split('=') as [string, string | undefined];
    return String(fieldValue(obj, path) ?? '') === (value ?? '');
  });
}
