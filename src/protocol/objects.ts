/**
 * Pure builders of the wire objects (§4, §5, §6). They return new objects and never
 * modify their input, so `--dry-run` prints exactly what would be sent.
 */
import {
  ANNOTATION_ARTIFACT_VERSION,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
  ANNOTATION_RESTORE_STATUS,
  ARTIFACT_VERSION,
  CHECKPOINT_JOB_SUFFIX,
  CUDA_CHECKPOINT_BINARY,
  CUDA_CHECKPOINT_LAUNCH_FLAG,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_TRUE,
  RESTART_POLICY_NEVER,
  RESTORE_COMMAND,
  RESTORE_PROBE_FAILURE_THRESHOLD,
  RESTORE_PROBE_SUCCESS_THRESHOLD,
  RESTORE_STATUS_IN_PROGRESS,
  RESTORE_VOLUME_NAME,
  SECCOMP_PROFILE,
  SECCOMP_TYPE,
} from './constants.js';
import type { Container, Job, Pod, PodSpec, Probe, StringMap } from './types.js';

/** Deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function checkpointJobName(podName: string): string {
  return `${podName}${CHECKPOINT_JOB_SUFFIX}`;
}

function withSeccomp(spec: PodSpec): void {
  spec.securityContext = {
    ...(spec.securityContext ?? {}),
    seccompProfile: { type: SECCOMP_TYPE, localhostProfile: SECCOMP_PROFILE },
  };
}

function without(map: StringMap | undefined, keys: readonly string[]): StringMap {
  const out: StringMap = { ...(map ?? {}) };
  for (const k of keys) delete out[k];
  return out;
}

export interface CheckpointJobOptions {
  namespace: string;
  checkpointId: string;
  /** Wrap the command in `cuda-checkpoint --launch-job` (default on in v1.0.x). */
  wrapCudaCheckpoint: boolean;
}

/** The checkpoint Job of §4 for a validated Pod manifest. */
export function buildCheckpointJob(pod: Pod, opts: CheckpointJobOptions): Job {
  const podName = pod.metadata.name ?? '';
  const labels = without(pod.metadata.labels, [LABEL_IS_RESTORE_TARGET, LABEL_CHECKPOINT_ID]);
  labels[LABEL_IS_CHECKPOINT_SOURCE] = LABEL_TRUE;
  labels[LABEL_CHECKPOINT_ID] = opts.checkpointId;
  const annotations: StringMap = { ...(pod.metadata.annotations ?? {}) };
  annotations[ANNOTATION_ARTIFACT_VERSION] = ARTIFACT_VERSION;

  const spec = clone(pod.spec);
  spec.restartPolicy = RESTART_POLICY_NEVER;
  withSeccomp(spec);
  const container = spec.containers[0];
  if (container && opts.wrapCudaCheckpoint) {
    const original = [...(container.command ?? []), ...(container.args ?? [])];
    container.command = [CUDA_CHECKPOINT_BINARY];
    container.args = [CUDA_CHECKPOINT_LAUNCH_FLAG, ...original];
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: checkpointJobName(podName),
      namespace: opts.namespace,
      labels: { [LABEL_CHECKPOINT_ID]: opts.checkpointId },
    },
    spec: {
      backoffLimit: 0,
      template: { metadata: { labels, annotations }, spec },
    },
  };
}

/** Labels/annotations a restore target must not carry over (§5). */
const RESTORE_DROPPED_LABELS = [LABEL_IS_CHECKPOINT_SOURCE, LABEL_IS_RESTORE_TARGET, LABEL_CHECKPOINT_ID] as const;
const RESTORE_DROPPED_ANNOTATIONS = [
  ANNOTATION_ARTIFACT_VERSION,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
] as const;

function restoreTargetMeta(
  labels: StringMap | undefined,
  annotations: StringMap | undefined,
  checkpointId: string,
): { labels: StringMap; annotations: StringMap } {
  const outLabels = without(labels, RESTORE_DROPPED_LABELS);
  outLabels[LABEL_IS_RESTORE_TARGET] = LABEL_TRUE;
  outLabels[LABEL_CHECKPOINT_ID] = checkpointId;
  const outAnnotations = without(annotations, RESTORE_DROPPED_ANNOTATIONS);
  outAnnotations[ANNOTATION_ARTIFACT_VERSION] = ARTIFACT_VERSION;
  return { labels: outLabels, annotations: outAnnotations };
}

export interface RestorePodOptions {
  namespace: string;
  checkpointId: string;
  pvcName: string;
  basePath: string;
}

/** The startup probe of a restore pod: the worker's own probe, made patient (§5). */
function restoreStartupProbe(container: Container): Probe | undefined {
  const source = container.startupProbe ?? container.livenessProbe ?? container.readinessProbe;
  if (!source) return undefined;
  return {
    ...clone(source),
    failureThreshold: RESTORE_PROBE_FAILURE_THRESHOLD,
    successThreshold: RESTORE_PROBE_SUCCESS_THRESHOLD,
  };
}

/** The restore Pod of §5 for a validated Pod manifest. */
export function buildRestorePod(pod: Pod, opts: RestorePodOptions): Pod {
  const meta = restoreTargetMeta(pod.metadata.labels, pod.metadata.annotations, opts.checkpointId);
  const spec = clone(pod.spec);
  withSeccomp(spec);
  const volumes = spec.volumes ?? [];
  if (!volumes.some((v) => v.name === RESTORE_VOLUME_NAME)) {
    volumes.push({ name: RESTORE_VOLUME_NAME, persistentVolumeClaim: { claimName: opts.pvcName } });
  }
  spec.volumes = volumes;
  const container = spec.containers[0];
  if (container) {
    const mounts = container.volumeMounts ?? [];
    if (!mounts.some((m) => m.name === RESTORE_VOLUME_NAME)) {
      mounts.push({ name: RESTORE_VOLUME_NAME, mountPath: opts.basePath });
    }
    container.volumeMounts = mounts;
    container.command = [...RESTORE_COMMAND];
    delete container.args;
    const probe = restoreStartupProbe(container);
    if (probe) container.startupProbe = probe;
    else delete container.startupProbe;
  }
  spec.restartPolicy = RESTART_POLICY_NEVER;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.metadata.name ?? '', namespace: opts.namespace, ...meta },
    spec,
  };
}

/**
 * Unmet preconditions of restore in place (§6), all at once; empty when it may go
 * ahead. The one predicate: `restore --pod` refuses on it, and its completion offers
 * only the running pods it passes.
 */
export function checkRestoreInPlace(pod: Pod, storage: { pvcName: string; basePath: string }): string[] {
  const problems: string[] = [];
  const containers = pod.spec?.containers ?? [];
  if (containers.length === 0) problems.push('the pod has no containers');
  if (containers.length > 1) {
    problems.push(`the pod has ${containers.length} containers; restore needs exactly one (the placeholder)`);
  }
  const volume = pod.spec?.volumes?.find((v) => v.name === RESTORE_VOLUME_NAME);
  if (!volume) {
    problems.push(`no volume "${RESTORE_VOLUME_NAME}"; add one backed by PVC "${storage.pvcName}"`);
  } else if (volume.persistentVolumeClaim?.claimName !== storage.pvcName) {
    const actual = volume.persistentVolumeClaim?.claimName;
    problems.push(
      `volume "${RESTORE_VOLUME_NAME}" ${actual ? `uses PVC "${actual}"` : 'is not a PVC'}; it must use the checkpoint PVC "${storage.pvcName}"`,
    );
  }
  const first = containers[0];
  if (first) {
    const mount = first.volumeMounts?.find((m) => m.name === RESTORE_VOLUME_NAME);
    if (!mount) {
      problems.push(`container "${first.name}" does not mount "${RESTORE_VOLUME_NAME}"; mount it at ${storage.basePath}`);
    } else if (mount.mountPath !== storage.basePath) {
      problems.push(
        `container "${first.name}" mounts "${RESTORE_VOLUME_NAME}" at ${mount.mountPath}; it must be exactly ${storage.basePath}`,
      );
    }
  }
  const seccomp = pod.spec?.securityContext?.seccompProfile;
  if (seccomp?.type !== SECCOMP_TYPE || seccomp.localhostProfile !== SECCOMP_PROFILE) {
    problems.push(`pod securityContext.seccompProfile must be {type: ${SECCOMP_TYPE}, localhostProfile: ${SECCOMP_PROFILE}}`);
  }
  if (pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] === RESTORE_STATUS_IN_PROGRESS) {
    problems.push(`the pod is being restored right now (${ANNOTATION_RESTORE_STATUS}=${RESTORE_STATUS_IN_PROGRESS}); wait for that restore to finish`);
  }
  if (pod.metadata.deletionTimestamp) problems.push('the pod is being deleted');
  // A checkpoint Job's worker pod is a source, not a placeholder: the restore patch would
  // strip the label that marks it and the agent would restore over the worker it dumps.
  if (pod.metadata.labels?.[LABEL_IS_CHECKPOINT_SOURCE] === LABEL_TRUE) {
    problems.push(`the pod is a checkpoint source (${LABEL_IS_CHECKPOINT_SOURCE}=${LABEL_TRUE}), not a placeholder; restore into a placeholder pod`);
  }
  return problems;
}

/** A JSON merge patch (RFC 7386): `null` deletes a key. */
export type MergePatch = { [key: string]: MergePatch | string | number | boolean | null };

/**
 * The metadata patch that turns an existing pod into a restore target (§6). Unlike
 * v1.0.x it deletes stale keys (null) and carries the pod's resourceVersion, which the
 * API server treats as a precondition: a pod changed since it was read is not patched.
 */
export function buildRestoreInPlacePatch(pod: Pod, checkpointId: string): MergePatch {
  const target = restoreTargetMeta(pod.metadata.labels, pod.metadata.annotations, checkpointId);
  const labels: MergePatch = diffMaps(pod.metadata.labels, target.labels);
  const annotations: MergePatch = diffMaps(pod.metadata.annotations, target.annotations);
  const metadata: MergePatch = { resourceVersion: pod.metadata.resourceVersion ?? '' };
  if (Object.keys(labels).length > 0) metadata['labels'] = labels;
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  return { metadata };
}

function diffMaps(before: StringMap | undefined, after: StringMap): MergePatch {
  const patch: MergePatch = {};
  for (const key of Object.keys(before ?? {})) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) if (before?.[key] !== value) patch[key] = value;
  return patch;
}

/**
 * The metadata patch that undoes a restore-in-place patch (`applied`, from
 * buildRestoreInPlacePatch) on the pod as it is now (`current`): each label and
 * annotation the patch set or removed goes back to its value in `before`, the pod as it
 * was read. Only keys that still hold what the patch wrote are touched: one changed
 * since (the agent's verdict, another run) is someone else's and stays. Carries
 * `current`'s resourceVersion as a precondition. Undefined when nothing is left to undo.
 */
export function buildRevertPatch(current: Pod, applied: MergePatch, before: Pod): MergePatch | undefined {
  const appliedMeta = (applied['metadata'] ?? {}) as Record<string, MergePatch | string | number | boolean | null>;
  const metadata: MergePatch = { resourceVersion: current.metadata.resourceVersion ?? '' };
  let changed = false;
  for (const where of ['labels', 'annotations'] as const) {
    const keys = appliedMeta[where];
    if (typeof keys !== 'object' || keys === null) continue;
    const undo: MergePatch = {};
    for (const [key, wrote] of Object.entries(keys)) {
      const now = current.metadata[where]?.[key] ?? null;
      if (now !== wrote) continue;
      const was = before.metadata[where]?.[key] ?? null;
      if (was !== now) undo[key] = was;
    }
    if (Object.keys(undo).length > 0) {
      metadata[where] = undo;
      changed = true;
    }
  }
  return changed ? { metadata } : undefined;
}

/** Apply a JSON merge patch to plain data (for dry-run previews and tests). */
export function applyMergePatch<T>(target: T, patch: MergePatch): T {
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    // RFC 7386: an array (like any non-object) replaces the old value whole.
    else if (typeof value === 'object' && !Array.isArray(value)) out[key] = applyMergePatch(out[key], value);
    else out[key] = value;
  }
  return out as T;
}
