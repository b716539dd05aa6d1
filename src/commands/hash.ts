/**
 * `snapshotctl hash`: the DynamoCheckpoint identity hash (docs/protocol.md §8) from flags or
 * from a DynamoCheckpoint / DynamoGraphDeployment file. Offline: no cluster.
 */
import { UsageError, ValidationError, type Finding } from '../errors.js';
import {
  canonicalIdentityJson,
  identitiesInObject,
  documentValue,
  identityHash,
  parseIdentity,
  parseYamlDocuments,
  yamlErrorMessage,
  type CheckpointIdentity,
  type FoundIdentity,
} from '../protocol/index.js';
import type { CommandDeps } from './context.js';
import { readManifest } from './manifest-input.js';

export type HashOutput = 'text' | 'json';

/** What commander hands over. */
export interface RawHashOptions {
  model?: string;
  backendFramework?: string;
  dynamoVersion?: string;
  tp?: string;
  pp?: string;
  dtype?: string;
  maxModelLen?: string;
  extra?: string[];
  file?: string;
  service?: string;
  output?: string;
}

export interface HashOptions {
  output: HashOutput;
  /** Identities to hash, in file order (one from flags). */
  identities: FoundIdentity[];
}

/** One hashed identity. */
export interface HashItem {
  source: string;
  service?: string;
  hash: string;
  /** The exact bytes that were hashed. */
  canonical: string;
  identity: CheckpointIdentity;
}

export interface HashResult {
  items: HashItem[];
}

const IDENTITY_FLAGS = ['model', 'backendFramework', 'dynamoVersion', 'tp', 'pp', 'dtype', 'maxModelLen', 'extra'] as const;

/** `--tp 2` → 2; anything but a whole number ≥ 0 is a finding. */
function intFlag(flag: string, value: string | undefined, findings: Finding[]): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    findings.push({ rule: 'HASH004', severity: 'error', path: flag, message: `${flag} "${value}" must be a whole number >= 0` });
    return undefined;
  }
  return Number(value);
}

/** The identity object the flags describe (untyped; parseIdentity checks it). */
export function identityFromFlags(raw: RawHashOptions): { value: Record<string, unknown>; findings: Finding[] } {
  const findings: Finding[] = [];
  const extra: Record<string, string> = {};
  for (const kv of raw.extra ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) {
      findings.push({ rule: 'HASH008', severity: 'error', path: '--extra', message: `--extra "${kv}" is not key=value` });
      continue;
    }
    extra[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const value: Record<string, unknown> = {
    ...(raw.model !== undefined ? { model: raw.model } : {}),
    ...(raw.backendFramework !== undefined ? { backendFramework: raw.backendFramework } : {}),
    ...(raw.dynamoVersion !== undefined ? { dynamoVersion: raw.dynamoVersion } : {}),
    ...(raw.dtype !== undefined ? { dtype: raw.dtype } : {}),
    ...(Object.keys(extra).length > 0 ? { extraParameters: extra } : {}),
  };
  const tp = intFlag('--tp', raw.tp, findings);
  const pp = intFlag('--pp', raw.pp, findings);
  const len = intFlag('--max-model-len', raw.maxModelLen, findings);
  if (tp !== undefined) value['tensorParallelSize'] = tp;
  if (pp !== undefined) value['pipelineParallelSize'] = pp;
  if (len !== undefined) value['maxModelLen'] = len;
  return { value, findings };
}

/** Read the file or the flags into identities; every problem at once. */
export async function complete(raw: RawHashOptions, deps: Pick<CommandDeps, 'readFile' | 'readStdin'>): Promise<HashOptions> {
  const output = (raw.output ?? 'text') as HashOutput;
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output "${raw.output}" is not supported by hash`, 'use -o text or -o json');
  const flagsGiven = IDENTITY_FLAGS.filter((f) => (f === 'extra' ? (raw.extra ?? []).length > 0 : raw[f] !== undefined));
  if (raw.file !== undefined && flagsGiven.length > 0) {
    throw new UsageError('--file and identity flags contradict each other', 'give either --file FILE or --model/--backend-framework/... flags');
  }
  if (raw.file === undefined) {
    if (raw.service !== undefined) throw new UsageError('--service needs --file with a DynamoGraphDeployment');
    const { value, findings } = identityFromFlags(raw);
    const parsed = parseIdentity(value, 'flags');
    const all = [...findings, ...parsed.findings].map((f) => ({ ...f, path: flagPath(f.path) }));
    if (all.length > 0 || !parsed.identity) {
      throw new ValidationError(`the identity is not complete or not valid (${all.length} problem${all.length === 1 ? '' : 's'})`, all, 'e.g. snapshotctl hash --model meta-llama/Llama-2-7b-hf --backend-framework vllm');
    }
    return { output, identities: [{ source: 'flags', identity: parsed.identity }] };
  }
  const text = await readManifest(raw.file, deps, { flag: '--file', noun: '--file', holds: 'a DynamoCheckpoint or DynamoGraphDeployment file' });
  const found: FoundIdentity[] = [];
  const findings: Finding[] = [];
  let docs: ReturnType<typeof parseYamlDocuments> = [];
  try {
    docs = parseYamlDocuments(text);
  } catch (err) {
    findings.push({ rule: 'HASH009', severity: 'error', path: '', message: (err as Error).message });
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      findings.push(...doc.errors.map((e) => ({ rule: 'HASH009', severity: 'error' as const, path: '', message: `not YAML: ${yamlErrorMessage(e)}` })));
      continue;
    }
    let obj: unknown;
    try {
      obj = documentValue(doc);
    } catch (err) {
      // An alias to a missing anchor, or one that expands too far (yaml's maxAliasCount).
      findings.push({ rule: 'HASH009', severity: 'error', path: '', message: `not YAML: ${(err as Error).message}` });
      continue;
    }
    if (obj === null || obj === undefined) continue;
    const r = identitiesInObject(obj);
    found.push(...r.found);
    findings.push(...r.findings);
  }
  const picked = raw.service === undefined ? found : found.filter((f) => f.service === raw.service);
  if (raw.service !== undefined && picked.length === 0 && findings.length === 0) {
    findings.push({ rule: 'HASH011', severity: 'error', path: 'spec.services', message: `no service "${raw.service}" with checkpoint.identity (found: ${found.map((f) => f.service ?? f.source).join(', ') || 'none'})` });
  }
  if (findings.length > 0 || picked.length === 0) {
    const all = findings.length > 0 ? findings : [{ rule: 'HASH010', severity: 'error' as const, path: '', message: 'the file holds no DynamoCheckpoint or DynamoGraphDeployment' }];
    throw new ValidationError(`no usable checkpoint identity in ${raw.file}`, all.map((f) => ({ ...f, file: raw.file! })), 'the identity lives in spec.identity (DynamoCheckpoint) or spec.services.<name>.checkpoint.identity (DynamoGraphDeployment)');
  }
  return { output, identities: picked };
}

/** identity field names back to the flags the user typed. */
function flagPath(path: string): string {
  const field = path.replace(/^flags\.?/, '');
  const map: Record<string, string> = {
    model: '--model',
    backendFramework: '--backend-framework',
    dynamoVersion: '--dynamo-version',
    tensorParallelSize: '--tp',
    pipelineParallelSize: '--pp',
    dtype: '--dtype',
    maxModelLen: '--max-model-len',
  };
  if (field.startsWith('extraParameters')) return '--extra';
  return map[field] ?? path;
}

/** Nothing to check across options beyond what complete did. */
export function validate(_opts: HashOptions): void {}

/** Hash each identity (pure). */
export function run(opts: HashOptions): HashResult {
  return {
    items: opts.identities.map((f) => ({
      source: f.source,
      ...(f.service !== undefined ? { service: f.service } : {}),
      hash: identityHash(f.identity),
      canonical: canonicalIdentityJson(f.identity),
      identity: f.identity,
    })),
  };
}
