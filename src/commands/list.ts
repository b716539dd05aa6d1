/** `snapshotctl list`: the checkpoint catalogue of a namespace (or all), newest first. */
import { UsageError } from '../errors.js';
import { buildCatalogue, collectCatalogue, type CheckpointEntry } from './catalogue.js';
import { resolveNamespace } from './common-options.js';
import type { CommandDeps, KubeTarget } from './context.js';

export type ListOutput = 'table' | 'wide' | 'json' | 'yaml' | 'name';
const OUTPUTS: readonly ListOutput[] = ['table', 'wide', 'json', 'yaml', 'name'];

export interface RawListOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
}

export interface ListOptions extends KubeTarget {
  /** undefined: every namespace (-A). */
  namespace: string | undefined;
  selector?: string;
  output: ListOutput;
}

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
  if (raw.allNamespaces === true && raw.namespace !== undefined) {
    throw new UsageError('-n and -A contradict each other', 'use -n NAMESPACE for one namespace or -A for all');
  }
  let namespace: string | undefined;
  if (raw.allNamespaces !== true) namespace = resolveNamespace(raw.namespace, undefined, raw.namespace ? undefined : await deps.contextNamespace(target));
  return { ...target, namespace, output, ...(raw.selector !== undefined ? { selector: raw.selector } : {}) };
}

/** Pure checks: output format and selector syntax. */
export function validate(opts: ListOptions): void {
  if (!OUTPUTS.includes(opts.output)) throw new UsageError(`--output "${opts.output}" is not supported by list`, `use one of: ${OUTPUTS.join(', ')}`);
  if (opts.selector !== undefined) checkSelector(opts.selector);
}

/** List and join; never prints. */
export async function run(opts: ListOptions, deps: CommandDeps): Promise<ListResult> {
  const client = await deps.kube(opts, deps.logger);
  deps.reporter.phase(`listing checkpoints ${opts.namespace === undefined ? 'in every namespace' : `in namespace "${opts.namespace}"`}`);
  const objs = await collectCatalogue(client, opts.namespace, opts.selector, deps.signal);
  return { namespace: opts.namespace, items: buildCatalogue(objs) };
}
