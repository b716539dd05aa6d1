/**
 * Unknown fields (part of rule SNAP011), as kubectl's strict field validation names them:
 * `unknown field "spec.containers[0].comand"`. A real API server refuses such a Pod with
 * kubectl's default `--validate=strict`; where it does not, the field is silently dropped,
 * so a typo in `command` would checkpoint a worker that runs its image's default.
 */
import { editDistance } from '../protocol/edit-distance.js';
import { POD_FIELDS } from './pod-fields.js';
import type { RuleHit } from './types.js';
import { keyPath, rec } from './util.js';

/** Every field of `pod` that the Pod schema does not have, with its path. */
export function unknownFieldHits(pod: Record<string, unknown>): RuleHit[] {
  const hits: RuleHit[] = [];
  walk(pod, 'Pod', '', hits);
  return hits;
}

function walk(value: unknown, type: string, path: string, hits: RuleHit[]): void {
  if (type === '') return;
  if (type.endsWith('[]')) {
    // A wrong type (not a list) is the schema validator's finding, not an unknown field.
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, type.slice(0, -2), `${path}[${i}]`, hits));
    return;
  }
  const fields = POD_FIELDS[type];
  const obj = rec(value);
  if (!fields || !obj) return;
  for (const [key, child] of Object.entries(obj)) {
    const at = keyPath(path, key);
    const known = fields[key];
    if (known === undefined) {
      const near = nearest(key, Object.keys(fields));
      hits.push({
        path: at,
        message: `unknown field "${at}" (kubectl's strict field validation refuses it)${near ? `; did you mean "${keyPath(path, near)}"?` : `; the fields here are ${Object.keys(fields).join(', ')}`}`,
      });
    } else walk(child, known, at, hits);
  }
}

/** The known name a typo most likely meant: same letters in another case, or at most 2 edits away. */
function nearest(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase) return sameCase;
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

