/**
 * What every command gets from the entry point: seams for all its I/O (docs/architecture.md).
 * Commands never print or exit; they report progress through `Reporter` and return
 * a result or throw a typed error.
 */
import type { KubeClient, RequestLogger } from '../kube/types.js';
import type { Leftovers } from './leftovers.js';

export type OutputFormat = 'kv' | 'json' | 'yaml' | 'name';
export type DryRunMode = 'none' | 'client' | 'server';

/** Flags shared by checkpoint and restore (docs/cli.md "Common flags"). */
export interface CommonOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  output: OutputFormat;
  dryRun: DryRunMode;
  wait: boolean;
  /** Milliseconds; 0 waits without limit. */
  timeoutMs: number;
  pollIntervalMs: number;
  keepOnFailure: boolean;
  /** Explicit storage (skips discovery; with dry-run=client no cluster is needed). */
  pvc?: string;
  basePath?: string;
  node?: string;
  agentAffinity: boolean;
}

/** Progress sink: the CLI shows it as a spinner on a TTY, or as log lines. */
export interface Reporter {
  /** The current phase, e.g. "waiting for pod w-abc12 to become Ready on node gpu-3". */
  phase(text: string): void;
  /** A line worth keeping (cleanup done, fallback notices). */
  info(text: string): void;
  warn(text: string): void;
}

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

export interface CommandDeps {
  /** Builds the client lazily: offline dry-runs never call it. */
  kube(target: KubeTarget, logger?: RequestLogger): Promise<KubeClient>;
  /**
   * The snapshot agents' log file when `target` is a background dev cluster (`dev up`
   * writes its kubeconfig into its state directory; its agents log to a file there, not
   * to pods). Undefined for any other cluster, whose agent log is `kubectl logs`.
   */
  agentLogFile?(target: KubeTarget): Promise<string | undefined>;
  /** Namespace of the kubeconfig context without contacting the cluster; undefined if none. */
  contextNamespace(target: KubeTarget): Promise<string | undefined>;
  readFile(path: string): Promise<string>;
  readStdin(): Promise<string>;
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** Wall clock in nanoseconds since the epoch (generated checkpoint IDs). */
  nowNanos(): bigint;
  /** Aborts on SIGINT / SIGTERM. */
  signal: AbortSignal;
  reporter: Reporter;
  /** Logs API calls when --verbose. */
  logger?: RequestLogger;
  /** What this run created and would delete on failure; the entry names it when a second Ctrl-C cuts cleanup short. */
  leftovers?: Leftovers;
}

/** One object this run created; deleted again on failure unless --keep-on-failure. */
export interface CreatedObject {
  kind: 'Job' | 'Pod' | 'DynamoCheckpoint';
  namespace: string;
  name: string;
  uid?: string;
}

/** An event the agent posted about the object, for json/yaml output. */
export interface EventSummary {
  type: string;
  reason: string;
  message: string;
  time?: string;
}

/** What checkpoint and restore return (and print on failure too). */
export interface OperationResult {
  kind: 'checkpoint' | 'restore';
  status: 'completed' | 'failed' | 'created';
  phase: 'Created' | 'Completed' | 'Failed' | 'TimedOut' | 'Interrupted';
  namespace: string;
  name: string;
  checkpointJob?: string;
  restorePod?: string;
  checkpointId: string;
  checkpointLocation: string;
  node?: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  events: EventSummary[];
  reason?: string;
  /** Objects deleted by cleanup, as `kind/name`. */
  deleted?: string[];
  /** `checkpoint --identity`: the DynamoCheckpoint, its identity hash, and whether it already existed. */
  dynamoCheckpoint?: string;
  identityHash?: string;
  reused?: boolean;
}

/** Dry-run: the objects that would be sent, in order. */
export interface DryRunResult {
  dryRun: 'client' | 'server';
  objects: Array<Record<string, unknown>>;
  /** For `restore --pod`: the patch body (shown with --verbose). */
  patch?: unknown;
}
