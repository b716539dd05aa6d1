/**
 * Every wire constant against the literal text of docs/protocol.md. The expected strings are
 * typed out here on purpose (copied from the spec, not imported), so a typo in
 * constants.ts fails a test instead of silently changing what a v1.0.x agent sees.
 */
import { describe, expect, it } from 'vitest';
import * as C from './constants.js';
import * as protocol from './index.js';

type ConstantName = keyof typeof C;

/** [constant, expected value, clause of docs/protocol.md it comes from] */
const EXPECTED: Array<[ConstantName, unknown, string]> = [
  // §1 labels and annotations
  ['LABEL_CHECKPOINT_ID', 'nvidia.com/snapshot-checkpoint-id', '§1'],
  ['LABEL_IS_CHECKPOINT_SOURCE', 'nvidia.com/snapshot-is-checkpoint-source', '§1'],
  ['LABEL_IS_RESTORE_TARGET', 'nvidia.com/snapshot-is-restore-target', '§1'],
  ['ANNOTATION_ARTIFACT_VERSION', 'nvidia.com/snapshot-artifact-version', '§1'],
  ['ANNOTATION_CHECKPOINT_STATUS', 'nvidia.com/snapshot-checkpoint-status', '§1'],
  ['ANNOTATION_RESTORE_STATUS', 'nvidia.com/snapshot-restore-status', '§1'],
  ['ANNOTATION_RESTORE_CONTAINER_ID', 'nvidia.com/snapshot-restore-container-id', '§1'],
  ['LABEL_JOB_NAME', 'batch.kubernetes.io/job-name', '§1'],
  ['LABEL_JOB_NAME_LEGACY', 'job-name', '§1 (Kubernetes before 1.27)'],
  // §1 values
  ['ARTIFACT_VERSION', '1', '§1 artifact-version value'],
  ['LABEL_TRUE', 'true', '§1 boolean label value'],
  ['CHECKPOINT_STATUS_COMPLETED', 'completed', '§1 checkpoint-status'],
  ['CHECKPOINT_STATUS_FAILED', 'failed', '§1 checkpoint-status'],
  ['RESTORE_STATUS_IN_PROGRESS', 'in_progress', '§1 restore-status'],
  ['RESTORE_STATUS_COMPLETED', 'completed', '§1 restore-status'],
  ['RESTORE_STATUS_FAILED', 'failed', '§1 restore-status'],
  // §2 storage discovery
  ['AGENT_SELECTOR_COMPONENT', 'app.kubernetes.io/component=snapshot-agent', '§2 protocol variant'],
  ['AGENT_SELECTOR_NAME', 'app.kubernetes.io/name=snapshot', '§2 older variant'],
  ['AGENT_DAEMONSET_SELECTORS', ['app.kubernetes.io/component=snapshot-agent', 'app.kubernetes.io/name=snapshot'], '§2 component first'],
  ['AGENT_CONTAINER_NAME', 'agent', '§2'],
  ['AGENT_CHECKPOINT_VOLUME_NAME', 'checkpoints', '§2 protocol variant volume'],
  ['DEFAULT_AGENT_DAEMONSET', 'snapshot-agent', '§2 chart defaults'],
  ['DEFAULT_PVC_NAME', 'snapshot-pvc', '§2 chart defaults'],
  ['DEFAULT_BASE_PATH', '/checkpoints', '§2 chart defaults'],
  // §3
  ['NSRESTORE_PATH', '/usr/local/bin/nsrestore', '§3 placeholder image'],
  // §4 checkpoint
  ['CHECKPOINT_JOB_SUFFIX', '-checkpoint', '§4 Job name'],
  ['GENERATED_ID_PREFIX', 'manual-snapshot-', '§4 generated ID'],
  ['SECCOMP_TYPE', 'Localhost', '§4 seccomp'],
  ['SECCOMP_PROFILE', 'profiles/block-iouring.json', '§4 seccomp'],
  ['CUDA_CHECKPOINT_BINARY', 'cuda-checkpoint', '§4 command wrapping'],
  ['CUDA_CHECKPOINT_LAUNCH_FLAG', '--launch-job', '§4 command wrapping'],
  ['RESTART_POLICY_NEVER', 'Never', '§4/§5 restartPolicy'],
  ['READY_FOR_CHECKPOINT_ENV', 'DYN_READY_FOR_CHECKPOINT_FILE', '§4 readiness convention'],
  ['READY_FOR_CHECKPOINT_FILE', '/tmp/ready-for-checkpoint', '§4 readiness convention'],
  // §5 restore
  ['RESTORE_VOLUME_NAME', 'checkpoint-storage', '§5 volume'],
  ['RESTORE_COMMAND', ['sleep', 'infinity'], '§5 placeholder command'],
  ['RESTORE_PROBE_FAILURE_THRESHOLD', 2147483647, '§5 startup probe'],
  ['RESTORE_PROBE_SUCCESS_THRESHOLD', 1, '§5 startup probe'],
  // §7 what the agent does
  ['EVENT_CHECKPOINT_REQUESTED', 'CheckpointRequested', '§7 events'],
  ['EVENT_CHECKPOINT_SUCCEEDED', 'CheckpointSucceeded', '§7 events'],
  ['EVENT_CHECKPOINT_FAILED', 'CheckpointFailed', '§7 events'],
  ['EVENT_RESTORE_REQUESTED', 'RestoreRequested', '§7 events'],
  ['EVENT_RESTORE_SUCCEEDED', 'RestoreSucceeded', '§7 events'],
  ['EVENT_RESTORE_FAILED', 'RestoreFailed', '§7 events'],
  ['CONTAINERD_ID_PREFIX', 'containerd://', '§1 restore-container-id'],
  ['ARTIFACT_MANIFEST_FILE', 'manifest.yaml', '§12 artifact layout'],
  // Not in the v1.0.x contract (ours; docs/protocol.md §7.4); pinned so that a change is deliberate.
  ['AGENT_EVENT_COMPONENT', 'snapshot-agent', '§7.4 events, not in v1.0.x (chart DaemonSet name, §2)'],
  ['EVENT_CHECKPOINT_REFUSED', 'CheckpointRefused', '§7.4 events, not in v1.0.x (our extension: the agent trust boundary)'],
  ['EVENT_RESTORE_NAMESPACE_UNVERIFIED', 'RestoreNamespaceUnverified', '§7.4 events, not in v1.0.x (our extension: the agent trust boundary)'],
  // §11
  ['NODE_HOSTNAME_LABEL', 'kubernetes.io/hostname', '§11 placement'],
];

describe('wire constants (byte-exact, docs/protocol.md)', () => {
  it.each(EXPECTED)('%s is %j (%s)', (name, expected) => {
    expect(C[name]).toStrictEqual(expected);
  });

  it.each(EXPECTED)('%s is re-exported unchanged from the protocol index', (name) => {
    expect((protocol as Record<string, unknown>)[name]).toBe(C[name]);
  });

  // A new constant must be added to the table above with its docs/protocol.md clause.
  it('every exported constant is covered by this table', () => {
    const covered = new Set<string>(EXPECTED.map(([name]) => name));
    const missing = Object.keys(C).filter((name) => !covered.has(name));
    expect(missing).toEqual([]);
  });

  it('all nvidia.com keys share the `nvidia.com/` prefix and have no stray whitespace', () => {
    const keys = [
      C.LABEL_CHECKPOINT_ID,
      C.LABEL_IS_CHECKPOINT_SOURCE,
      C.LABEL_IS_RESTORE_TARGET,
      C.ANNOTATION_ARTIFACT_VERSION,
      C.ANNOTATION_CHECKPOINT_STATUS,
      C.ANNOTATION_RESTORE_STATUS,
      C.ANNOTATION_RESTORE_CONTAINER_ID,
    ];
    for (const key of keys) {
      expect(key.startsWith('nvidia.com/snapshot-')).toBe(true);
      expect(key).toBe(key.trim());
    }
    expect(new Set(keys).size).toBe(keys.length);
  });
});
