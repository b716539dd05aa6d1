/**
 * Label selectors with the API server's grammar (`a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a`, `!a`, `a>1`, `a<1`), and LabelSelector objects: one matcher for the
 * CLI's client-side `-l`, the dev API server and the tests' fake client. Pure.
 */

/** A selector that does not parse; the message is the API server's. */
export class LabelSelectorError extends Error {}

export interface LabelRequirement {
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

/** Parse a label selector string; throws LabelSelectorError on bad syntax. */
export function parseLabelSelector(sel: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
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
      if (!/^-?\d+$/.test(m[3]!)) throw new LabelSelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer");
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
    throw new LabelSelectorError(`unable to parse requirement: found '${part}', expected: valid label selector`);
  }
  return reqs;
}

export function matchRequirement(labels: Record<string, string>, r: LabelRequirement): boolean {
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

/** The selector string as a test over a label set (empty or undefined: everything). */
export function compileLabelSelector(selector: string | undefined): (labels: Record<string, string> | undefined) => boolean {
  if (selector === undefined || selector.trim() === '') return () => true;
  const reqs = parseLabelSelector(selector);
  return (labels) => reqs.every((r) => matchRequirement(labels ?? {}, r));
}

/** Does `labels` match the selector string (empty or undefined: everything)? */
export function labelsMatch(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  return compileLabelSelector(selector)(labels);
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
    if (!matchRequirement(l, { key: e.key, op, values: e.values ?? [] })) return false;
  }
  return true;
}

