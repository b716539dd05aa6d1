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
