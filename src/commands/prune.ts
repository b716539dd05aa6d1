/**
 * `snapshotctl prune`: remove orphaned artifacts, the checkpoints on the volume that
 * nothing on the cluster refers to (no checkpoint Job, no DynamoCheckpoint, no restore
 * pod), older than `--older-than`. Checkpoints take gigabytes each: a Job deleted by
 * hand, by a TTL, or a run that timed out while its agent finished, leaves one behind.
 *
 * One reader pod lists the volume, one remover pod removes every chosen directory.
 * Just before removing, the cluster is looked at once more: an ID that gained a Job or
 * a restore pod meanwhile is kept.
 */
import { OperationFailed, UsageError } from '../errors.js';
import { RESOURCES } from '../kube/types.js';
import { checkCheckpointId, LABEL_CHECKPOINT_ID, type Job, type Pod } from '../protocol/index.js';
import { buildCatalogue, collectCatalogue } from './catalogue.js';
import { findAgentNodes, findStorage } from './cluster.js';
import { resolveNamespace } from './common-options.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { formatDuration, parseDuration } from './duration.js';
import { buildHelperPod, DEFAULT_HELPER_IMAGE, removerCommand, runHelperPod } from './helper-pod.js';
import { DEFAULT_DELETE_TIMEOUT } from './delete.js';
import { LOOKUP_BUDGET, kubeTargetOf, parseTimeoutFlag } from './list.js';
import { startBudget, timeoutOrNoLimit } from './operation.js';

/** Default `--older-than`: an artifact whose Job went away a moment ago may be wanted back. */
export const DEFAULT_PRUNE_AGE = '1h';

export type PruneOutput = 'text' | 'json';

export interface RawPruneOptions {
  namespace?: string;
  olderThan?: string;
  dryRun?: boolean;
  yes?: boolean;
  output?: string;
  helperImage?: string;
  timeout?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
}

export interface PruneOptions extends KubeTarget {
  namespace: string;
  olderThanMs: number;
  olderThan: string;
  dryRun: boolean;
  yes: boolean;
  output: PruneOutput;
  helperImage: string;
  timeoutMs: number;
}

/** One orphaned artifact directory (`<base>/<id>`). */
export interface PruneItem {
  id: string;
  path: string;
  versions: string[];
  bytes: number | null;
  /** The artifact's time (manifest createdAt, else the directory's mtime). */
  createdAt: string | null;
}

export interface PrunePlan {
  namespace: string;
  /** Orphans old enough: to remove. */
  items: PruneItem[];
  /** Orphans kept because they are younger than --older-than (or of unknown age). */
  younger: PruneItem[];
  /** The listing was cut short (the 4 KiB message): more orphans may exist. */
  incomplete: boolean;
}

export interface PruneResult {
  namespace: string;
  dryRun: boolean;
  removed: PruneItem[];
  /** Kept at the last look: something on the cluster refers to them now. */
  kept: Array<PruneItem & { reason: string }>;
  bytes: number;
}

export async function complete(raw: RawPruneOptions, deps: Pick<CommandDeps, 'contextNamespace'>): Promise<PruneOptions> {
  const target = kubeTargetOf(raw);
  const olderThan = raw.olderThan ?? DEFAULT_PRUNE_AGE;
  const olderThanMs = parseDuration(olderThan);
  if (olderThanMs === undefined) throw new UsageError(`--older-than "${olderThan}" is not a duration`, 'use Go-style durations such as 30m, 24h or 0s (every orphan)');
  return {
    ...target,
    namespace: resolveNamespace(raw.namespace, undefined, raw.namespace ? undefined : await deps.contextNamespace(target)),
    olderThan,
    olderThanMs,
    dryRun: raw.dryRun === true,
    yes: raw.yes === true,
    output: (raw.output ?? 'text') as PruneOutput,
    helperImage: raw.helperImage ?? DEFAULT_HELPER_IMAGE,
    timeoutMs: parseTimeoutFlag(raw.timeout, DEFAULT_DELETE_TIMEOUT),
  };
}

export function validate(opts: PruneOptions): void {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`--output "${opts.output}" is not supported by prune`, 'use -o text or -o json');
}

/** List the volume and the cluster; choose the orphans. Removes nothing. */
export async function plan(opts: PruneOptions, deps: CommandDeps): Promise<PrunePlan> {
  const budget = startBudget(await deps.kube(opts, deps.logger), deps, opts.timeoutMs, LOOKUP_BUDGET);
  const what = `looking for orphaned artifacts in namespace "${opts.namespace}"`;
  deps.reporter.phase(what);
  const scan = { image: opts.helperImage, timeoutMs: timeoutOrNoLimit(budget.remainingMs()), deps };
  const objs = await budget.guard(what, (look) => collectCatalogue(look, opts.namespace, undefined, undefined, scan));
  budget.check(what);
  const listing = objs.storage?.get(opts.namespace);
  const base = objs.basePaths.get(opts.namespace);
  if (!listing || base === undefined) {
    throw new OperationFailed(
      `could not list the checkpoint volume of namespace "${opts.namespace}", so nothing can be pruned`,
      'the warning above says why; prune needs the snapshot agent DaemonSet there (for the volume) and permission to create pods',
    );
  }
  const now = deps.now();
  const items: PruneItem[] = [];
  const younger: PruneItem[] = [];
  for (const e of buildCatalogue(objs)) {
    if (e.source !== 'orphan' || e.artifact?.state !== 'present') continue;
    const item: PruneItem = { id: e.id, path: `${base.replace(/\/+$/, '')}/${e.id}`, versions: e.artifact.versions, bytes: e.artifact.bytes, createdAt: e.artifact.createdAt };
    const at = item.createdAt ? Date.parse(item.createdAt) : NaN;
    const oldEnough = opts.olderThanMs === 0 || (!Number.isNaN(at) && now - at >= opts.olderThanMs);
    (oldEnough ? items : younger).push(item);
  }
  items.sort((a, b) => a.id.localeCompare(b.id));
  return { namespace: opts.namespace, items, younger, incomplete: !listing.complete };
}

/** Remove the plan's directories (after one more look at the cluster), or say what would go. */
export async function run(opts: PruneOptions, p: PrunePlan, deps: CommandDeps): Promise<PruneResult> {
  const total = (xs: PruneItem[]) => xs.reduce((n, i) => n + (i.bytes ?? 0), 0);
  if (opts.dryRun || p.items.length === 0) return { namespace: p.namespace, dryRun: opts.dryRun, removed: p.items, kept: [], bytes: total(p.items) };
  const budget = startBudget(await deps.kube(opts, deps.logger), deps, opts.timeoutMs, LOOKUP_BUDGET);
  const client = budget.client;
  const ns = p.namespace;
  const what = `checking that nothing on the cluster refers to the ${p.items.length} orphaned artifact${p.items.length === 1 ? '' : 's'}`;
  deps.reporter.phase(what);
  const referred = await budget.guard(what, async (look) => {
    const ids = new Map<string, string>();
    for (const j of (await look.list<Job>(RESOURCES.jobs, ns, { labelSelector: LABEL_CHECKPOINT_ID })).items) ids.set(j.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? '', `job.batch/${j.metadata.name ?? ''}`);
    for (const pod of (await look.list<Pod>(RESOURCES.pods, ns, { labelSelector: LABEL_CHECKPOINT_ID })).items) ids.set(pod.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? '', `pod/${pod.metadata.name ?? ''}`);
    return ids;
  });
  const kept = p.items.filter((i) => referred.has(i.id)).map((i) => ({ ...i, reason: `${referred.get(i.id)} refers to it now` }));
  const chosen = p.items.filter((i) => !referred.has(i.id));
  if (chosen.length === 0) return { namespace: ns, dryRun: false, removed: [], kept, bytes: 0 };
  const found = await budget.guard(`looking for the checkpoint storage in namespace "${ns}"`, (look) => findStorage(look, ns));
  const nodes = await findAgentNodes(client, ns, found.daemonSet).catch(() => undefined);
  // The paths come from the listing, whose IDs were checked as path segments.
  const base = found.storage.basePath.replace(/\/+$/, '');
  for (const i of chosen) {
    if (checkCheckpointId(i.id).length > 0 || i.path !== `${base}/${i.id}`) throw new Error(`internal: ${i.path} is not an artifact directory beneath ${base}`);
  }
  const pod = buildHelperPod({
    namespace: ns,
    storage: found.storage,
    image: opts.helperImage,
    ...(nodes && nodes.length > 0 ? { nodes } : {}),
    purpose: 'remover',
    command: removerCommand(...chosen.map((i) => i.path)),
  });
  deps.reporter.phase(`removing ${chosen.length} orphaned artifact director${chosen.length === 1 ? 'y' : 'ies'} through a short-lived pod`);
  const out = await runHelperPod(client, pod, { signal: deps.signal, timeoutMs: timeoutOrNoLimit(budget.remainingMs()), reporter: deps.reporter, ...(deps.leftovers ? { leftovers: deps.leftovers } : {}) });
  if (!out.succeeded) {
    throw new OperationFailed(
      `could not remove the orphaned artifacts: ${out.message.trim() || `the remover pod exited with code ${out.exitCode ?? 'unknown'}`}`,
      `\`snapshotctl list -n ${ns}\` shows what is left`,
    );
  }
  return { namespace: ns, dryRun: false, removed: chosen, kept, bytes: total(chosen) };
}

/** `12 orphaned artifacts older than 1h`, for messages. */
export function describeAge(opts: Pick<PruneOptions, 'olderThanMs'>): string {
  return opts.olderThanMs === 0 ? '' : ` older than ${formatDuration(opts.olderThanMs)}`;
}
