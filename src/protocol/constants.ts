/**
 * Wire constants of the snapshot protocol (docs/protocol.md §1–§6, §10). Byte-exact: a
 * Dynamo v1.0.x snapshot agent matches on these strings. Each says where it is used.
 */

/** Label on the Job, the checkpoint pod template and restore pods: the checkpoint ID. */
export const LABEL_CHECKPOINT_ID = 'nvidia.com/snapshot-checkpoint-id';
/** Label "true" on the checkpoint pod template; the agent watches for it. */
export const LABEL_IS_CHECKPOINT_SOURCE = 'nvidia.com/snapshot-is-checkpoint-source';
/** Label "true" on a restore pod; the agent watches for it. */
export const LABEL_IS_RESTORE_TARGET = 'nvidia.com/snapshot-is-restore-target';
/** Annotation "1" on the checkpoint pod template and restore pods. */
export const ANNOTATION_ARTIFACT_VERSION = 'nvidia.com/snapshot-artifact-version';
/** Annotation the agent writes on the Job: `completed` or `failed`. */
export const ANNOTATION_CHECKPOINT_STATUS = 'nvidia.com/snapshot-checkpoint-status';
/** Annotation the agent writes on a restore Pod: `in_progress`, `completed`, `failed`. */
export const ANNOTATION_RESTORE_STATUS = 'nvidia.com/snapshot-restore-status';
/** Annotation the agent writes on a restore Pod: container ID without `containerd://`. */
export const ANNOTATION_RESTORE_CONTAINER_ID = 'nvidia.com/snapshot-restore-container-id';
/** Label Kubernetes' Job controller sets on a Job's pods (1.27 and later). */
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
/** The same label before Kubernetes 1.27 (still set beside the new one). */
export const LABEL_JOB_NAME_LEGACY = 'job-name';

/** The only artifact version v1.0.x knows; a path segment and annotation value. */
export const ARTIFACT_VERSION = '1';
/** Value of the boolean labels above. */
export const LABEL_TRUE = 'true';

export const CHECKPOINT_STATUS_COMPLETED = 'completed';
export const CHECKPOINT_STATUS_FAILED = 'failed';
export const RESTORE_STATUS_IN_PROGRESS = 'in_progress';
export const RESTORE_STATUS_COMPLETED = 'completed';
export const RESTORE_STATUS_FAILED = 'failed';

/** Storage discovery (§2): DaemonSet selectors, in the order they are tried. */
export const AGENT_SELECTOR_COMPONENT = 'app.kubernetes.io/component=snapshot-agent';
export const AGENT_SELECTOR_NAME = 'app.kubernetes.io/name=snapshot';
export const AGENT_DAEMONSET_SELECTORS = [AGENT_SELECTOR_COMPONENT, AGENT_SELECTOR_NAME] as const;
/** Container of the agent DaemonSet that mounts the checkpoint PVC. */
export const AGENT_CONTAINER_NAME = 'agent';
/** With the component selector, the PVC volume must carry this name. */
export const AGENT_CHECKPOINT_VOLUME_NAME = 'checkpoints';

/** Chart defaults (documentation and our manifests). */
export const DEFAULT_AGENT_DAEMONSET = 'snapshot-agent';
export const DEFAULT_PVC_NAME = 'snapshot-pvc';
export const DEFAULT_BASE_PATH = '/checkpoints';

/** Suffix of the checkpoint Job's name: `<pod name>-checkpoint`. */
export const CHECKPOINT_JOB_SUFFIX = '-checkpoint';
/** Prefix of a generated checkpoint ID: `manual-snapshot-<UTC Unix nanoseconds>`. */
export const GENERATED_ID_PREFIX = 'manual-snapshot-';

/** Pod-level seccomp profile on checkpoint and restore pods. */
export const SECCOMP_TYPE = 'Localhost';
export const SECCOMP_PROFILE = 'profiles/block-iouring.json';

/** Command wrapping of the checkpoint container (§4). */
export const CUDA_CHECKPOINT_BINARY = 'cuda-checkpoint';
export const CUDA_CHECKPOINT_LAUNCH_FLAG = '--launch-job';

/** Restore pod (§5): volume and mount of the checkpoint PVC, placeholder command. */
export const RESTORE_VOLUME_NAME = 'checkpoint-storage';
export const RESTORE_COMMAND = ['sleep', 'infinity'] as const;
/** Startup probe copied onto a restore pod gets these thresholds. */
export const RESTORE_PROBE_FAILURE_THRESHOLD = 2147483647;
export const RESTORE_PROBE_SUCCESS_THRESHOLD = 1;

/** restartPolicy of checkpoint and restore pods. */
export const RESTART_POLICY_NEVER = 'Never';

/** Node label used for agent-node affinity (§11). */
export const NODE_HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Readiness convention of Dynamo's operator (§4), for samples and validation. */
export const READY_FOR_CHECKPOINT_ENV = 'DYN_READY_FOR_CHECKPOINT_FILE';
export const READY_FOR_CHECKPOINT_FILE = '/tmp/ready-for-checkpoint';

/** Placeholder image tools (§3). */
export const NSRESTORE_PATH = '/usr/local/bin/nsrestore';

/** Events the snapshot agent records (§7): on the Job for checkpoints, on the Pod for restores. */
export const EVENT_CHECKPOINT_REQUESTED = 'CheckpointRequested';
export const EVENT_CHECKPOINT_SUCCEEDED = 'CheckpointSucceeded';
export const EVENT_CHECKPOINT_FAILED = 'CheckpointFailed';
export const EVENT_RESTORE_REQUESTED = 'RestoreRequested';
export const EVENT_RESTORE_SUCCEEDED = 'RestoreSucceeded';
export const EVENT_RESTORE_FAILED = 'RestoreFailed';
/**
 * Our extension (not in v1.0.x): Warning on a checkpoint-source pod that its Job does
 * not own, or whose checkpoint ID is not its Job's; the Job is left alone.
 */
export const EVENT_CHECKPOINT_REFUSED = 'CheckpointRefused';
/**
 * Our extension: Warning on a restore pod whose artifact records no namespace (Dynamo's
 * v1.0.x agent writes none), so the agent could not check where it was made.
 */
export const EVENT_RESTORE_NAMESPACE_UNVERIFIED = 'RestoreNamespaceUnverified';
/** `source.component` of the agent's Events. */
export const AGENT_EVENT_COMPONENT = 'snapshot-agent';
/** Prefix of `status.containerStatuses[].containerID` the agent strips for its annotation (§1). */
export const CONTAINERD_ID_PREFIX = 'containerd://';
/** File describing a checkpoint inside its artifact directory (§12). */
export const ARTIFACT_MANIFEST_FILE = 'manifest.yaml';
