/**
 * Label and field selectors with the real API server's grammar:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1` for labels;
 * `f=v`, `f==v`, `f!=v` for fields, restricted to the fields each resource supports.
 */
import { badRequest } from './errors.js';
import type { KubeObject } from './types.js';

/** A compiled selector: returns true when the object matches. */
export type Matcher = (obj: KubeObject) => boolean;

interface Req {
  key: string;
  op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
  values: string[];
}

/** Split on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

/** Parse a label selector string; throws 400 on bad syntax. */
export function parseLabelSelector(sel: string): Req[] {
  const reqs: Req[] = [];
  for (const part of splitTop(sel)) {
    let m = /^([^\s=!]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '') });
      continue;
    }
    m = /^([^\s=!]+)\s*(==|=|!=)\s*([^\s=!,]*)$/.exec(part);
    if (m) {
      reqs.push({ key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] });
      continue;
    }
    // Gt/Lt: the label's value read as an integer (a label without one never matches).
    m = /^([^\s=!<>]+)\s*([<>])\s*(\S*)$/.exec(part);
    if (m) {
      if (!/^-?\d+$/.test(m[3]!)) throw badRequest("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer");
      reqs.push({ key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] });
      continue;
    }
    m = /^!\s*([^\s=!]+)$/.exec(part);
    if (m) {
      reqs.push({ key: m[1]!, op: '!', values: [] });
      continue;
    }
    if (/^[^\s=!()<>]+$/.test(part)) {
      reqs.push({ key: part, op: 'exists', values: [] });
      continue;
    }
    throw badRequest(`unable to parse requirement: found '${part}', expected: valid label selector`);
  }
  return reqs;
}

function matchReq(labels: Record<string, string>, r: Req): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case '=': return has && v === r.values[0];
    case '!=': return !has || v !== r.values[0];
    case 'in': return has && r.values.includes(v!);
    case 'notin': return !has || !r.values.includes(v!);
    case 'exists': return has;
    case '!': return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

/** Compile a label selector string into a matcher over `metadata.labels`. */
export function labelMatcher(sel: string | undefined): Matcher {
  if (sel === undefined || sel.trim() === '') return () => true;
  const reqs = parseLabelSelector(sel);
  return (o) => reqs.every((r) => matchReq(o.metadata.labels ?? {}, r));
}

/** A Kubernetes LabelSelector object (matchLabels/matchExpressions). */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Does a label set match a LabelSelector object? An empty selector matches everything. */
export function matchesSelectorObject(labels: Record<string, string> | undefined, sel: LabelSelectorObject | undefined): boolean {
  const l = labels ?? {};
  if (sel === undefined) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator === 'In' ? 'in' : e.operator === 'NotIn' ? 'notin' : e.operator === 'Exists' ? 'exists' : '!';
    if (!matchReq(l, { key: e.key, op, values: e.values ?? [] })) return false;
  }
  return true;
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
