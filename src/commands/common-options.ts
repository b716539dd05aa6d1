/** Parsing the flags checkpoint and restore share into typed options (pure). */
import { UsageError } from '../errors.js';
import { checkBasePath, checkDnsLabel, checkDnsSubdomain } from '../protocol/names.js';
import type { CommonOptions, DryRunMode, OutputFormat } from './context.js';
import { parseDuration } from './duration.js';

/** Default --timeout. v1.0.x waits 45m; a worker that is not Ready in 15m is stuck. */
export const DEFAULT_TIMEOUT = '15m';
export const DEFAULT_POLL_INTERVAL = '2s';
const OUTPUTS: readonly OutputFormat[] = ['kv', 'json', 'yaml', 'name'];

/** What commander hands over for the common flags. */
export interface RawCommonOptions {
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
  namespace?: string;
  output?: string;
  dryRun?: boolean | string;
  wait?: boolean;
  timeout?: string;
  pollInterval?: string;
  keepOnFailure?: boolean;
  pvc?: string;
  basePath?: string;
  node?: string;
  agentAffinity?: boolean;
}

/** What each kind of name must be, for the hint of a refused value. */
const NAME_RULES = {
  namespace: { check: checkDnsLabel, rule: 'a namespace is a DNS-1123 label: at most 63 lower-case letters, digits and -, starting and ending with a letter or digit' },
  node: { check: checkDnsSubdomain, rule: 'a node name is a DNS-1123 subdomain: at most 253 lower-case letters, digits, - and .' },
  pod: { check: checkDnsSubdomain, rule: 'a pod name is a DNS-1123 subdomain: at most 253 lower-case letters, digits, - and .' },
  pvc: { check: checkDnsSubdomain, rule: 'a PVC name is a DNS-1123 subdomain: at most 253 lower-case letters, digits, - and .' },
  DynamoCheckpoint: { check: checkDnsSubdomain, rule: 'a DynamoCheckpoint name is a DNS-1123 subdomain: at most 253 lower-case letters, digits, - and .' },
} as const;

export type NameKind = keyof typeof NAME_RULES;

/**
 * Refuse a name the API server would refuse (or that would change the request's URL,
 * like `../kube-system`) before anything is sent: a UsageError naming where it came from.
 * @param from the flag or field it came from, e.g. `--namespace`
 */
export function assertName(kind: NameKind, value: string, from: string, example: string): void {
  const problems = NAME_RULES[kind].check(value);
  if (problems.length === 0) return;
  throw new UsageError(`${from} "${value}" is not a valid ${kind === 'pvc' ? 'PVC' : kind} name: it ${problems.join(', ')}`, `${NAME_RULES[kind].rule} (e.g. ${example})`);
}

/** Refuse a base path that is not absolute and normalized (see checkBasePath). */
export function assertBasePath(value: string, from = '--base-path'): void {
  const problems = checkBasePath(value);
  if (problems.length === 0) return;
  throw new UsageError(`${from} "${value}" cannot be used: it ${problems.join(', ')}`, 'give the absolute path where the agent mounts the checkpoint PVC, e.g. --base-path /checkpoints');
}

function duration(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new UsageError(`${flag} "${value}" is not a duration`, `use Go-style durations such as 90s, 5m or 1h30m`);
  }
  return ms;
}

/** Typed common options; every bad flag is a UsageError naming it. */
export function parseCommonOptions(raw: RawCommonOptions): CommonOptions {
  const output = (raw.output ?? 'kv') as OutputFormat;
  if (!OUTPUTS.includes(output)) {
    throw new UsageError(`--output "${raw.output}" is not supported`, `use one of: ${OUTPUTS.join(', ')}`);
  }
  let dryRun: DryRunMode = 'none';
  if (raw.dryRun === true || raw.dryRun === 'client') dryRun = 'client';
  else if (raw.dryRun === 'server') dryRun = 'server';
  else if (raw.dryRun !== undefined && raw.dryRun !== false && raw.dryRun !== 'none') {
    throw new UsageError(`--dry-run "${String(raw.dryRun)}" is not supported`, 'use --dry-run, --dry-run=client or --dry-run=server');
  }
  if ((raw.pvc === undefined) !== (raw.basePath === undefined)) {
    throw new UsageError('--pvc and --base-path go together', 'give both (e.g. --pvc snapshot-pvc --base-path /checkpoints), or neither to discover them from the agent DaemonSet');
  }
  if (raw.basePath !== undefined) assertBasePath(raw.basePath);
  if (raw.pvc !== undefined) assertName('pvc', raw.pvc, '--pvc', '--pvc snapshot-pvc');
  if (raw.node !== undefined) assertName('node', raw.node, '--node', '--node gpu-1');
  if (raw.namespace) assertName('namespace', raw.namespace, '--namespace', '-n ml');
  if (raw.node !== undefined && raw.agentAffinity === false) {
    throw new UsageError('--node and --no-agent-affinity contradict each other', 'use one of them');
  }
  const timeoutMs = duration('--timeout', raw.timeout ?? DEFAULT_TIMEOUT);
  const pollIntervalMs = duration('--poll-interval', raw.pollInterval ?? DEFAULT_POLL_INTERVAL);
  if (pollIntervalMs <= 0) throw new UsageError('--poll-interval must be greater than 0', 'e.g. --poll-interval 2s');
  const context = raw.kubeContext ?? raw.context;
  return {
    ...(raw.kubeconfig !== undefined ? { kubeconfig: raw.kubeconfig } : {}),
    ...(context !== undefined ? { context } : {}),
    ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}),
    output,
    dryRun,
    wait: raw.wait !== false,
    timeoutMs,
    pollIntervalMs,
    keepOnFailure: raw.keepOnFailure === true,
    ...(raw.pvc !== undefined ? { pvc: raw.pvc } : {}),
    ...(raw.basePath !== undefined ? { basePath: raw.basePath.replace(/(.)\/+$/, '$1') } : {}),
    ...(raw.node !== undefined ? { node: raw.node } : {}),
    agentAffinity: raw.agentAffinity !== false,
  };
}

/**
 * --namespace, else the manifest's, else the kubeconfig context's, else `default` (§3);
 * refused, naming where it came from, when it is not a valid namespace name, and when
 * --namespace and the manifest's differ (as kubectl refuses it).
 * @param manifestSource the manifest file, for the message about its metadata.namespace
 */
export function resolveNamespace(flag: string | undefined, manifest: string | undefined, context: string | undefined, manifestSource = 'the manifest'): string {
  if (flag) {
    assertName('namespace', flag, '--namespace', '-n ml');
    // kubectl's own sentence: the object says where it belongs, and -n does not override it.
    if (manifest && manifest !== flag) {
      throw new UsageError(
        `the namespace from the provided object "${manifest}" does not match the namespace "${flag}". You must pass '--namespace=${manifest}' to perform this operation.`,
        `${manifestSource} sets metadata.namespace: ${manifest}; pass -n ${manifest} (or leave -n out), or change metadata.namespace to ${flag}`,
      );
    }
  } else if (manifest) assertName('namespace', manifest, `metadata.namespace of ${manifestSource}`, 'namespace: ml');
  else if (context) {
    try {
      assertName('namespace', context, "the kubeconfig context's namespace", '-n ml');
    } catch (err) {
      throw new UsageError((err as Error).message, 'pass -n NAMESPACE, or fix the context with `kubectl config set-context --current --namespace=NAMESPACE`');
    }
  }
  return flag || manifest || context || 'default';
}
