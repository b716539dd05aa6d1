/**
 * The DynamoCheckpoint identity hash (docs/protocol.md §8): the operator serialises the
 * identity with Go's `encoding/json` in a fixed field order and takes the first 16 hex
 * characters of its SHA-256. Byte-exactness matters: a different byte means a different
 * hash, and the operator would not find (or would re-create) the checkpoint.
 */
import { createHash } from 'node:crypto';
import type { Finding } from '../errors.js';

/** `spec.identity` of a DynamoCheckpoint, as the user wrote it (before defaults). */
export interface CheckpointIdentity {
  model: string;
  backendFramework: string;
  dynamoVersion?: string;
  tensorParallelSize?: number;
  pipelineParallelSize?: number;
  dtype?: string;
  maxModelLen?: number;
  extraParameters?: Record<string, string>;
}

/** Backends the operator's CRD accepts (§8). */
export const BACKEND_FRAMEWORKS = ['vllm', 'sglang', 'trtllm'] as const;
/** Length of the hash: the first 16 lowercase hex characters of the SHA-256. */
export const IDENTITY_HASH_LENGTH = 16;

/**
 * A JSON string literal exactly as Go's `encoding/json` writes it with its default
 * HTML escaping: `<`, `>`, `&` as `\u003c` `\u003e` `\u0026`; U+2028 and U+2029 as
 * `\u2028` `\u2029`; `\b \f \n \r \t` short (Go 1.22+), other control characters as
 * `\u00XX`; everything else, non-ASCII included, as UTF-8. A lone surrogate (invalid
 * UTF-8 once encoded) becomes `\ufffd`, as Go writes an invalid byte.
 */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else out += '\\ufffd';
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd';
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
    }
    if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
      continue;
    }
    out += s[i]!;
  }
  return out + '"';
}

/** Go sorts map keys by their UTF-8 bytes; JS sorts by UTF-16 code units. */
function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** 0 or unset means 1 (§8). */
function orOne(n: number | undefined): number {
  return n === undefined || n === 0 ? 1 : n;
}

/**
 * The canonical bytes of §8: compact JSON, fixed field order, defaults applied,
 * empty optional fields omitted, `extraParameters` keys sorted bytewise.
 */
export function canonicalIdentityJson(id: CheckpointIdentity): string {
  const parts = [`"model":${goJsonString(id.model)}`, `"backendFramework":${goJsonString(id.backendFramework)}`];
  if (id.dynamoVersion) parts.push(`"dynamoVersion":${goJsonString(id.dynamoVersion)}`);
  parts.push(`"tensorParallelSize":${orOne(id.tensorParallelSize)}`, `"pipelineParallelSize":${orOne(id.pipelineParallelSize)}`);
  if (id.dtype) parts.push(`"dtype":${goJsonString(id.dtype)}`);
  if (id.maxModelLen !== undefined && id.maxModelLen !== 0) parts.push(`"maxModelLen":${id.maxModelLen}`);
  const extra = Object.keys(id.extraParameters ?? {});
  if (extra.length > 0) {
    const body = extra
      .sort(compareBytewise)
      .map((k) => `${goJsonString(k)}:${goJsonString(id.extraParameters![k]!)}`)
      .join(',');
    parts.push(`"extraParameters":{${body}}`);
  }
  return `{${parts.join(',')}}`;
}

/** The identity hash: first 16 lowercase hex characters of SHA-256 of the canonical bytes. */
export function identityHash(id: CheckpointIdentity): string {
  return createHash('sha256').update(canonicalIdentityJson(id), 'utf8').digest('hex').slice(0, IDENTITY_HASH_LENGTH);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse an untyped `identity` object (from YAML or flags) into a typed identity, with
 * every problem as a finding (rule IDs `HASH0xx`, field paths under `path`).
 */
export function parseIdentity(raw: unknown, path = 'identity'): { identity?: CheckpointIdentity; findings: Finding[] } {
  const findings: Finding[] = [];
  const bad = (rule: string, field: string, message: string) =>
    findings.push({ rule, severity: 'error', path: field ? `${path}.${field}` : path, message });
  if (!isRecord(raw)) {
    bad('HASH001', '', 'identity must be an object with at least model and backendFramework');
    return { findings };
  }
  const str = (field: string, required: boolean): string | undefined => {
    const v = raw[field];
    if (v === undefined || v === null || v === '') {
      if (required) bad('HASH002', field, `${field} is required`);
      return undefined;
    }
    if (typeof v !== 'string') {
      bad('HASH003', field, `${field} must be a string (got ${JSON.stringify(v)}); quote it in YAML`);
      return undefined;
    }
    return v;
  };
  const int = (field: string): number | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      bad('HASH004', field, `${field} must be a whole number >= 0 (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v;
  };
  const model = str('model', true);
  const backendFramework = str('backendFramework', true);
  if (backendFramework !== undefined && !(BACKEND_FRAMEWORKS as readonly string[]).includes(backendFramework)) {
    bad('HASH005', 'backendFramework', `backendFramework "${backendFramework}" is not one of ${BACKEND_FRAMEWORKS.join(', ')}`);
  }
  const dynamoVersion = str('dynamoVersion', false);
  const tensorParallelSize = int('tensorParallelSize');
  const pipelineParallelSize = int('pipelineParallelSize');
  const dtype = str('dtype', false);
  const maxModelLen = int('maxModelLen');
  let extraParameters: Record<string, string> | undefined;
  const extra = raw['extraParameters'];
  if (extra !== undefined && extra !== null) {
    if (!isRecord(extra)) bad('HASH006', 'extraParameters', 'extraParameters must be a map of strings');
    else {
      extraParameters = {};
      for (const [k, v] of Object.entries(extra)) {
        if (typeof v !== 'string') bad('HASH003', `extraParameters.${k}`, `extraParameters values must be strings (got ${JSON.stringify(v)}); quote it in YAML`);
        else extraParameters[k] = v;
      }
    }
  }
  const known = new Set(['model', 'backendFramework', 'dynamoVersion', 'tensorParallelSize', 'pipelineParallelSize', 'dtype', 'maxModelLen', 'extraParameters']);
  for (const k of Object.keys(raw)) if (!known.has(k)) bad('HASH007', k, `unknown identity field "${k}" (it would not be part of the hash)`);
  if (findings.length > 0 || model === undefined || backendFramework === undefined) return { findings };
  return {
    identity: {
      model,
      backendFramework,
      ...(dynamoVersion !== undefined ? { dynamoVersion } : {}),
      ...(tensorParallelSize !== undefined ? { tensorParallelSize } : {}),
      ...(pipelineParallelSize !== undefined ? { pipelineParallelSize } : {}),
      ...(dtype !== undefined ? { dtype } : {}),
      ...(maxModelLen !== undefined ? { maxModelLen } : {}),
      ...(extraParameters !== undefined && Object.keys(extraParameters).length > 0 ? { extraParameters } : {}),
    },
    findings,
  };
}

/** An identity found in a file, with where it came from. */
export interface FoundIdentity {
  /** `DynamoCheckpoint/<name>` or `DynamoGraphDeployment/<name>/services/<service>`. */
  source: string;
  service?: string;
  identity: CheckpointIdentity;
}

/**
 * The identities in a parsed document: a DynamoCheckpoint's `spec.identity`, or each
 * `spec.services.<name>.checkpoint.identity` of a DynamoGraphDeployment.
 */
export function identitiesInObject(doc: unknown): { found: FoundIdentity[]; findings: Finding[] } {
  const findings: Finding[] = [];
  if (!isRecord(doc)) {
    return { found: [], findings: [{ rule: 'HASH010', severity: 'error', path: '', message: 'the file is not a Kubernetes object' }] };
  }
  const kind = doc['kind'];
  const name = isRecord(doc['metadata']) && typeof doc['metadata']['name'] === 'string' ? doc['metadata']['name'] : '';
  const spec = isRecord(doc['spec']) ? doc['spec'] : {};
  if (kind === 'DynamoCheckpoint') {
    const r = parseIdentity(spec['identity'], 'spec.identity');
    return { found: r.identity ? [{ source: `DynamoCheckpoint/${name}`, identity: r.identity }] : [], findings: r.findings };
  }
  if (kind === 'DynamoGraphDeployment') {
    const found: FoundIdentity[] = [];
    const services = isRecord(spec['services']) ? spec['services'] : {};
    for (const [service, svc] of Object.entries(services)) {
      const ck = isRecord(svc) && isRecord(svc['checkpoint']) ? svc['checkpoint'] : undefined;
      if (!ck || ck['identity'] === undefined) continue;
      const r = parseIdentity(ck['identity'], `spec.services.${service}.checkpoint.identity`);
      findings.push(...r.findings);
      if (r.identity) found.push({ source: `DynamoGraphDeployment/${name}/services/${service}`, service, identity: r.identity });
    }
    if (found.length === 0 && findings.length === 0) {
      findings.push({ rule: 'HASH011', severity: 'error', path: 'spec.services', message: 'no service has checkpoint.identity' });
    }
    return { found, findings };
  }
  return {
    found: [],
    findings: [{ rule: 'HASH010', severity: 'error', path: 'kind', message: `kind ${JSON.stringify(kind)} has no checkpoint identity; use a DynamoCheckpoint or DynamoGraphDeployment` }],
  };
}
