/**
 * The `DynamoCheckpoint` object (docs/protocol.md §8) and the checkpoint Job a controller
 * makes from it. Pure builders, like `objects.ts`: they return new objects and never
 * modify their input, so `--dry-run` prints exactly what would be sent.
 */
import { buildCheckpointJob } from './objects.js';
import { canonicalIdentityJson, identityHash, parseIdentity, type CheckpointIdentity } from './identity.js';
import type { Job, KubeObject, ObjectMeta, Pod, PodSpec, StringMap } from './types.js';

export const DYNAMO_CHECKPOINT_API_VERSION = 'nvidia.com/v1alpha1';
export const DYNAMO_CHECKPOINT_KIND = 'DynamoCheckpoint';
/** `spec.job.activeDeadlineSeconds` when the object gives none (§8). */
export const DEFAULT_ACTIVE_DEADLINE_SECONDS = 3600;
/**
 * Our label on the DynamoCheckpoints snapshotctl creates: the identity hash, so
 * `kubectl get dckpt -l` finds them before a controller has written `status`.
 */
export const LABEL_IDENTITY_HASH = 'nvidia.com/snapshot-identity-hash';

export type DynamoCheckpointPhase = 'Pending' | 'Creating' | 'Ready' | 'Failed';
export const DYNAMO_CHECKPOINT_PHASES: readonly DynamoCheckpointPhase[] = ['Pending', 'Creating', 'Ready', 'Failed'];

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

export interface DynamoCheckpointSpec {
  identity: CheckpointIdentity | Record<string, unknown>;
  gpuMemoryService?: { enabled?: boolean };
  job: { podTemplateSpec: PodTemplateSpec; activeDeadlineSeconds?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface DynamoCheckpointStatus {
  phase?: DynamoCheckpointPhase | string;
  identityHash?: string;
  jobName?: string;
  createdAt?: string;
  message?: string;
  [key: string]: unknown;
}

export interface DynamoCheckpointObject extends KubeObject {
  metadata: ObjectMeta;
  spec: DynamoCheckpointSpec;
  status?: DynamoCheckpointStatus;
}

/**
 * The identity hash a DynamoCheckpoint read from the cluster stands for (its checkpoint
 * ID): `status.identityHash`, which the operator writes; else our label, which
 * snapshotctl writes at create, before any controller has run; else the hash of
 * `spec.identity`. Undefined when none of them tells it. The one look-up: `checkpoint
 * --identity` finds the object to reuse by it, and the catalogue lists it under it.
 */
export function dynamoCheckpointHash(d: Pick<DynamoCheckpointObject, 'status'> & { metadata?: ObjectMeta; spec?: { identity?: unknown } }): string | undefined {
  if (d.status?.identityHash) return d.status.identityHash;
  const label = d.metadata?.labels?.[LABEL_IDENTITY_HASH];
  if (label) return label;
  const parsed = parseIdentity(d.spec?.identity);
  return parsed.identity ? identityHash(parsed.identity) : undefined;
}

/** The Job the operator runs for a hash: `checkpoint-job-<hash>-1` (single attempt). */
export function dynamoCheckpointJobName(hash: string): string {
  return `checkpoint-job-${hash}-1`;
}

/** Name snapshotctl gives a DynamoCheckpoint when the input names none. */
export function defaultDynamoCheckpointName(hash: string): string {
  return `ckpt-${hash}`;
}

/** A Pod manifest as a pod template: its labels, annotations and spec (no name). */
export function podTemplateFromPod(pod: Pod): PodTemplateSpec {
  const metadata: ObjectMeta = {};
  if (pod.metadata.labels && Object.keys(pod.metadata.labels).length > 0) metadata.labels = { ...pod.metadata.labels };
  if (pod.metadata.annotations && Object.keys(pod.metadata.annotations).length > 0) metadata.annotations = { ...pod.metadata.annotations };
  return { ...(Object.keys(metadata).length > 0 ? { metadata } : {}), spec: structuredClone(pod.spec) };
}

export interface DynamoCheckpointInput {
  name: string;
  namespace: string;
  identity: CheckpointIdentity;
  podTemplateSpec: PodTemplateSpec;
  activeDeadlineSeconds?: number;
  gpuMemoryService?: { enabled?: boolean };
  labels?: StringMap;
  annotations?: StringMap;
}

/**
 * A DynamoCheckpoint, identity written in the canonical field order (so `kubectl get
 * -o yaml` reads like the bytes that are hashed), labelled with the hash.
 */
export function buildDynamoCheckpoint(input: DynamoCheckpointInput): DynamoCheckpointObject {
  const hash = identityHash(input.identity);
  const identity = JSON.parse(canonicalIdentityJson(input.identity)) as Record<string, unknown>;
  // The canonical bytes fill in defaults (tp/pp 1); keep what the user wrote instead.
  if (input.identity.tensorParallelSize === undefined) delete identity['tensorParallelSize'];
  if (input.identity.pipelineParallelSize === undefined) delete identity['pipelineParallelSize'];
  return {
    apiVersion: DYNAMO_CHECKPOINT_API_VERSION,
    kind: DYNAMO_CHECKPOINT_KIND,
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { ...(input.labels ?? {}), [LABEL_IDENTITY_HASH]: hash },
      ...(input.annotations && Object.keys(input.annotations).length > 0 ? { annotations: { ...input.annotations } } : {}),
    },
    spec: {
      identity,
      ...(input.gpuMemoryService !== undefined ? { gpuMemoryService: { ...input.gpuMemoryService } } : {}),
      job: {
        activeDeadlineSeconds: input.activeDeadlineSeconds ?? DEFAULT_ACTIVE_DEADLINE_SECONDS,
        podTemplateSpec: structuredClone(input.podTemplateSpec),
      },
    },
  };
}

export interface DynamoCheckpointJobOptions {
  /** The identity hash: checkpoint ID and part of the Job name. */
  hash: string;
  /** Wrap the worker's command in `cuda-checkpoint --launch-job` when it has one (§4). */
  wrapCudaCheckpoint: boolean;
}

/**
 * The checkpoint Job for a DynamoCheckpoint: §4's Job (same labels, annotation,
 * seccomp profile, `backoffLimit: 0`) from `spec.job.podTemplateSpec` with checkpoint
 * ID = the hash, named `checkpoint-job-<hash>-1`, owned by the DynamoCheckpoint (so
 * deleting it deletes the Job) and bounded by `activeDeadlineSeconds`.
 */
export function buildDynamoCheckpointJob(dc: DynamoCheckpointObject, opts: DynamoCheckpointJobOptions): Job {
  const name = dynamoCheckpointJobName(opts.hash);
  const template = dc.spec.job.podTemplateSpec;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(template.metadata ?? {}), name },
    spec: template.spec,
  };
  const first = template.spec.containers?.[0];
  const hasCommand = (first?.command ?? []).length > 0;
  const job = buildCheckpointJob(pod, {
    namespace: dc.metadata.namespace ?? '',
    checkpointId: opts.hash,
    wrapCudaCheckpoint: opts.wrapCudaCheckpoint && hasCommand,
  });
  const deadline = dc.spec.job.activeDeadlineSeconds ?? DEFAULT_ACTIVE_DEADLINE_SECONDS;
  return {
    ...job,
    metadata: {
      ...job.metadata,
      name,
      ownerReferences: [
        {
          apiVersion: dc.apiVersion ?? DYNAMO_CHECKPOINT_API_VERSION,
          kind: DYNAMO_CHECKPOINT_KIND,
          name: dc.metadata.name ?? '',
          uid: dc.metadata.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: { ...job.spec, activeDeadlineSeconds: deadline },
  };
}
