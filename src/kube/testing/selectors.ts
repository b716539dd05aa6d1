/**
 * Label and field selector matching for the in-memory fake clients of the tests
 * (command tests and agent tests); labels in the API server's own grammar.
 */
import type { KubeObject } from '../../protocol/types.js';
import type { ResourceType } from '../types.js';
import { labelsMatch } from '../../protocol/label-selector.js';

/** Store key of an object: plural, namespace (for namespaced kinds) and name. */
export function objectKey(res: ResourceType, ns: string | undefined, name: string): string {
  return `${res.plural}/${res.namespaced ? (ns ?? '') : ''}/${name}`;
}

/** The API server's label selector grammar (src/protocol/label-selector.ts). */
export function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  return labelsMatch(obj.metadata?.labels, selector);
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
