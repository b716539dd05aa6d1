/**
 * The checkpoint catalogue: one entry per checkpoint ID, joined from checkpoint Jobs
 * (label `nvidia.com/snapshot-checkpoint-id`, verdict annotation), DynamoCheckpoint
 * objects (phase, identity hash) and restore pods (label `...-is-restore-target=true`).
 * `buildCatalogue` is pure; `collectCatalogue` does the list calls.
 */
import { isApiStatus, toClusterError } from '../kube/errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
  ANNOTATION_RESTORE_STATUS,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_JOB_NAME,
  LABEL_TRUE,
  RESTORE_STATUS_COMPLETED,
  RESTORE_STATUS_FAILED,
  RESTORE_STATUS_IN_PROGRESS,
  checkCheckpointId,
  checkpointLocation,
  jobVerdict,
  type DaemonSet,
  type Job,
  type KubeObject,
  type Pod,
} from '../protocol/index.js';
import { dynamoCheckpointHash, type DynamoCheckpointObject } from '../protocol/dynamo-checkpoint.js';
import { compileLabelSelector } from '../protocol/label-selector.js';
import { findAgentNodes, findStorage } from './cluster.js';
import type { CommandDeps } from './context.js';
import { scanStorage, type StorageListing, type StoredArtifact } from './storage-scan.js';

/** The type in `list -o name`'s `checkpoint/<id>` lines (kubectl's type/name form). */
export const CHECKPOINT_NAME_TYPE = 'checkpoint';

/**
 * A checkpoint ID as given to describe or delete: the ID itself, or `list -o name`'s
 * `checkpoint/<id>` (also `checkpoints/<id>`). IDs never hold a `/`, so this is exact.
 */
export function idFromArgument(arg: string): string {
  const m = /^checkpoints?\/(.*)$/.exec(arg);
  return m ? (m[1] ?? '') : arg;
}

/** Status of a checkpoint as the catalogue shows it. */
export type CheckpointStatus = 'completed' | 'failed' | 'in_progress' | 'unknown';
/**
 * Where a row came from: a checkpoint Job, a DynamoCheckpoint, only restore pods, or
 * only an artifact on the checkpoint volume (`orphan`: nothing on the cluster refers to
 * it, so only `prune` or `delete` will ever remove it).
 */
export type CheckpointSource = 'job' | 'dckpt' | 'restore' | 'orphan';

/** What the checkpoint volume holds for a row, when it was looked at. */
export interface ArtifactSummary {
  /** `missing`: the volume was listed whole and has no directory for this ID. */
  state: 'present' | 'missing';
  /** Version directories (`versions/<n>`), sorted. */
  versions: string[];
  /** Bytes on disk of all versions; null when unknown. */
  bytes: number | null;
  /** The newest version's manifest (our agent's): when, which engine, simulated or not. */
  createdAt: string | null;
  engine: string | null;
  simulated: boolean | null;
  /** False when some version has no manifest.yaml (not written by our agent, or broken). */
  manifest: boolean;
}
/** Status of one restore pod. */
export type RestoreStatus = 'completed' | 'failed' | 'in_progress' | 'pending';

export interface RestoreRecord {
  pod: string;
  status: RestoreStatus;
  node: string | null;
  phase: string | null;
  createdAt: string | null;
  /** `describe` only: the pod is gone (or no longer labelled); the agent's event recorded it. */
  fromEvent?: true;
}

/** One catalogue row (the `list -o json` item shape; documented in docs/commands.md). */
export interface CheckpointEntry {
  id: string;
  namespace: string;
  source: CheckpointSource;
  status: CheckpointStatus;
  /** DynamoCheckpoint phase (Pending, Creating, Ready, Failed) when one exists. */
  phase: string | null;
  node: string | null;
  createdAt: string | null;
  job: string | null;
  pod: string | null;
  dynamoCheckpoint: string | null;
  identityHash: string | null;
  location: string | null;
  reason: string | null;
  /** null: the checkpoint volume was not looked at (no agent there, no access, --no-storage). */
  artifact: ArtifactSummary | null;
  restores: {
    total: number;
    completed: number;
    failed: number;
    inProgress: number;
    last: RestoreRecord | null;
  };
}

/** What the list calls returned. */
export interface CatalogueObjects {
  jobs: Job[];
  /** Checkpoint pods (label is-checkpoint-source=true). */
  checkpointPods: Pod[];
  dynamoCheckpoints: DynamoCheckpointObject[];
  restorePods: Pod[];
  /** Base path of the checkpoint storage by namespace, when discovered. */
  basePaths: Map<string, string>;
  /** What the checkpoint volume of each namespace holds, where it was listed. */
  storage?: Map<string, StorageListing>;
  /** False under a label selector: restore pods then only add counts to matched rows. */
  restoreOnlyRows?: boolean;
}

function labelOf(obj: KubeObject, key: string): string | undefined {
  return obj.metadata?.labels?.[key];
}

/** The checkpoint ID a DynamoCheckpoint stands for: its identity hash, else (none can be told) its name. */
export function dynamoCheckpointId(d: DynamoCheckpointObject): string {
  return dynamoCheckpointHash(d) ?? d.metadata?.name ?? '';
}

/** `Ready` → completed, `Failed` → failed, anything else in progress. */
function phaseStatus(phase: string | undefined): CheckpointStatus {
  if (phase === 'Ready') return 'completed';
  if (phase === 'Failed') return 'failed';
  return 'in_progress';
}

/** A Job's status from the agent's annotation (and the Job's own failure signals). */
export function jobStatus(job: Job): { status: CheckpointStatus; reason: string | null } {
  const v = jobVerdict(job);
  if (v.state === 'completed') return { status: 'completed', reason: null };
  if (v.state === 'failed') return { status: 'failed', reason: v.reason };
  return { status: 'in_progress', reason: null };
}

/** A restore pod's status from the agent's annotation. */
export function restoreStatus(pod: Pod): RestoreStatus {
  const a = pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS];
  if (a === RESTORE_STATUS_COMPLETED) return 'completed';
  if (a === RESTORE_STATUS_FAILED || pod.status?.phase === 'Failed') return 'failed';
  if (a === RESTORE_STATUS_IN_PROGRESS) return 'in_progress';
  return 'pending';
}

function created(obj: KubeObject): string | null {
  return obj.metadata?.creationTimestamp ?? null;
}

/** Newest first; ties (and missing times) by ID. */
function byAgeNewestFirst(a: { createdAt: string | null; id: string; namespace: string }, b: typeof a): number {
  const ta = a.createdAt ? Date.parse(a.createdAt) : 0;
  const tb = b.createdAt ? Date.parse(b.createdAt) : 0;
  return tb - ta || a.namespace.localeCompare(b.namespace) || a.id.localeCompare(b.id);
}

/** Join the objects into one entry per (namespace, checkpoint ID), newest first (pure). */
export function buildCatalogue(objs: CatalogueObjects): CheckpointEntry[] {
  const entries = new Map<string, CheckpointEntry>();
  const entry = (ns: string, id: string): CheckpointEntry => {
    const k = `${ns}/${id}`;
    let e = entries.get(k);
    if (!e) {
      const base = objs.basePaths.get(ns);
      e = {
        id,
        namespace: ns,
        source: 'restore',
        status: 'unknown',
        phase: null,
        node: null,
        createdAt: null,
        job: null,
        pod: null,
        dynamoCheckpoint: null,
        identityHash: null,
        // An ID from a cluster object is only a path when it is a valid checkpoint ID.
        location: base !== undefined && checkCheckpointId(id).length === 0 ? checkpointLocation(base, id) : null,
        reason: null,
        artifact: null,
        restores: { total: 0, completed: 0, failed: 0, inProgress: 0, last: null },
      };
      entries.set(k, e);
    }
    return e;
  };
  // Jobs first (newest Job wins when several carry one ID), then DynamoCheckpoints.
  const jobs = [...objs.jobs].sort((a, b) => (created(a) ?? '').localeCompare(created(b) ?? ''));
  for (const job of jobs) {
    const id = labelOf(job, LABEL_CHECKPOINT_ID);
    if (!id) continue;
    const e = entry(job.metadata.namespace ?? '', id);
    const s = jobStatus(job);
    e.source = 'job';
    e.status = s.status;
    e.reason = s.reason;
    e.job = job.metadata.name ?? null;
    e.createdAt = created(job);
    const pods = objs.checkpointPods
      .filter((p) => p.metadata.namespace === job.metadata.namespace && labelOf(p, LABEL_JOB_NAME) === job.metadata.name)
      .sort((a, b) => (created(b) ?? '').localeCompare(created(a) ?? ''));
    const pod = pods[0];
    if (pod) {
      e.pod = pod.metadata.name ?? null;
      e.node = pod.spec.nodeName ?? null;
    }
  }
  for (const d of objs.dynamoCheckpoints) {
    const id = dynamoCheckpointId(d);
    const e = entry(d.metadata?.namespace ?? '', id);
    e.source = 'dckpt';
    e.dynamoCheckpoint = d.metadata?.name ?? null;
    e.identityHash = id;
    e.phase = d.status?.phase ?? 'Pending';
    // The DynamoCheckpoint's phase is the operator's verdict; a Job's annotation is the agent's.
    if (e.job === null || e.status === 'in_progress') e.status = phaseStatus(d.status?.phase);
    if (d.status?.phase === 'Failed' && d.status.message) e.reason = d.status.message;
    e.createdAt ??= created(d);
    if (e.job === null && d.status?.jobName) e.job = d.status.jobName;
  }
  for (const pod of objs.restorePods) {
    const id = labelOf(pod, LABEL_CHECKPOINT_ID);
    if (!id || labelOf(pod, LABEL_IS_RESTORE_TARGET) !== LABEL_TRUE) continue;
    if (objs.restoreOnlyRows === false && !entries.has(`${pod.metadata.namespace ?? ''}/${id}`)) continue;
    const e = entry(pod.metadata.namespace ?? '', id);
    const status = restoreStatus(pod);
    e.restores.total += 1;
    if (status === 'completed') e.restores.completed += 1;
    else if (status === 'failed') e.restores.failed += 1;
    else e.restores.inProgress += 1;
    const record: RestoreRecord = {
      pod: pod.metadata.name ?? '',
      status,
      node: pod.spec.nodeName ?? null,
      phase: pod.status?.phase ?? null,
      createdAt: created(pod),
    };
    const last = e.restores.last;
    if (!last || (record.createdAt ?? '') > (last.createdAt ?? '') || ((record.createdAt ?? '') === (last.createdAt ?? '') && record.pod > last.pod)) {
      e.restores.last = record;
    }
    if (e.source === 'restore' && (e.createdAt === null || (record.createdAt ?? '') < e.createdAt)) e.createdAt = record.createdAt;
  }
  for (const [ns, listing] of objs.storage ?? []) addArtifacts(ns, listing, entries, entry, objs.restoreOnlyRows !== false);
  return [...entries.values()].sort(byAgeNewestFirst);
}

/**
 * Join one namespace's volume listing: an ID with no row becomes an `orphan` row (not
 * under a label selector: artifacts carry no labels); a completed row whose artifact is
 * not there, on a listing known to be whole, says `missing`.
 */
function addArtifacts(
  ns: string,
  listing: StorageListing,
  entries: Map<string, CheckpointEntry>,
  entry: (ns: string, id: string) => CheckpointEntry,
  orphanRows: boolean,
): void {
  const byId = new Map<string, StoredArtifact[]>();
  for (const a of listing.artifacts) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
  for (const [id, versions] of byId) {
    const known = entries.has(`${ns}/${id}`);
    if (!known && !orphanRows) continue;
    const e = entry(ns, id);
    versions.sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
    const newest = versions[versions.length - 1]!;
    const bytes = versions.every((v) => v.bytes !== null) ? versions.reduce((n, v) => n + (v.bytes ?? 0), 0) : null;
    e.artifact = {
      state: 'present',
      versions: versions.map((v) => v.version),
      bytes,
      createdAt: newest.createdAt ?? newest.modifiedAt,
      engine: newest.engine,
      simulated: newest.simulated,
      manifest: versions.every((v) => v.hasManifest),
    };
    if (!known) {
      e.source = 'orphan';
      e.status = newest.hasManifest ? 'completed' : 'unknown';
      e.createdAt = newest.createdAt ?? newest.modifiedAt;
      e.node = newest.node;
      e.pod = newest.pod;
    }
  }
  if (!listing.complete) return;
  for (const e of entries.values()) {
    if (e.namespace === ns && e.artifact === null && e.status === 'completed' && checkCheckpointId(e.id).length === 0) {
      e.artifact = { state: 'missing', versions: [], bytes: null, createdAt: null, engine: null, simulated: null, manifest: false };
    }
  }
}

/**
 * The objects that carry checkpoint ID `id` in `namespace`, as kubectl names them
 * (`job.batch/x`, `dynamocheckpoint.nvidia.com/y`, `pod/z`), for messages about the ID.
 */
export function objectsOfId(objs: CatalogueObjects, namespace: string, id: string): string[] {
  const inNs = (o: KubeObject) => (o.metadata?.namespace ?? '') === namespace;
  return [
    ...objs.jobs.filter((j) => inNs(j) && labelOf(j, LABEL_CHECKPOINT_ID) === id).map((j) => `job.batch/${j.metadata.name ?? ''}`),
    ...objs.dynamoCheckpoints.filter((d) => inNs(d) && dynamoCheckpointId(d) === id).map((d) => `dynamocheckpoint.nvidia.com/${d.metadata?.name ?? ''}`),
    ...objs.restorePods.filter((p) => inNs(p) && labelOf(p, LABEL_CHECKPOINT_ID) === id).map((p) => `pod/${p.metadata.name ?? ''}`),
  ];
}

/** Restore pods of one checkpoint, newest first (describe). */
export function restoreHistory(pods: Pod[], namespace: string, id: string): RestoreRecord[] {
  return pods
    .filter((p) => p.metadata.namespace === namespace && labelOf(p, LABEL_CHECKPOINT_ID) === id && labelOf(p, LABEL_IS_RESTORE_TARGET) === LABEL_TRUE)
    .map((p) => ({ pod: p.metadata.name ?? '', status: restoreStatus(p), node: p.spec.nodeName ?? null, phase: p.status?.phase ?? null, createdAt: created(p) }))
    .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.pod.localeCompare(a.pod));
}



/**
 * List everything the catalogue joins, in `namespace` (undefined: all namespaces).
 * A cluster without the DynamoCheckpoint CRD (404) simply has none.
 */
export async function collectCatalogue(
  client: KubeClient,
  namespace: string | undefined,
  selector: string | undefined,
  signal?: AbortSignal,
  scan?: StorageScanRequest,
): Promise<CatalogueObjects> {
  const list = async <T extends KubeObject>(res: (typeof RESOURCES)[keyof typeof RESOURCES], labelSelector: string | undefined) => {
    try {
      return (await client.list<T>(res, namespace, { ...(labelSelector ? { labelSelector } : {}), ...(signal ? { signal } : {}) })).items;
    } catch (err) {
      throw toClusterError(err);
    }
  };
  // A checkpoint Job's own labels are exactly the checkpoint ID (docs/protocol.md §4); the
  // worker's labels are on its pod template. -l matches either, so it is applied here.
  const selects = compileLabelSelector(selector);
  const jobs = (await list<Job>(RESOURCES.jobs, LABEL_CHECKPOINT_ID)).filter((j) => selects({ ...(j.spec?.template?.metadata?.labels ?? {}), ...(j.metadata.labels ?? {}) }));
  const checkpointPods = await list<Pod>(RESOURCES.pods, `${LABEL_IS_CHECKPOINT_SOURCE}=${LABEL_TRUE}`);
  // Restore pods rarely carry the Job's labels: count them for the matched IDs whatever the selector.
  const restorePods = await list<Pod>(RESOURCES.pods, `${LABEL_IS_RESTORE_TARGET}=${LABEL_TRUE}`);
  let dynamoCheckpoints: DynamoCheckpointObject[] = [];
  try {
    dynamoCheckpoints = (await client.list<DynamoCheckpointObject>(RESOURCES.dynamocheckpoints, namespace, selector ? { labelSelector: selector } : {})).items;
  } catch (err) {
    // No CRD (404) or no permission on it (403): the catalogue still shows Jobs and pods.
    if (!isApiStatus(err, 404, 403)) throw toClusterError(err);
  }
  const namespaces = new Set<string>();
  for (const o of [...jobs, ...(selector ? [] : restorePods), ...dynamoCheckpoints]) namespaces.add(o.metadata?.namespace ?? '');
  if (scan) {
    if (namespace !== undefined) namespaces.add(namespace);
    else for (const ns of await agentNamespaces(client, scan.deps.reporter)) namespaces.add(ns);
  }
  const objs: CatalogueObjects = { jobs, checkpointPods, dynamoCheckpoints, restorePods, basePaths: new Map(), storage: new Map(), restoreOnlyRows: selector === undefined };
  for (const ns of [...namespaces].sort()) await addVolume(client, objs, ns, scan);
  return objs;
}

/**
 * Add namespace `ns`'s checkpoint storage to `objs`: its base path and, with `scan`, the
 * listing of its volume. Where there is no agent DaemonSet the location stays unknown
 * (the rows still show); a listing that fails is a warning.
 */
export async function addVolume(client: KubeClient, objs: CatalogueObjects, ns: string, scan: StorageScanRequest | undefined): Promise<void> {
  let found: Awaited<ReturnType<typeof findStorage>>;
  try {
    found = await findStorage(client, ns);
  } catch {
    return;
  }
  objs.basePaths.set(ns, found.storage.basePath);
  if (!scan) return;
  const pvc = `pvc/${found.storage.pvcName} in namespace "${ns}"`;
  try {
    const nodes = await findAgentNodes(client, ns, found.daemonSet).catch(() => undefined);
    const listing = await scanStorage(client, { namespace: ns, storage: found.storage, nodes, image: scan.image, timeoutMs: scan.timeoutMs }, scan.deps);
    (objs.storage ??= new Map()).set(ns, listing);
    const odd = listing.problems.filter((p) => p.startsWith('directory'));
    if (odd.length > 0) scan.deps.reporter.warn(`${pvc} holds ${odd.length === 1 ? 'a directory' : `${odd.length} directories`} that snapshotctl does not show: ${odd.slice(0, 3).join('; ')}${odd.length > 3 ? '; …' : ''}`);
    if (!listing.complete) {
      scan.deps.reporter.warn(
        `the listing of ${pvc} is incomplete (${listing.problems[0] ?? (listing.via === 'message' ? 'it came back through the 4 KiB termination message; allow `get pods/log` to see all' : 'it was cut short')}); ${listing.artifacts.length} artifacts shown`,
      );
    }
  } catch (err) {
    if (scan.deps.signal.aborted) throw err;
    scan.deps.reporter.warn(`did not list the checkpoint volume ${pvc}: ${(err as Error).message}; artifacts without a Job are not shown (--no-storage skips this look)`);
  }
}

/** Look at the checkpoint volumes too, through one reader pod per namespace. */
export interface StorageScanRequest {
  image: string;
  timeoutMs: number;
  deps: Pick<CommandDeps, 'signal' | 'reporter' | 'leftovers'>;
}

/**
 * Namespaces where a snapshot agent DaemonSet runs (for -A). Where they cannot be listed
 * (a namespaced Role grants no list across namespaces), a warning says which volumes go
 * unlisted: those of namespaces that have no checkpoint object.
 */
async function agentNamespaces(client: KubeClient, reporter: Pick<CommandDeps['reporter'], 'warn'>): Promise<string[]> {
  const out = new Set<string>();
  for (const selector of [AGENT_SELECTOR_COMPONENT, AGENT_SELECTOR_NAME]) {
    let items: DaemonSet[];
    try {
      items = (await client.list<DaemonSet>(RESOURCES.daemonsets, undefined, { labelSelector: selector })).items;
    } catch (err) {
      reporter.warn(
        `could not list snapshot agent DaemonSets in all namespaces (${(err as Error).message}); the checkpoint volumes of namespaces without a checkpoint object are not listed (list them with -n NAMESPACE)`,
      );
      return [...out].filter((ns) => ns !== '');
    }
    for (const d of items) out.add(d.metadata?.namespace ?? '');
  }
  out.delete('');
  return [...out];
}
