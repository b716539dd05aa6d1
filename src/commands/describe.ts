/**
 * `snapshotctl describe ID`: everything known about one checkpoint: its Job and pod,
 * the DynamoCheckpoint, events, the artifact location and `manifest.yaml` (read
 * through a short-lived reader pod), the restore history, and the next command.
 */
import { OperationFailed, UsageError } from '../errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  ARTIFACT_MANIFEST_FILE,
  EVENT_RESTORE_FAILED,
  EVENT_RESTORE_SUCCEEDED,
  LABEL_CHECKPOINT_ID,
  LABEL_JOB_NAME,
  checkCheckpointId,
  checkDnsSubdomain,
  checkpointLocation,
  parseYamlValue,
  type CheckpointStorage,
  type Job,
  type KubeObject,
  type Pod,
} from '../protocol/index.js';
import type { DynamoCheckpointObject } from '../protocol/dynamo-checkpoint.js';
import { addVolume, buildCatalogue, collectCatalogue, idFromArgument, objectsOfId, restoreHistory, type CheckpointEntry, type RestoreRecord } from './catalogue.js';
import { findAgentNodes, findStorage } from './cluster.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { DEFAULT_HELPER_IMAGE, buildHelperPod, readerCommand, runHelperPod } from './helper-pod.js';
import { DEFAULT_LOOKUP_TIMEOUT, LOOKUP_BUDGET, kubeTargetOf, parseTimeoutFlag } from './list.js';
import { agentLogCommand, startBudget, timeoutOrNoLimit, type RunBudget } from './operation.js';
import { resolveNamespace } from './common-options.js';

export type DescribeOutput = 'text' | 'json' | 'yaml';

export interface RawDescribeOptions {
  id?: string;
  namespace?: string;
  output?: string;
  artifact?: boolean;
  helperImage?: string;
  timeout?: string;
  kubeconfig?: string;
  kubeContext?: string;
  context?: string;
}

export interface DescribeOptions extends KubeTarget {
  id: string;
  namespace: string;
  output: DescribeOutput;
  readArtifact: boolean;
  helperImage: string;
  timeoutMs: number;
}

/** An event about one of the checkpoint's objects. */
export interface DescribedEvent {
  type: string;
  reason: string;
  object: string;
  message: string;
  time: string | null;
  count: number;
}

export interface ArtifactInfo {
  /** `<location>/manifest.yaml`. */
  path: string;
  /** read: the file's text came back; missing: no such file; error: the reader failed; skipped: not attempted. */
  state: 'read' | 'missing' | 'error' | 'skipped';
  text: string | null;
  /** The parsed manifest when it is YAML. */
  manifest: unknown;
  reader: { pod: string; node: string | null } | null;
  message: string | null;
}

export interface DescribeResult {
  entry: CheckpointEntry;
  storage: { pvc: string; basePath: string } | null;
  job: { name: string; status: string; createdAt: string | null; conditions: Array<{ type: string; status: string; reason?: string; message?: string }> } | null;
  pods: Array<{ name: string; node: string | null; phase: string | null }>;
  dynamoCheckpoint: { name: string; phase: string | null; identityHash: string | null; jobName: string | null; message: string | null; identity: unknown } | null;
  artifact: ArtifactInfo | null;
  restores: RestoreRecord[];
  events: DescribedEvent[];
  next: string[];
}

/** Defaults from kubeconfig; the ID is required. */
export async function complete(raw: RawDescribeOptions, deps: Pick<CommandDeps, 'contextNamespace'>): Promise<DescribeOptions> {
  const target = kubeTargetOf(raw);
  const timeoutMs = parseTimeoutFlag(raw.timeout, DEFAULT_LOOKUP_TIMEOUT);
  return {
    ...target,
    id: idFromArgument(raw.id ?? ''),
    namespace: resolveNamespace(raw.namespace, undefined, raw.namespace ? undefined : await deps.contextNamespace(target)),
    output: (raw.output ?? 'text') as DescribeOutput,
    readArtifact: raw.artifact !== false,
    helperImage: raw.helperImage ?? DEFAULT_HELPER_IMAGE,
    timeoutMs,
  };
}

/** Pure checks. */
export function validate(opts: DescribeOptions): void {
  if (!['text', 'json', 'yaml'].includes(opts.output)) throw new UsageError(`--output "${opts.output}" is not supported by describe`, 'use -o text, json or yaml');
  if (opts.id === '') throw new UsageError('describe needs a checkpoint ID', 'e.g. snapshotctl describe llama-8b-v1; `snapshotctl list` shows them');
  // A checkpoint ID, or the name of a DynamoCheckpoint (a DNS-1123 subdomain).
  const idProblems = checkCheckpointId(opts.id);
  if (idProblems.length > 0 && checkDnsSubdomain(opts.id).length > 0) {
    throw new UsageError(`checkpoint ID "${opts.id}" ${idProblems.join(', ')}, and it is not a DynamoCheckpoint name either`, 'pass the ID as `snapshotctl list` shows it');
  }
}

/** Events about `names`, oldest first; best effort. */
async function eventsAbout(client: KubeClient, namespace: string, objects: Array<{ kind: string; name: string }>): Promise<DescribedEvent[]> {
  const out: DescribedEvent[] = [];
  for (const o of objects) {
    try {
      const list = await client.list(RESOURCES.events, namespace, { fieldSelector: `involvedObject.name=${o.name}` });
      for (const e of list.items) {
        const involved = (e['involvedObject'] ?? {}) as { kind?: string };
        if (involved.kind !== undefined && involved.kind !== o.kind) continue;
        out.push({
          type: String(e['type'] ?? 'Normal'),
          reason: String(e['reason'] ?? ''),
          object: `${o.kind.toLowerCase()}/${o.name}`,
          message: String(e['message'] ?? ''),
          time: String(e['lastTimestamp'] ?? e['eventTime'] ?? e['firstTimestamp'] ?? e.metadata?.creationTimestamp ?? '') || null,
          count: typeof e['count'] === 'number' ? e['count'] : 1,
        });
      }
    } catch {
      // Events are a nicety; RBAC may hide them.
    }
  }
  return out.sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
}

/**
 * Restores the agent recorded for `id` in its verdict events (RestoreSucceeded,
 * RestoreFailed on the restore pod), newest event per pod. Best effort: RBAC may hide
 * events, and the API server keeps them about an hour.
 */
async function restoreEvents(client: KubeClient, namespace: string, id: string): Promise<RestoreRecord[]> {
  const out = new Map<string, RestoreRecord>();
  const kinds: Array<[string, RestoreRecord['status'], string]> = [
    [EVENT_RESTORE_SUCCEEDED, 'completed', `checkpoint ${id} restored into pod `],
    [EVENT_RESTORE_FAILED, 'failed', `restore of checkpoint ${id} failed`],
  ];
  for (const [reason, status, prefix] of kinds) {
    const items = await client.list(RESOURCES.events, namespace, { fieldSelector: `reason=${reason}` }).then((l) => l.items).catch(() => []);
    for (const e of items) {
      const involved = (e['involvedObject'] ?? {}) as { kind?: string; name?: string };
      const message = String(e['message'] ?? '');
      if (involved.kind !== 'Pod' || !involved.name || !message.startsWith(prefix)) continue;
      const time = String(e['lastTimestamp'] ?? e['eventTime'] ?? e['firstTimestamp'] ?? e.metadata?.creationTimestamp ?? '') || null;
      const known = out.get(involved.name);
      if (known && (known.createdAt ?? '') >= (time ?? '')) continue;
      const host = (e['source'] as { host?: string } | undefined)?.host;
      out.set(involved.name, { pod: involved.name, status, node: host ?? null, phase: null, createdAt: time, fromEvent: true });
    }
  }
  return [...out.values()];
}

/** What to run next, given the checkpoint's state. */
export function nextCommands(entry: CheckpointEntry, agentLog?: string): string[] {
  const ns = `-n ${entry.namespace}`;
  switch (entry.status) {
    case 'completed':
      return [
        `snapshotctl restore --manifest worker.yaml --checkpoint-id ${entry.id} ${ns}`,
        `snapshotctl restore --pod <placeholder-pod> --checkpoint-id ${entry.id} ${ns}`,
      ];
    case 'failed':
      return [
        agentLogCommand(entry.namespace, agentLog),
        `snapshotctl delete ${entry.id} ${ns}   # then checkpoint again`,
      ];
    case 'in_progress':
      return entry.job ? [`kubectl get job ${entry.job} ${ns} -w`, `snapshotctl describe ${entry.id} ${ns}`] : [`snapshotctl describe ${entry.id} ${ns}`];
    case 'unknown':
      return [`snapshotctl delete ${entry.id} ${ns} --artifacts   # the checkpoint Job is gone; remove what is left`];
  }
}

/** Read `<location>/manifest.yaml` through a reader pod; never throws for a missing file. */
async function readArtifact(
  client: KubeClient,
  opts: DescribeOptions,
  storage: CheckpointStorage,
  nodes: string[] | undefined,
  deps: CommandDeps,
  budget: RunBudget,
): Promise<ArtifactInfo> {
  const path = `${checkpointLocation(storage.basePath, opts.id)}/${ARTIFACT_MANIFEST_FILE}`;
  const pod = buildHelperPod({ namespace: opts.namespace, storage, image: opts.helperImage, ...(nodes ? { nodes } : {}), purpose: 'reader', command: readerCommand(path) });
  deps.reporter.phase(`reading ${path} through a short-lived reader pod`);
  const out = await runHelperPod(client, pod, {
    signal: deps.signal,
    timeoutMs: timeoutOrNoLimit(budget.remainingMs()),
    reporter: deps.reporter,
    ...(deps.leftovers ? { leftovers: deps.leftovers } : {}),
  });
  const reader = { pod: out.pod, node: out.node };
  if (!out.succeeded) {
    const missing = /no such file|can't stat|cannot stat/i.test(out.message);
    return { path, state: missing ? 'missing' : 'error', text: null, manifest: null, reader, message: out.message.trim() || `the reader pod failed (exit code ${out.exitCode ?? 'unknown'})` };
  }
  let manifest: unknown = null;
  try {
    manifest = parseYamlValue(out.message);
  } catch {
    // Shown as text.
  }
  return { path, state: 'read', text: out.message, manifest, reader, message: null };
}

/** Gather everything within `--timeout`; throws OperationFailed (exit 1) when nothing has this ID. */
export async function run(opts: DescribeOptions, deps: CommandDeps): Promise<DescribeResult> {
  const budget = startBudget(await deps.kube(opts, deps.logger), deps, opts.timeoutMs, LOOKUP_BUDGET);
  const client = budget.client;
  const looking = `looking for checkpoint "${opts.id}" in namespace "${opts.namespace}"`;
  deps.reporter.phase(looking);
  const objs = await budget.guard(looking, (look) => collectCatalogue(look, opts.namespace, undefined));
  budget.check(looking);
  const find = () => buildCatalogue(objs).find((e) => e.id === opts.id || e.dynamoCheckpoint === opts.id);
  let entry = find();
  if (!entry && opts.readArtifact) {
    // Nothing on the cluster has the ID: its Job may be gone while its artifact stays.
    const scan = { image: opts.helperImage, timeoutMs: timeoutOrNoLimit(budget.remainingMs()), deps };
    await budget.guard(looking, (look) => addVolume(look, objs, opts.namespace, scan));
    budget.check(looking);
    entry = find();
  }
  if (!entry) {
    throw new OperationFailed(
      `no checkpoint "${opts.id}" in namespace "${opts.namespace}" (no Job labelled ${LABEL_CHECKPOINT_ID}=${opts.id}, no DynamoCheckpoint, no restore pod${opts.readArtifact ? ', no artifact on the checkpoint volume' : ''})`,
      `\`snapshotctl list -n ${opts.namespace}\` shows the checkpoints there; \`snapshotctl list -A\` looks in every namespace`,
    );
  }
  const id = entry.id;
  const jobs = objs.jobs.filter((j) => j.metadata.labels?.[LABEL_CHECKPOINT_ID] === id);
  const job: Job | undefined = jobs.find((j) => j.metadata.name === entry.job) ?? jobs[0];
  const pods = objs.checkpointPods.filter((p) => job !== undefined && p.metadata.labels?.[LABEL_JOB_NAME] === job.metadata.name);
  const dckpt: DynamoCheckpointObject | undefined = objs.dynamoCheckpoints.find((d) => d.metadata?.name === entry.dynamoCheckpoint);
  const restores = restoreHistory(objs.restorePods, opts.namespace, id);

  let storage: CheckpointStorage | undefined;
  let nodes: string[] | undefined;
  try {
    const found = await findStorage(client, opts.namespace);
    storage = found.storage;
    nodes = await findAgentNodes(client, opts.namespace, found.daemonSet).catch(() => undefined);
  } catch (err) {
    budget.check(`looking for the checkpoint storage in namespace "${opts.namespace}"`);
    deps.reporter.warn(`checkpoint storage unknown: ${(err as Error).message}`);
  }
  let artifact: ArtifactInfo | null = null;
  // The ID may come from a cluster object (a DynamoCheckpoint's status.identityHash):
  // it names a directory only when it is a valid checkpoint ID.
  const idProblems = checkCheckpointId(id);
  if (storage && idProblems.length > 0) {
    deps.reporter.warn(
      `not reading the artifact of checkpoint ID ${JSON.stringify(id)} of ${objectsOfId(objs, opts.namespace, id).join(', ') || 'an unknown object'}: it ${idProblems.join(', ')}, so it cannot name a directory`,
    );
  } else if (storage) {
    const path = `${checkpointLocation(storage.basePath, id)}/${ARTIFACT_MANIFEST_FILE}`;
    const worthReading = entry.status === 'completed' || entry.status === 'unknown';
    artifact = opts.readArtifact && worthReading
      ? await readArtifact(client, { ...opts, id }, storage, nodes && nodes.length > 0 ? nodes : undefined, deps, budget)
      : { path, state: 'skipped', text: null, manifest: null, reader: null, message: opts.readArtifact ? `the checkpoint is ${entry.status}` : '--no-artifact' };
  }

  const named: Array<{ kind: string; name: string }> = [
    ...(job ? [{ kind: 'Job', name: job.metadata.name ?? '' }] : []),
    ...pods.map((p) => ({ kind: 'Pod', name: p.metadata.name ?? '' })),
    ...(dckpt ? [{ kind: 'DynamoCheckpoint', name: dckpt.metadata?.name ?? '' }] : []),
    ...restores.map((r) => ({ kind: 'Pod', name: r.pod })),
  ];
  const events = await eventsAbout(client, opts.namespace, named);
  // Restores of pods deleted (or relabelled) since: the agent's verdict events remain a while.
  for (const r of await restoreEvents(client, opts.namespace, id)) if (!restores.some((x) => x.pod === r.pod)) restores.push(r);
  restores.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.pod.localeCompare(a.pod));
  // Events are best effort and swallow errors: a budget that ran out meanwhile must still fail.
  budget.check(`reading the events of checkpoint "${id}"`);
  return {
    entry,
    storage: storage ? { pvc: storage.pvcName, basePath: storage.basePath } : null,
    job: job
      ? {
          name: job.metadata.name ?? '',
          status: entry.status,
          createdAt: job.metadata.creationTimestamp ?? null,
          conditions: (job.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) })),
        }
      : null,
    pods: pods.map((p: Pod) => ({ name: p.metadata.name ?? '', node: p.spec.nodeName ?? null, phase: p.status?.phase ?? null })),
    dynamoCheckpoint: dckpt
      ? {
          name: dckpt.metadata?.name ?? '',
          phase: dckpt.status?.phase ?? null,
          identityHash: dckpt.status?.identityHash ?? null,
          jobName: dckpt.status?.jobName ?? null,
          message: dckpt.status?.message ?? null,
          identity: (dckpt.spec?.identity as KubeObject | undefined) ?? null,
        }
      : null,
    artifact,
    restores,
    events,
    next: nextCommands(entry, await deps.agentLogFile?.(opts).catch(() => undefined)),
  };
}
