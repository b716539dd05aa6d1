/**
 * `snapshotctl restore`: a new restore Pod from a manifest (docs/protocol.md §5), or an
 * existing placeholder Pod turned into a restore target in place (§6); then wait for
 * the agent's verdict on the pod.
 */
import { isDeepStrictEqual } from 'node:util';
import { ClusterError, UsageError, ValidationError } from '../errors.js';
import { isApiStatus, toClusterError } from '../kube/errors.js';
import { waitForObject } from '../kube/wait.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  ANNOTATION_RESTORE_STATUS,
  RESTORE_STATUS_IN_PROGRESS,
  applyMergePatch,
  buildRestoreInPlacePatch,
  buildRestorePod,
  buildRevertPatch,
  checkIdFindings,
  checkRestoreInPlace,
  checkpointLocation,
  restoreVerdict,
  withAgentAffinity,
  type CheckpointStorage,
  type MergePatch,
  type Pod,
} from '../protocol/index.js';
import { findAgentNodes, findStorage, placementNodes } from './cluster.js';
import { assertName, parseCommonOptions, resolveNamespace, type RawCommonOptions } from './common-options.js';
import type { CommandDeps, CommonOptions, DryRunResult, OperationResult } from './context.js';
import { checkManifestOrThrow, readManifest } from './manifest-input.js';
import { createAndSupervise, createdResult, sendPhase, startBudget, superviseWait, throwIfInterrupted, timeoutOrNoLimit } from './operation.js';
import { describePodProgress } from './progress.js';
import { verifyCheckpoint } from './verify-checkpoint.js';

export interface RawRestoreOptions extends RawCommonOptions {
  manifest?: string;
  pod?: string;
  checkpointId?: string;
  skipImageCheck?: boolean;
  config?: string;
  /** `--no-verify` sets it false. */
  verify?: boolean;
  helperImage?: string;
}

export type RestoreOptions = CommonOptions & {
  namespace: string;
  checkpointId: string;
  /** --skip-image-check: the placeholder-image policy was not applied (--manifest). */
  skipImageCheck: boolean;
  /** Check that the checkpoint exists before creating or changing anything (not --no-verify). */
  verify: boolean;
  /** Image of the reader pod that looks for the artifact when no Job says it exists. */
  helperImage?: string;
} & ({ mode: 'manifest'; manifestSource: string; pod: Pod } | { mode: 'pod'; podName: string });

/** Read inputs and fill defaults. */
export async function complete(raw: RawRestoreOptions, deps: CommandDeps): Promise<RestoreOptions> {
  const common = parseCommonOptions(raw);
  if (raw.manifest !== undefined && raw.pod !== undefined) {
    throw new UsageError('--manifest and --pod cannot be used together', 'use --manifest FILE to create a new restore pod, or --pod NAME to restore into an existing placeholder pod');
  }
  if (raw.manifest === undefined && raw.pod === undefined) {
    throw new UsageError('restore needs --manifest or --pod', 'use --manifest FILE to create a new restore pod, or --pod NAME to restore into an existing placeholder pod');
  }
  if (raw.checkpointId === undefined || raw.checkpointId === '') {
    throw new UsageError('restore needs --checkpoint-id', 'pass the ID that `snapshotctl checkpoint` printed as checkpoint_id');
  }
  const id = raw.checkpointId;
  if (raw.pod !== undefined) {
    const idFindings = checkIdFindings(id);
    if (idFindings.length > 0) throw new ValidationError('the checkpoint ID cannot be used', idFindings, 'pass the ID exactly as `snapshotctl checkpoint` printed it');
    if (raw.pod === '') throw new UsageError('--pod needs a pod name', 'e.g. --pod vllm-placeholder');
    assertName('pod', raw.pod, '--pod', '--pod vllm-placeholder');
    const contextNs = common.namespace ? undefined : await deps.contextNamespace(common);
    return { ...common, ...verifyOptions(raw), mode: 'pod', podName: raw.pod, checkpointId: id, skipImageCheck: raw.skipImageCheck === true, namespace: resolveNamespace(common.namespace, undefined, contextNs) };
  }
  const source = raw.manifest ?? '-';
  const text = await readManifest(source, deps);
  const pod = await checkManifestOrThrow(
    text,
    source,
    () => [],
    { purpose: 'restore-manifest', skipImageCheck: raw.skipImageCheck === true, checkpointId: id, ...(raw.config !== undefined ? { config: raw.config } : {}) },
    deps,
  );
  const contextNs = common.namespace || pod.metadata.namespace ? undefined : await deps.contextNamespace(common);
  return {
    ...common,
    ...verifyOptions(raw),
    mode: 'manifest',
    manifestSource: source,
    pod,
    checkpointId: id,
    skipImageCheck: raw.skipImageCheck === true,
    namespace: resolveNamespace(common.namespace, pod.metadata.namespace, contextNs, source),
  };
}

function verifyOptions(raw: RawRestoreOptions): { verify: boolean; helperImage?: string } {
  if (raw.helperImage !== undefined) assertImage(raw.helperImage);
  return { verify: raw.verify !== false, ...(raw.helperImage !== undefined ? { helperImage: raw.helperImage } : {}) };
}

function assertImage(image: string): void {
  if (image.trim() === '' || /\s/.test(image)) throw new UsageError(`--helper-image ${JSON.stringify(image)}: not an image reference`, 'e.g. --helper-image busybox:1.36');
}

/** Unless --no-verify or a dry run: is there a checkpoint to restore? (verify-checkpoint.ts) */
async function verifyFirst(client: KubeClient, opts: RestoreOptions, storage: CheckpointStorage, nodes: string[] | undefined, deps: CommandDeps, remainingMs: number): Promise<void> {
  if (!opts.verify || opts.dryRun !== 'none') return;
  await verifyCheckpoint(
    client,
    {
      namespace: opts.namespace,
      checkpointId: opts.checkpointId,
      storage,
      ...(nodes ? { nodes } : {}),
      ...(opts.helperImage !== undefined ? { helperImage: opts.helperImage } : {}),
      timeoutMs: remainingMs > 0 ? Math.min(VERIFY_LIMIT_MS, remainingMs) : VERIFY_LIMIT_MS,
    },
    deps,
  );
}

/** The artifact look-up never takes longer than this (a reader pod that cannot be scheduled). */
const VERIFY_LIMIT_MS = 60_000;

/** Pure cross-option checks. */
export function validate(opts: RestoreOptions): void {
  if (opts.mode === 'pod' && opts.node !== undefined) {
    throw new UsageError('--node does not apply to --pod: the pod is already on its node', 'leave --node out');
  }
}

export async function run(opts: RestoreOptions, deps: CommandDeps): Promise<OperationResult | DryRunResult> {
  return opts.mode === 'manifest' ? restoreFromManifest(opts, deps) : restoreInPlace(opts, deps);
}

async function storageFor(
  client: KubeClient,
  opts: CommonOptions & { namespace: string },
  deps: CommandDeps,
  needDaemonSet: boolean,
): Promise<{ storage: CheckpointStorage; daemonSet?: Awaited<ReturnType<typeof findStorage>>['daemonSet'] }> {
  if (opts.pvc !== undefined && opts.basePath !== undefined && !needDaemonSet) {
    return { storage: { pvcName: opts.pvc, basePath: opts.basePath } };
  }
  deps.reporter.phase(`looking for the snapshot agent in namespace "${opts.namespace}"`);
  const found = await findStorage(client, opts.namespace);
  const storage =
    opts.pvc !== undefined && opts.basePath !== undefined ? { pvcName: opts.pvc, basePath: opts.basePath } : found.storage;
  return { storage, daemonSet: found.daemonSet };
}

async function restoreFromManifest(
  opts: Extract<RestoreOptions, { mode: 'manifest' }>,
  deps: CommandDeps,
): Promise<OperationResult | DryRunResult> {
  const startedMs = deps.now();
  const build = (storage: CheckpointStorage) =>
    buildRestorePod(opts.pod, { namespace: opts.namespace, checkpointId: opts.checkpointId, pvcName: storage.pvcName, basePath: storage.basePath });
  if (opts.dryRun === 'client' && opts.pvc !== undefined && opts.basePath !== undefined) {
    return { dryRun: 'client', objects: [build({ pvcName: opts.pvc, basePath: opts.basePath }) as unknown as Record<string, unknown>] };
  }
  const client = await deps.kube(opts, deps.logger);
  const budget = startBudget(client, deps, opts.timeoutMs);
  const { storage, pod, nodes } = await budget.guard(`looking for the snapshot agent in namespace "${opts.namespace}"`, async (look) => {
    const { storage, daemonSet } = await storageFor(look, opts, deps, opts.agentAffinity);
    let pod = build(storage);
    let nodes: string[] | undefined;
    if (opts.agentAffinity && daemonSet) {
      nodes = await placementNodes(look, opts.namespace, daemonSet, opts.node, deps.reporter);
      if (nodes) pod = { ...pod, spec: withAgentAffinity(pod.spec, nodes) };
    }
    return { storage, pod, nodes };
  });
  if (opts.dryRun === 'client') return { dryRun: 'client', objects: [pod as unknown as Record<string, unknown>] };
  await budget.guard(`checking that checkpoint "${opts.checkpointId}" exists`, (look) => verifyFirst(look, opts, storage, nodes, deps, budget.remainingMs()));

  const name = pod.metadata.name ?? '';
  return createAndSupervise({
    client,
    deps,
    opts,
    startedMs,
    resource: RESOURCES.pods,
    kind: 'Pod',
    object: pod,
    display: `pod/${name}`,
    createError: async (err) =>
      isApiStatus(err, 409)
        ? new ClusterError(
            `pod "${name}" already exists in namespace "${opts.namespace}"`,
            `restore into it with \`snapshotctl restore --pod ${name} --checkpoint-id ${opts.checkpointId} -n ${opts.namespace}\`, or delete it first with \`kubectl delete pod ${name} -n ${opts.namespace}\``,
            409,
          )
        : undefined,
    supervise: (created) => ({
      base: {
        kind: 'restore' as const,
        namespace: opts.namespace,
        name,
        restorePod: name,
        checkpointId: opts.checkpointId,
        checkpointLocation: checkpointLocation(storage.basePath, opts.checkpointId),
        startedAt: new Date(startedMs).toISOString(),
      },
      eventNames: [name],
      wait: () => waitForRestore(client, opts, name, created.metadata.uid, deps),
    }),
  });
}

async function restoreInPlace(
  opts: Extract<RestoreOptions, { mode: 'pod' }>,
  deps: CommandDeps,
): Promise<OperationResult | DryRunResult> {
  const startedMs = deps.now();
  const client = await deps.kube(opts, deps.logger);
  const budget = startBudget(client, deps, opts.timeoutMs);
  const { pod, storage } = await budget.guard(`reading pod "${opts.podName}" and the snapshot agent in namespace "${opts.namespace}"`, async (look) => {
    let pod: Pod;
    try {
      pod = await look.get<Pod>(RESOURCES.pods, opts.namespace, opts.podName);
    } catch (err) {
      if (isApiStatus(err, 404)) {
        throw new ClusterError(
          `pod "${opts.podName}" not found in namespace "${opts.namespace}"`,
          'create the placeholder pod first (see manifests/samples/placeholder.yaml), or use --manifest to create a new restore pod',
          404,
        );
      }
      throw toClusterError(err);
    }
    const { storage, daemonSet } = await storageFor(look, opts, deps, opts.agentAffinity);
    assertRestorableInPlace(pod, storage, opts);
    if (opts.agentAffinity && daemonSet) {
      const nodes = await findAgentNodes(look, opts.namespace, daemonSet);
      const node = pod.spec.nodeName;
      if (nodes !== undefined && node !== undefined && !nodes.includes(node)) {
        throw new ClusterError(
          `pod "${opts.podName}" runs on node "${node}", where no snapshot agent is Ready (ready on: ${nodes.join(', ') || 'none'})`,
          'restore into a placeholder pod on an agent node, or use --manifest to create one there (--no-agent-affinity skips this check)',
        );
      }
    }
    return { pod, storage };
  });
  if (opts.dryRun === 'client') {
    const patch = buildRestoreInPlacePatch(pod, opts.checkpointId);
    return { dryRun: 'client', objects: [applyMergePatch(pod, patch) as unknown as Record<string, unknown>], patch };
  }
  await budget.guard(`checking that checkpoint "${opts.checkpointId}" exists`, (look) => verifyFirst(look, opts, storage, pod.spec.nodeName ? [pod.spec.nodeName] : undefined, deps, budget.remainingMs()));
  throwIfInterrupted(deps.signal);
  deps.reporter.phase(sendPhase(`marking pod/${opts.podName} as a restore target`, `the patch of pod/${opts.podName}`, opts.namespace, opts.dryRun));
  const { patched, patch, read } = await patchRestoreTarget(client, opts, pod, storage, deps);
  if (opts.dryRun === 'server') return { dryRun: 'server', objects: [patched as unknown as Record<string, unknown>], patch };

  const base = {
    kind: 'restore' as const,
    namespace: opts.namespace,
    name: opts.podName,
    restorePod: opts.podName,
    checkpointId: opts.checkpointId,
    checkpointLocation: checkpointLocation(storage.basePath, opts.checkpointId),
    startedAt: new Date(startedMs).toISOString(),
    ...(read.spec.nodeName ? { node: read.spec.nodeName } : {}),
  };
  if (!opts.wait) return createdResult(base, startedMs, deps);
  return superviseWait({
    client,
    deps,
    opts,
    base,
    startedMs,
    // Nothing created: the pod existed before this run and is never ours to delete. What the
    // patch changed is ours, though: left in place, a later checkpoint with this ID would be restored into it.
    undo: {
      kept: `pod/${opts.podName} in namespace "${opts.namespace}" marked as a restore target for checkpoint "${opts.checkpointId}"; undo it with: ${undoCommands(opts.podName, opts.namespace, buildRevertPatch(patched, patch, read)).join(' && ') || 'nothing to undo'}`,
      run: () => revertRestoreTarget(client, opts, read, patch, patched.metadata.uid, deps),
    },
    eventNames: [opts.podName],
    wait: () => waitForRestore(client, opts, opts.podName, patched.metadata.uid, deps),
  });
}

/** Throws SNAP020 with every reason `pod` cannot be a restore target now. */
function assertRestorableInPlace(pod: Pod, storage: { pvcName: string; basePath: string }, opts: Extract<RestoreOptions, { mode: 'pod' }>): void {
  const problems = checkRestoreInPlace(pod, storage);
  if (problems.length > 0) {
    throw new ValidationError(
      `pod "${opts.podName}" in namespace "${opts.namespace}" cannot be restored in place (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      problems.map((message) => ({ rule: 'SNAP020', severity: 'error' as const, path: `pod/${opts.podName}`, message })),
      'create placeholder pods from manifests/samples/placeholder.yaml, or use --manifest to create a new restore pod',
    );
  }
}

/** Patch attempts for a placeholder whose status alone keeps changing (the kubelet). */
const RESTORE_PATCH_ATTEMPTS = 4;

/**
 * What of `after` differs from `before` in a way that bears on the restore: its identity,
 * spec, labels, annotations or deletion. Status, resourceVersion and managedFields are
 * the kubelet's and the API server's bookkeeping; a change there alone is not listed.
 */
function materialChanges(before: Pod, after: Pod): string[] {
  const changed: string[] = [];
  if (after.metadata.uid !== before.metadata.uid) changed.push('it was deleted and created again');
  if (!isDeepStrictEqual(after.spec, before.spec)) changed.push('its spec');
  if (!isDeepStrictEqual(after.metadata.labels ?? {}, before.metadata.labels ?? {})) changed.push('its labels');
  if (!isDeepStrictEqual(after.metadata.annotations ?? {}, before.metadata.annotations ?? {})) changed.push('its annotations');
  if (after.metadata.deletionTimestamp !== before.metadata.deletionTimestamp) changed.push('its deletion');
  return changed;
}

/**
 * Send the restore-in-place patch, which carries the pod's resourceVersion as a
 * precondition. A 409 whose cause is only a status update (the kubelet writing the
 * placeholder's status between our read and our patch) is retried: read again, check
 * again, patch with the new resourceVersion, at most RESTORE_PATCH_ATTEMPTS times. A pod
 * whose identity, spec, labels, annotations or deletion changed is refused unpatched:
 * someone else is acting on it. Returns the patched pod, the patch sent and the pod it
 * was built from.
 */
async function patchRestoreTarget(
  client: KubeClient,
  opts: Extract<RestoreOptions, { mode: 'pod' }>,
  first: Pod,
  storage: { pvcName: string; basePath: string },
  deps: CommandDeps,
): Promise<{ patched: Pod; patch: MergePatch; read: Pod }> {
  const where = `pod "${opts.podName}" in namespace "${opts.namespace}"`;
  let read = first;
  for (let attempt = 1; ; attempt++) {
    const patch = buildRestoreInPlacePatch(read, opts.checkpointId);
    try {
      const patched = await client.patch<Pod>(RESOURCES.pods, opts.namespace, opts.podName, patch, 'merge', { dryRun: opts.dryRun === 'server' });
      return { patched, patch, read };
    } catch (err) {
      if (!isApiStatus(err, 409)) throw toClusterError(err);
    }
    if (attempt >= RESTORE_PATCH_ATTEMPTS) {
      throw new ClusterError(
        `${where} kept changing while snapshotctl was preparing the restore (${attempt} conflicting patches); nothing was patched`,
        'run the same command again once the pod settles',
        409,
      );
    }
    throwIfInterrupted(deps.signal);
    let current: Pod;
    try {
      current = await client.get<Pod>(RESOURCES.pods, opts.namespace, opts.podName);
    } catch (err) {
      if (isApiStatus(err, 404)) {
        throw new ClusterError(`${where} was deleted while snapshotctl was preparing the restore; nothing was patched`, 'create the placeholder pod again, or use --manifest', 404);
      }
      throw toClusterError(err);
    }
    const changed = materialChanges(first, current);
    if (changed.length > 0) {
      throw new ClusterError(
        `${where} changed while snapshotctl was preparing the restore (${changed.join(', ')}); nothing was patched`,
        'check who else changes the pod, then run the same command again',
        409,
      );
    }
    assertRestorableInPlace(current, storage, opts);
    deps.reporter.info(`${where} changed status between our read and our patch; patching again (attempt ${attempt + 1} of ${RESTORE_PATCH_ATTEMPTS})`);
    read = current;
  }
}

/** `kubectl label/annotate` lines that apply a revert patch by hand. */
function undoCommands(name: string, namespace: string, revert: MergePatch | undefined): string[] {
  const meta = (revert?.['metadata'] ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const [where, verb] of [['labels', 'label'], ['annotations', 'annotate']] as const) {
    const keys = meta[where] as Record<string, string | null> | undefined;
    if (!keys || Object.keys(keys).length === 0) continue;
    const args = Object.entries(keys).map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`));
    out.push(`kubectl ${verb} pod ${name} -n ${namespace} --overwrite ${args.join(' ')}`);
  }
  return out;
}

/**
 * Put back the labels and annotations the restore-in-place patch changed (the run
 * failed, timed out or was interrupted), so the pod no longer waits for this checkpoint.
 * Keys changed since are left alone; so is a pod the agent is restoring into right now.
 * Best effort: a problem is a warning naming the commands that finish the job.
 */
async function revertRestoreTarget(
  client: KubeClient,
  opts: Extract<RestoreOptions, { mode: 'pod' }>,
  before: Pod,
  applied: MergePatch,
  uid: string | undefined,
  deps: CommandDeps,
): Promise<void> {
  const where = `pod/${opts.podName} in namespace "${opts.namespace}"`;
  deps.reporter.phase(`cleaning up: putting back the labels and annotations of ${where}`);
  let revert: MergePatch | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let current: Pod;
    try {
      current = await client.get<Pod>(RESOURCES.pods, opts.namespace, opts.podName);
    } catch (err) {
      if (!isApiStatus(err, 404)) deps.reporter.warn(`could not read ${where} to put back its labels and annotations: ${(err as Error).message}`);
      return;
    }
    if (uid !== undefined && current.metadata.uid !== uid) return;
    if (current.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] === RESTORE_STATUS_IN_PROGRESS) {
      deps.reporter.warn(`the snapshot agent is restoring into ${where} right now (${ANNOTATION_RESTORE_STATUS}=${RESTORE_STATUS_IN_PROGRESS}); its labels and annotations were left as they are`);
      return;
    }
    revert = buildRevertPatch(current, applied, before);
    if (!revert) return;
    try {
      await client.patch<Pod>(RESOURCES.pods, opts.namespace, opts.podName, revert, 'merge');
      deps.reporter.info(`put back the labels and annotations of ${where} that this run changed; it no longer waits for checkpoint "${opts.checkpointId}"`);
      return;
    } catch (err) {
      // Changed between our read and our patch (the agent, the kubelet): read again.
      if (isApiStatus(err, 409)) continue;
      deps.reporter.warn(`could not put back the labels and annotations of ${where}: ${(err as Error).message}; undo it with: ${undoCommands(opts.podName, opts.namespace, revert).join(' && ')}`);
      return;
    }
  }
  deps.reporter.warn(`${where} kept changing; its labels and annotations were not put back; undo it with: ${undoCommands(opts.podName, opts.namespace, revert).join(' && ')}`);
}

async function waitForRestore(
  client: KubeClient,
  opts: CommonOptions & { namespace: string },
  name: string,
  uid: string | undefined,
  deps: CommandDeps,
): Promise<{ verdict: ReturnType<typeof restoreVerdict>; node?: string }> {
  let node: string | undefined;
  deps.reporter.phase(`waiting for the snapshot agent to restore pod/${name}`);
  const pod = await waitForObject<Pod>(client, {
    resource: RESOURCES.pods,
    namespace: opts.namespace,
    name,
    until: (p) => p === undefined || (uid !== undefined && p.metadata.uid !== uid) || restoreVerdict(p).state !== 'pending',
    signal: deps.signal,
    timeoutMs: timeoutOrNoLimit(opts.timeoutMs),
    pollIntervalMs: opts.pollIntervalMs,
    onProgress: (p) => {
      if (!p) return;
      node = p.spec.nodeName ?? node;
      const v = restoreVerdict(p);
      deps.reporter.phase(
        v.state === 'pending' && v.detail ? `${v.detail} pod/${name} on node ${p.spec.nodeName ?? '?'}` : describePodProgress(p, 'waiting for the snapshot agent to restore it'),
      );
    },
    onNotice: (msg) => deps.reporter.warn(msg),
  });
  if (pod && uid !== undefined && pod.metadata.uid !== uid) {
    return { verdict: { state: 'failed', reason: `pod/${name} was deleted and replaced by another pod of the same name` } };
  }
  return { verdict: restoreVerdict(pod), ...(node ? { node } : {}) };
}
