/**
 * The three patch formats the real server accepts from kubectl and client libraries:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
 * Strategic merge is merge patch plus: lists with a merge key (containers, volumes,
 * env, ...) merged element by element, `$patch: delete|replace` directives,
 * `$setElementOrder/<list>` (ordering hints kubectl sends), `$retainKeys` and
 * `$deleteFromPrimitiveList/<list>`.
 */
import { badRequest, ApiError } from './errors.js';
import { clone, isRecord } from './types.js';

/** Content types accepted on PATCH. */
export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** RFC 7386 merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: Record<string, unknown> = isRecord(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Merge keys of lists, by field name, as in the Kubernetes API types' patchMergeKey tags. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  addresses: 'type',
  taints: 'key',
};

/** Primitive lists with patchStrategy merge (union). */
const MERGE_PRIMITIVE_LISTS = new Set(['finalizers']);

/** Strategic merge patch over plain JSON, using the merge keys above. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  if (patch['$patch'] === 'replace') {
    const p = clone(patch);
    delete p['$patch'];
    return p;
  }
  if (patch['$patch'] === 'delete') return undefined;
  const out: Record<string, unknown> = isRecord(target) ? clone(target) : {};
  const retain = patch['$retainKeys'];
  const orders: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders[k.slice('$setElementOrder/'.length)] = v;
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter((x) => !v.some((d) => JSON.stringify(d) === JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = MERGE_KEYS[k];
    if (Array.isArray(v) && key !== undefined && Array.isArray(out[k]) && v.every(isRecord)) {
      out[k] = mergeList(out[k] as unknown[], v as Record<string, unknown>[], key);
    } else if (Array.isArray(v) && MERGE_PRIMITIVE_LISTS.has(k) && Array.isArray(out[k])) {
      const cur = out[k] as unknown[];
      out[k] = [...cur, ...v.filter((x) => !cur.includes(x))];
    } else if (Array.isArray(v)) {
      out[k] = clone(v).filter((x) => !(isRecord(x) && x['$patch'] === 'delete'));
    } else {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  for (const [field, order] of Object.entries(orders)) {
    const key = MERGE_KEYS[field];
    const cur = out[field];
    if (key === undefined || !Array.isArray(cur)) continue;
    const rank = (x: unknown): number => {
      const i = order.findIndex((o) => isRecord(o) && isRecord(x) && o[key] === x[key]);
      return i < 0 ? order.length : i;
    };
    out[field] = [...cur].sort((a, b) => rank(a) - rank(b));
  }
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function mergeList(cur: unknown[], patch: Record<string, unknown>[], key: string): unknown[] {
  const out = clone(cur);
  for (const p of patch) {
    const idx = out.findIndex((x) => isRecord(x) && x[key] === p[key]);
    if (p['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx], p);
    else out.push(strategicMergePatch({}, p));
  }
  return out;
}

function decodePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw badRequest(`the server rejected our request due to an error in our request: invalid JSON pointer ${JSON.stringify(ptr)}`);
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, parts: string[]): { parent: any; last: string } {
  let cur: any = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isRecord(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw new ApiError(422, 'Invalid', `doc is missing path: /${parts.join('/')}: missing value`);
  }
  return { parent: cur, last: parts[parts.length - 1] ?? '' };
}

function getAt(doc: unknown, ptr: string): unknown {
  let cur: any = doc;
  for (const p of decodePointer(ptr)) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isRecord(cur) ? cur[p] : undefined;
    if (cur === undefined) throw new ApiError(422, 'Invalid', `doc is missing path: ${ptr}: missing value`);
  }
  return cur;
}

function removeAt(doc: unknown, ptr: string): unknown {
  const parts = decodePointer(ptr);
  const { parent, last } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!(i >= 0 && i < parent.length)) throw new ApiError(422, 'Invalid', `unable to remove nonexistent key: ${last}: missing value`);
    return parent.splice(i, 1)[0];
  }
  if (!isRecord(parent) || !(last in parent)) throw new ApiError(422, 'Invalid', `unable to remove nonexistent key: ${last}: missing value`);
  const v = parent[last];
  delete parent[last];
  return v;
}

function addAt(doc: unknown, ptr: string, value: unknown, replace: boolean): unknown {
  const parts = decodePointer(ptr);
  if (parts.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, parts);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!(i >= 0 && i <= parent.length) || (replace && i >= parent.length)) throw new ApiError(422, 'Invalid', `add operation does not apply: doc is missing path: ${ptr}: missing value`);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else if (isRecord(parent)) {
    if (replace && !(last in parent)) throw new ApiError(422, 'Invalid', `replace operation does not apply: doc is missing key: ${ptr}: missing value`);
    parent[last] = clone(value);
  } else throw new ApiError(422, 'Invalid', `doc is missing path: ${ptr}: missing value`);
  return doc;
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('the server rejected our request due to an error in our request: json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(target);
  for (const op of ops) {
    if (!isRecord(op) || typeof op['path'] !== 'string') throw badRequest('the server rejected our request due to an error in our request');
    const path = op['path'];
    switch (op['op']) {
      case 'add': doc = addAt(doc, path, op['value'], false); break;
      case 'replace': doc = addAt(doc, path, op['value'], true); break;
      case 'remove': removeAt(doc, path); break;
      case 'move': {
        const v = removeAt(doc, String(op['from']));
        doc = addAt(doc, path, v, false);
        break;
      }
      case 'copy': doc = addAt(doc, path, getAt(doc, String(op['from'])), false); break;
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op['value'])) throw new ApiError(422, 'Invalid', `testing value ${path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op['op'])}`);
    }
  }
  return doc;
}

/** Apply a patch of the given content type. */
export function applyPatch(contentType: string, target: unknown, patch: unknown): unknown {
  const ct = contentType.split(';')[0]!.trim();
  if (ct === PATCH_TYPES.merge) return mergePatch(target, patch);
  if (ct === PATCH_TYPES.strategic) return strategicMergePatch(target, patch);
  if (ct === PATCH_TYPES.json) return jsonPatch(target, patch);
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
}
