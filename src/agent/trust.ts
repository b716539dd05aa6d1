/**
 * Who may ask the agent for what. The agent runs as root on a node and acts on labels
 * anyone who can create a pod can write, so a checkpoint-source pod is trusted only as
 * far as the API server vouches for it: its Job, read from the API, must be its
 * controller (ownerReferences), and the pod must carry that Job's checkpoint ID.
 */
import { LABEL_CHECKPOINT_ID } from '../protocol/constants.js';
import type { Job, Pod } from '../protocol/types.js';

/**
 * Why `pod` does not count as the checkpoint source of `job` (the Job named by its
 * `batch.kubernetes.io/job-name` label, as read from the API), or undefined when it does:
 * an ownerReference with kind Job, `controller: true` and the Job's UID, and the Job's
 * checkpoint-ID label on the pod.
 */
export function checkpointPodRefusal(pod: Pod, job: Job): string | undefined {
  const ns = job.metadata.namespace ?? pod.metadata.namespace ?? 'default';
  const jobRef = `Job ${ns}/${job.metadata.name ?? ''}`;
  const jobUid = job.metadata.uid;
  if (!jobUid) return `${jobRef} has no UID`;
  const controller = (pod.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  if (!controller) return `the pod has no controller ownerReference; only a pod that ${jobRef} made counts`;
  if (controller.kind !== 'Job' || !controller.apiVersion.startsWith('batch/') || controller.uid !== jobUid) {
    return `the pod's controller is ${controller.kind} ${controller.name} (UID ${controller.uid}), not ${jobRef} (UID ${jobUid})`;
  }
  const jobId = job.metadata.labels?.[LABEL_CHECKPOINT_ID];
  if (!jobId) return `${jobRef} carries no ${LABEL_CHECKPOINT_ID} label`;
  const podId = pod.metadata.labels?.[LABEL_CHECKPOINT_ID];
  if (podId !== jobId) return `the pod's checkpoint ID ${JSON.stringify(podId ?? '')} is not its Job's (${JSON.stringify(jobId)})`;
  return undefined;
}

/** A name fit to quote from a file: a namespace (DNS-1123 label) and nothing else. */
function quotableNamespace(value: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value) ? value : undefined;
}

export interface ArtifactUseCheck {
  /** Why the artifact may not be used here; the operation is refused. */
  refusal?: string;
  /** Said on the pod as a Warning; the operation goes on. */
  warning?: string;
}

export interface ArtifactUseContext {
  checkpointId: string;
  /** Namespace of the restore pod (or of the new checkpoint that would replace the artifact). */
  namespace: string;
  /** `restore.allowCrossNamespace` of the agent's config file. */
  allowCrossNamespace: boolean;
  /** Path of the artifact's manifest.yaml, for messages. */
  manifestFile: string;
}

/**
 * May the artifact described by `manifest` be restored into `ctx.namespace`? Our agent
 * records the namespace that made a checkpoint; a restore into another one is refused
 * unless `allowCrossNamespace`, since a checkpoint holds the source worker's memory
 * (its credentials and data). An artifact that records no namespace (Dynamo's v1.0.x
 * agent writes none) cannot be checked: it is allowed, with a warning, so that
 * checkpoints made before the switch to our agent still restore. Nothing from the file
 * is quoted but a namespace name.
 */
export function restoreArtifactCheck(manifest: Record<string, unknown>, ctx: ArtifactUseContext): ArtifactUseCheck {
  const recordedId = manifest['checkpointId'];
  if (recordedId !== undefined && recordedId !== ctx.checkpointId) {
    return { refusal: `${ctx.manifestFile} records another checkpoint ID than ${ctx.checkpointId}` };
  }
  const made = manifest['namespace'];
  if (made === undefined) {
    if (ctx.allowCrossNamespace) return {};
    return {
      warning:
        `the artifact of checkpoint ${ctx.checkpointId} records no namespace (as Dynamo's v1.0.x agent writes it), ` +
        `so the agent cannot check that it was made in namespace ${ctx.namespace}; restoring it anyway`,
    };
  }
  if (typeof made !== 'string') return { refusal: `${ctx.manifestFile} records a namespace that is not a string` };
  if (made === ctx.namespace || ctx.allowCrossNamespace) return {};
  const where = quotableNamespace(made);
  return {
    refusal:
      `checkpoint ${ctx.checkpointId} was made in ${where ? `namespace ${where}` : 'another namespace'}; ` +
      `restoring it into namespace ${ctx.namespace} is refused (restore.allowCrossNamespace: true in the agent's config file allows it)`,
  };
}

/**
 * May a new checkpoint from `ctx.namespace` replace the artifact described by
 * `manifest`? Not one that another namespace made (unless `allowCrossNamespace`):
 * checkpoint IDs are not unique across namespaces, and the replacement would destroy
 * that namespace's checkpoint.
 */
export function replaceArtifactRefusal(manifest: Record<string, unknown>, ctx: ArtifactUseContext): string | undefined {
  const made = manifest['namespace'];
  if (typeof made !== 'string' || made === ctx.namespace || ctx.allowCrossNamespace) return undefined;
  const where = quotableNamespace(made);
  return (
    `checkpoint ID ${ctx.checkpointId} already names an artifact made in ${where ? `namespace ${where}` : 'another namespace'}; ` +
    `a checkpoint from namespace ${ctx.namespace} may not replace it (choose another checkpoint ID)`
  );
}
