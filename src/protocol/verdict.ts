/** Reading the agent's verdict off a Job (§4) or a restore Pod (§5). */
import {
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_STATUS,
  CHECKPOINT_STATUS_COMPLETED,
  CHECKPOINT_STATUS_FAILED,
  RESTORE_STATUS_COMPLETED,
  RESTORE_STATUS_FAILED,
  RESTORE_STATUS_IN_PROGRESS,
} from './constants.js';
import type { Job, Pod } from './types.js';

export type Verdict =
  | { state: 'pending'; detail?: string }
  | { state: 'completed' }
  | { state: 'failed'; reason: string };

/** The checkpoint Job's verdict. A Job not found yet is still pending. */
export function jobVerdict(job: Job | undefined): Verdict {
  if (!job) return { state: 'pending', detail: 'waiting for the Job to appear' };
  const status = job.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS];
  if (status === CHECKPOINT_STATUS_COMPLETED) return { state: 'completed' };
  if (status === CHECKPOINT_STATUS_FAILED) {
    return { state: 'failed', reason: `the snapshot agent marked the checkpoint ${CHECKPOINT_STATUS_FAILED}` };
  }
  const failedCondition = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failedCondition) {
    const why = [failedCondition.reason, failedCondition.message].filter(Boolean).join(': ');
    return { state: 'failed', reason: `the Job failed${why ? `: ${why}` : ''}` };
  }
  if ((job.status?.failed ?? 0) > 0) {
    return { state: 'failed', reason: `the Job's pod failed (status.failed=${job.status?.failed})` };
  }
  return { state: 'pending' };
}

/** A restore Pod's verdict. `in_progress` is pending with a detail. */
export function restoreVerdict(pod: Pod | undefined): Verdict {
  if (!pod) return { state: 'failed', reason: 'the restore pod was deleted' };
  const status = pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS];
  if (status === RESTORE_STATUS_COMPLETED) return { state: 'completed' };
  if (status === RESTORE_STATUS_FAILED) {
    return { state: 'failed', reason: `the snapshot agent marked the restore ${RESTORE_STATUS_FAILED}` };
  }
  if (pod.status?.phase === 'Failed') {
    const why = [pod.status.reason, pod.status.message].filter(Boolean).join(': ');
    return { state: 'failed', reason: `the pod failed${why ? `: ${why}` : ''}` };
  }
  if (pod.status?.phase === 'Succeeded') {
    return { state: 'failed', reason: 'the pod exited before the restore completed' };
  }
  if (status === RESTORE_STATUS_IN_PROGRESS) return { state: 'pending', detail: 'the agent is restoring' };
  return { state: 'pending' };
}
