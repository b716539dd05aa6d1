/**
 * `snapshotctl delete ID... | --all | -l SELECTOR`: delete checkpoints. Per ID: the
 * checkpoint Job (foreground, waited for), the DynamoCheckpoint, finished restore pods,
 * and the artifact directory on the checkpoint volume (through a short-lived pod) when
 * the volume's listing shows one, or always with `--artifacts`; `--keep-artifacts`
 * keeps it (the checkpoint stays listed and restorable, as an orphan). A restore pod
 * still running from the checkpoint blocks deleting its artifact: `--keep-artifacts`
 * deletes only the cluster objects and leaves those pods alone, `--force` deletes them
 * too. Results are per ID; one failure does not stop the others.
 */
import { Interrupted, TimeoutError, UsageError } from '../errors.js';
import { isApiStatus } from '../kube/errors.js';
import { RESOURCES, type KubeClient, type ResourceType } from '../kube/types.js';
import { waitForObject } from '../kube/wait.js';
import { LABEL_CHECKPOINT_ID, checkCheckpointId, type CheckpointStorage, type KubeObject, type Pod } from '../protocol/index.js';
import { buildCatalogue, collectCatalogue, dynamoCheckpointId, idFromArgument, objectsOfId, type ArtifactSummary, type CatalogueObjects, type CheckpointEntry } from './catalogue.js';
import { findAgentNodes, findStorage } from './cluster.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { formatDuration } from './duration.js';
import { DEFAULT_HELPER_IMAGE, buildHelperPod, removerCommand, runHelperPod } from './helper-pod.js';
import { LOOKUP_BUDGET, checkSelector, kubeTargetOf, parseTimeoutFlag } from './list.js';
import { startBudget, timeoutOrNoLimit, type RunBudget } from './operation.js';
import { resolveNamespace } from './common-options.js';

/** Default `--timeout`: the look-ups, and then the deletions, each get this long. */
export const DEFAULT_DELETE_TIMEOUT = '2m';

export type DeleteOutput = 'text' | 'json';

export interface RawDeleteOptions {
  ids?: string[];
  all?: boolean;
  selector?: string;
  artifacts?: boolean;
  keepArtifacts?: boolean;
  force?: boolean;
  yes?: boolean;
  output?: string;
  helperImage?: string;
  timeout?: string;
  namespace?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
}

export interface DeleteOptions extends KubeTarget {
  ids: string[];
  all: boolean;
  selector?: string;
  namespace: string;
  /** --artifacts: remove the artifact directory even where the volume could not be listed. */
  artifacts: boolean;
  /** --keep-artifacts: never remove it. */
  keepArtifacts: boolean;
  force: boolean;
  yes: boolean;
  output: DeleteOutput;
  helperImage: string;
  timeoutMs: number;
}

/** What will be deleted for one ID (shown in the confirmation). */
export interface DeletePlanItem {
  id: string;
  namespace: string;
  found: boolean;
  jobs: Array<{ name: string; uid?: string }>;
  dynamoCheckpoints: Array<{ name: string; uid?: string }>;
  finishedRestorePods: Array<{ name: string; uid?: string }>;
  runningRestorePods: Array<{ name: string; uid?: string }>;
  /**
   * Why the ID is not a safe path segment (empty when it is). IDs from the command line
   * are checked before anything is sent; one that came from a cluster object (a
   * DynamoCheckpoint's status.identityHash) is checked here and never becomes a path.
   */
  idProblems: string[];
  /** The objects that carry the ID (`dynamocheckpoint.nvidia.com/x`), for messages. */
  objects: string[];
  /** What the checkpoint volume holds for it (null: not looked at). */
  artifact: ArtifactSummary | null;
  /** The artifact directory is to be removed (decided by the plan). */
  removeArtifact: boolean;
}

export interface DeletePlan {
  namespace: string;
  items: DeletePlanItem[];
}

export type DeleteStatus = 'deleted' | 'not_found' | 'refused' | 'failed';

export interface DeleteItemResult {
  id: string;
  namespace: string;
  status: DeleteStatus;
  /** What was deleted: `job.batch/x`, `pod/y`, `dynamocheckpoint.nvidia.com/z`, `artifacts:/checkpoints/id`. */
  deleted: string[];
  reason: string | null;
}

export interface DeleteResult {
  items: DeleteItemResult[];
}

export async function complete(raw: RawDeleteOptions, deps: Pick<CommandDeps, 'contextNamespace'>): Promise<DeleteOptions> {
  const target = kubeTargetOf(raw);
  const timeoutMs = parseTimeoutFlag(raw.timeout, DEFAULT_DELETE_TIMEOUT);
  return {
    ...target,
    ids: (raw.ids ?? []).map(idFromArgument),
    all: raw.all === true,
    ...(raw.selector !== undefined ? { selector: raw.selector } : {}),
    namespace: resolveNamespace(raw.namespace, undefined, raw.namespace ? undefined : await deps.contextNamespace(target)),
    artifacts: raw.artifacts === true,
    keepArtifacts: raw.keepArtifacts === true,
    force: raw.force === true,
    yes: raw.yes === true,
    output: (raw.output ?? 'text') as DeleteOutput,
    helperImage: raw.helperImage ?? DEFAULT_HELPER_IMAGE,
    timeoutMs,
  };
}

/** Exactly one of IDs, --all, -l; IDs valid; output known. */
export function validate(opts: DeleteOptions): void {
  const forms = [opts.ids.length > 0, opts.all, opts.selector !== undefined].filter(Boolean).length;
  if (forms !== 1) {
    throw new UsageError(
      forms === 0 ? 'delete needs checkpoint IDs, --all or -l SELECTOR' : 'give exactly one of: checkpoint IDs, --all, -l SELECTOR',
      'e.g. snapshotctl delete llama-8b-v1, snapshotctl delete --all --yes, snapshotctl delete -l team=ml',
    );
  }
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`--output "${opts.output}" is not supported by delete`, 'use -o text or -o json');
  if (opts.artifacts && opts.keepArtifacts) throw new UsageError('--artifacts and --keep-artifacts contradict each other', 'leave both out to remove the artifacts the volume shows, or pass one');
  if (opts.selector !== undefined) checkSelector(opts.selector);
  const bad = opts.ids.map((id) => [id, checkCheckpointId(id)] as const).filter(([, p]) => p.length > 0);
  if (bad.length > 0) throw new UsageError(`checkpoint ID ${bad.map(([id, p]) => `"${id}" ${p.join(', ')}`).join('; ')}`, '`snapshotctl list` shows the IDs');
}

function ref(o: KubeObject): { name: string; uid?: string } {
  return { name: o.metadata?.name ?? '', ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}) };
}

function isFinished(p: Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/** What each ID consists of (pure). */
export function planFor(
  id: string,
  namespace: string,
  objs: CatalogueObjects,
  entry: CheckpointEntry | undefined,
  artifacts: { remove: boolean; keep: boolean } = { remove: false, keep: false },
): DeletePlanItem {
  const restores = objs.restorePods
    .filter((p) => p.metadata.namespace === namespace && p.metadata.labels?.[LABEL_CHECKPOINT_ID] === id)
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return {
    id,
    namespace,
    found: entry !== undefined,
    jobs: objs.jobs.filter((j) => j.metadata.namespace === namespace && j.metadata.labels?.[LABEL_CHECKPOINT_ID] === id).map(ref),
    dynamoCheckpoints: objs.dynamoCheckpoints.filter((d) => d.metadata?.namespace === namespace && dynamoCheckpointId(d) === id).map(ref),
    finishedRestorePods: restores.filter(isFinished).map(ref),
    runningRestorePods: restores.filter((p) => !isFinished(p)).map(ref),
    idProblems: checkCheckpointId(id),
    objects: objectsOfId(objs, namespace, id),
    artifact: entry?.artifact ?? null,
    removeArtifact: entry !== undefined && !artifacts.keep && (artifacts.remove || entry.artifact?.state === 'present'),
  };
}

/** True when `--artifacts` must leave this item alone: its ID cannot name a directory. */
export function isUnsafeForArtifacts(item: DeletePlanItem): boolean {
  return item.found && item.removeArtifact && item.idProblems.length > 0;
}

/** Find what the IDs, --all or -l stand for; deletes nothing. */
export async function plan(opts: DeleteOptions, deps: CommandDeps): Promise<DeletePlan> {
  const budget = startBudget(await deps.kube(opts, deps.logger), deps, opts.timeoutMs, LOOKUP_BUDGET);
  const what = `looking up checkpoints in namespace "${opts.namespace}"`;
  deps.reporter.phase(what);
  // The volume's listing says which IDs have an artifact to remove (and finds orphans).
  const scan = opts.keepArtifacts ? undefined : { image: opts.helperImage, timeoutMs: timeoutOrNoLimit(budget.remainingMs()), deps };
  const objs = await budget.guard(what, (look) => collectCatalogue(look, opts.namespace, opts.selector, undefined, scan));
  budget.check(what);
  const entries = buildCatalogue(objs);
  const ids = opts.ids.length > 0 ? [...new Set(opts.ids)] : entries.map((e) => e.id);
  const items = ids.map((id) => planFor(id, opts.namespace, objs, entries.find((e) => e.id === id), { remove: opts.artifacts, keep: opts.keepArtifacts }));
  if (scan && !opts.artifacts && !objs.storage?.has(opts.namespace) && items.some((i) => i.found)) {
    deps.reporter.warn(`the checkpoint volume of namespace "${opts.namespace}" was not listed, so no artifact directory is removed; pass --artifacts to remove them anyway`);
  }
  for (const item of items.filter(isUnsafeForArtifacts)) {
    deps.reporter.warn(
      `skipping checkpoint ID ${JSON.stringify(item.id)} of ${item.objects.join(', ') || 'an unknown object'}: it ${item.idProblems.join(', ')}; it cannot name an artifact directory, so nothing of it is deleted`,
    );
  }
  return { namespace: opts.namespace, items };
}

const DYNAMO_CHECKPOINT = 'dynamocheckpoint.nvidia.com';

/** Delete one object and wait (bounded) until it is gone; true when it was there. */
async function deleteAndWait(
  client: KubeClient,
  res: ResourceType,
  namespace: string,
  obj: { name: string; uid?: string },
  policy: 'Foreground' | 'Background',
  budget: RunBudget,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await client.delete(res, namespace, obj.name, { propagationPolicy: policy, ...(obj.uid ? { uid: obj.uid } : {}) });
  } catch (err) {
    if (isApiStatus(err, 404)) return false;
    throw err;
  }
  await waitForObject(client, {
    resource: res,
    namespace,
    name: obj.name,
    until: (o: KubeObject | undefined) => o === undefined || (obj.uid !== undefined && o.metadata?.uid !== obj.uid),
    signal,
    timeoutMs: timeoutOrNoLimit(budget.remainingMs()),
    description: `${res.kind.toLowerCase()}/${obj.name} to be deleted`,
  });
  return true;
}

/**
 * Carry out the plan, ID by ID, within `--timeout` (counted from here: the question is
 * not). Never throws for one ID's failure; IDs the budget did not reach fail as "not
 * tried". Ctrl-C throws `Interrupted` naming what was deleted before it.
 */
export async function run(opts: DeleteOptions, p: DeletePlan, deps: CommandDeps): Promise<DeleteResult> {
  const budget = startBudget(await deps.kube(opts, deps.logger), deps, opts.timeoutMs, LOOKUP_BUDGET);
  const client = budget.client;
  let storage: { storage: CheckpointStorage; nodes: string[] | undefined } | undefined;
  let storageError: string | undefined;
  if (p.items.some((i) => i.found && i.removeArtifact)) {
    try {
      const found = await findStorage(client, opts.namespace);
      storage = { storage: found.storage, nodes: await findAgentNodes(client, opts.namespace, found.daemonSet).catch(() => undefined) };
    } catch (err) {
      storageError = (err as Error).message;
    }
  }
  const items: DeleteItemResult[] = [];
  const interrupted = (id: string): Interrupted => {
    const done = items.flatMap((i) => i.deleted);
    return new Interrupted(`interrupted while deleting checkpoint "${id}"; ${done.length > 0 ? `deleted before that: ${done.join(', ')}` : 'nothing was deleted'}`);
  };
  for (const item of p.items) {
    if (deps.signal.aborted) throw interrupted(item.id);
    const result: DeleteItemResult = { id: item.id, namespace: item.namespace, status: 'deleted', deleted: [], reason: null };
    items.push(result);
    if (budget.expired()) {
      result.status = 'failed';
      result.reason = `not tried: --timeout (${formatDuration(opts.timeoutMs)}) ran out`;
      continue;
    }
    if (!item.found) {
      result.status = 'not_found';
      result.reason = `no checkpoint "${item.id}" in namespace "${item.namespace}"${opts.keepArtifacts ? ' on the cluster (with --keep-artifacts the checkpoint volume is not looked at, and an artifact alone is kept)' : ''}`;
      continue;
    }
    if (isUnsafeForArtifacts(item)) {
      result.status = 'refused';
      result.reason = `the checkpoint ID is not a safe path segment (it ${item.idProblems.join(', ')}), so --artifacts cannot name its directory; look at ${item.objects.join(', ') || 'the objects that carry it'} with kubectl`;
      continue;
    }
    if (item.runningRestorePods.length > 0 && !opts.force && !opts.keepArtifacts) {
      const pods = item.runningRestorePods.map((x) => x.name).join(', ');
      const one = item.runningRestorePods.length === 1;
      result.status = 'refused';
      result.reason =
        `restore pod${one ? '' : 's'} ${pods} ${one ? 'runs' : 'run'} from it; ` +
        `--keep-artifacts deletes only its Job${item.dynamoCheckpoints.length > 0 ? ' and DynamoCheckpoint' : ''} and leaves ${one ? 'that pod' : 'those pods'} and the artifact alone (it stays listed and restorable), ` +
        `--force deletes ${one ? 'that pod' : 'those pods'} and the artifact too`;
      continue;
    }
    try {
      deps.reporter.phase(`deleting checkpoint "${item.id}"`);
      // With --keep-artifacts restore pods are left alone: the checkpoint they came from stays.
      const restorePods = opts.keepArtifacts && !opts.force ? [] : [...item.runningRestorePods, ...item.finishedRestorePods];
      for (const pod of restorePods) {
        if (await deleteAndWait(client, RESOURCES.pods, item.namespace, pod, 'Background', budget, deps.signal)) result.deleted.push(`pod/${pod.name}`);
      }
      for (const d of item.dynamoCheckpoints) {
        if (await deleteAndWait(client, RESOURCES.dynamocheckpoints, item.namespace, d, 'Foreground', budget, deps.signal)) result.deleted.push(`${DYNAMO_CHECKPOINT}/${d.name}`);
      }
      for (const job of item.jobs) {
        if (await deleteAndWait(client, RESOURCES.jobs, item.namespace, job, 'Foreground', budget, deps.signal)) result.deleted.push(`job.batch/${job.name}`);
      }
      if (item.removeArtifact) {
        if (!storage) throw new Error(`artifacts not removed: ${storageError ?? 'checkpoint storage unknown'}`);
        const dir = `${storage.storage.basePath.replace(/\/+$/, '')}/${item.id}`;
        deps.reporter.phase(`removing ${dir} through a short-lived pod`);
        const pod = buildHelperPod({
          namespace: item.namespace,
          storage: storage.storage,
          image: opts.helperImage,
          ...(storage.nodes && storage.nodes.length > 0 ? { nodes: storage.nodes } : {}),
          purpose: 'remover',
          command: removerCommand(dir),
        });
        const out = await runHelperPod(client, pod, {
          signal: deps.signal,
          timeoutMs: timeoutOrNoLimit(budget.remainingMs()),
          reporter: deps.reporter,
          ...(deps.leftovers ? { leftovers: deps.leftovers } : {}),
        });
        if (!out.succeeded) throw new Error(`could not remove ${dir}: ${out.message.trim() || `exit code ${out.exitCode ?? 'unknown'}`}`);
        result.deleted.push(`artifacts:${dir}`);
      }
    } catch (err) {
      if (deps.signal.aborted) throw interrupted(item.id);
      result.status = 'failed';
      // An aborted read says only "aborted": say which limit it was.
      result.reason = budget.expired() && !(err instanceof TimeoutError) ? `not finished: --timeout (${formatDuration(opts.timeoutMs)}) ran out` : (err as Error).message;
    }
  }
  return { items };
}
