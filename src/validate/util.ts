/** Defensive readers for untrusted manifest objects, and field-path helpers. */

export type Obj = Record<string, unknown>;

export function rec(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `spec.containers[0]` and friends as one value; undefined at the first missing step. */
export function dig(obj: unknown, ...steps: Array<string | number>): unknown {
  let cur: unknown = obj;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step];
    } else {
      const r = rec(cur);
      if (!r) return undefined;
      cur = r[step];
    }
  }
  return cur;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Append a map key to a field path: `metadata.labels["nvidia.com/x"]` for keys with dots or slashes. */
export function keyPath(base: string, key: string): string {
  if (PLAIN_KEY.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/** Split a field path back into steps (for source locations). */
export function parsePath(path: string): Array<string | number> | undefined {
  const steps: Array<string | number> = [];
  let rest = path;
  while (rest.length > 0) {
    let m = /^\.?([A-Za-z_$][A-Za-z0-9_$-]*)/.exec(rest);
    if (m) {
      steps.push(m[1]!);
      rest = rest.slice(m[0].length);
      continue;
    }
    m = /^\[(\d+)\]/.exec(rest);
    if (m) {
      steps.push(Number(m[1]));
      rest = rest.slice(m[0].length);
      continue;
    }
    m = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest);
    if (m) {
      steps.push(JSON.parse(m[1]!) as string);
      rest = rest.slice(m[0].length);
      continue;
    }
    return undefined;
  }
  return steps;
}

/** Short, safe rendering of a user value for messages. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
