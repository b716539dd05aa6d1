/** Parsing the flags checkpoint and restore share into typed options (pure). */
import { UsageError } from '../errors.js';
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
  if (raw.basePath !== undefined && !raw.basePath.startsWith('/')) {
    throw new UsageError(`--base-path "${raw.basePath}" is not an absolute path`, 'give the path where the agent mounts the checkpoint PVC, e.g. /checkpoints');
  }
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

/** --namespace, else the manifest's, else the kubeconfig context's, else `default` (§3). */
export function resolveNamespace(flag: string | undefined, manifest: string | undefined, context: string | undefined): string {
  return flag || manifest || context || 'default';
}
