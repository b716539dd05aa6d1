/** `snapshotctl list`: the checkpoint catalogue of a namespace (or all), newest first. */
import { UsageError } from '../errors.js';
import { buildCatalogue, collectCatalogue, type CheckpointEntry } from './catalogue.js';
import { resolveNamespace } from './common-options.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { parseDuration } from './duration.js';
import { DEFAULT_HELPER_IMAGE } from './helper-pod.js';
import { startBudget, timeoutOrNoLimit, type BudgetOptions } from './operation.js';

export type ListOutput = 'table' | 'wide' | 'json' | 'yaml' | 'name';
const OUTPUTS: readonly ListOutput[] = ['table', 'wide', 'json', 'yaml', 'name'];

export interface RawListOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: string;
  timeout?: string;
  /** false with --no-storage: do not list the checkpoint volume. */
  storage?: boolean;
  helperImage?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
}

export interface ListOptions extends KubeTarget {
  /** undefined: every namespace (-A). */
  namespace: string | undefined;
  selector?: string;
  output: ListOutput;
  /** The whole command's limit, ms; 0: none. */
  timeoutMs: number;
  /** List the checkpoint volume too (one short-lived reader pod per namespace). */
  storage: boolean;
  helperImage: string;
}

/** Default `--timeout` of list and describe. */
export const DEFAULT_LOOKUP_TIMEOUT = '60s';

/** `--timeout` in ms; a UsageError when it is not a Go duration. */
export function parseTimeoutFlag(value: string | undefined, fallback: string): number {
  const text = value ?? fallback;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--timeout "${text}" is not a duration`, 'use Go-style durations such as 90s or 5m');
  return ms;
}

/** The catalogue commands' interrupt message: they change nothing while looking. */
export const LOOKUP_BUDGET: BudgetOptions = { interrupted: (what) => `interrupted while ${what}; nothing was changed` };

export interface ListResult {
  /** The namespace listed, undefined for all. */
  namespace: string | undefined;
  items: CheckpointEntry[];
}

/** Kubeconfig target from the shared flags. */
export function kubeTargetOf(raw: { kubeconfig?: string; kubeContext?: string; context?: string }): KubeTarget {
  const context = raw.kubeContext ?? raw.context;
  return { ...(raw.kubeconfig !== undefined ? { kubeconfig: raw.kubeconfig } : {}), ...(context !== undefined ? { context } : {}) };
}

/** A label selector of `key=value` / `key!=value` / `key` terms, checked before sending. */
export function checkSelector(selector: string): void {
  const term = /^!?[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?(\s*(==?|!=)\s*[A-Za-z0-9]?([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
  const bad = selector.split(',').filter((t) => !term.test(t.trim()));
  if (bad.length > 0) throw new UsageError(`label selector "${selector}" is not valid (at ${bad.map((b) => `"${b}"`).join(', ')})`, 'use key=value[,key2=value2], e.g. -l team=ml');
}

/** Namespace from -n, else the kubeconfig context's, else `default`; none with -A. */
export async function complete(raw: RawListOptions, deps: Pick<CommandDeps, 'contextNamespace'>): Promise<ListOptions> {
  const output = (raw.output ?? 'table') as ListOutput;
  const target = kubeTargetOf(raw);
  const timeoutMs = parseTimeoutFlag(raw.timeout, DEFAULT_LOOKUP_TIMEOUT);
  if (raw.allNamespaces === true && raw.namespace !== undefined) {
    throw new UsageError('-n and -A contradict each other', 'use -n NAMESPACE for one namespace or -A for all');
  }
  let namespace: string | undefined;
  if (raw.allNamespaces !== true) namespace = resolveNamespace(raw.namespace, undefined, raw.namespace ? undefined : await deps.contextNamespace(target));
  return {
    ...target,
    namespace,
    output,
    timeoutMs,
    storage: raw.storage !== false,
    helperImage: raw.helperImage ?? DEFAULT_HELPER_IMAGE,
    ...(raw.selector !== undefined ? { selector: raw.selector } : {}),
  };
}

/** Pure checks: output format and selector syntax. */
export function validate(opts: ListOptions): void {
  if (!OUTPUTS.includes(opts.output)) throw new UsageError(`--output "${opts.output}" is not supported by list`, `use one of: ${OUTPUTS.join(', ')}`);
  if (opts.selector !== undefined) checkSelector(opts.selector);
}

/** List and join, within `--timeout`; never prints. */
export async function run(opts: ListOptions, deps: CommandDeps): Promise<ListResult> {
  const client = await deps.kube(opts, deps.logger);
  const budget = startBudget(client, deps, opts.timeoutMs, LOOKUP_BUDGET);
  const what = `listing checkpoints ${opts.namespace === undefined ? 'in every namespace' : `in namespace "${opts.namespace}"`}`;
  deps.reporter.phase(what);
  const scan = opts.storage ? { image: opts.helperImage, timeoutMs: timeoutOrNoLimit(budget.remainingMs()), deps } : undefined;
  const objs = await budget.guard(what, (look) => collectCatalogue(look, opts.namespace, opts.selector, undefined, scan));
  // Storage discovery inside is best effort and swallows errors: an expired budget must still fail.
  budget.check(what);
  return { namespace: opts.namespace, items: buildCatalogue(objs) };
}
