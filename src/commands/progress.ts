/** Human phase text from what the cluster shows, for the spinner (pure). */
import type { Pod } from '../protocol/index.js';

/** One line saying where a pod is on its way to Ready. */
export function describePodProgress(pod: Pod, waitingFor: string): string {
  const name = pod.metadata.name ?? 'pod';
  const node = pod.spec.nodeName;
  const phase = pod.status?.phase ?? 'Pending';
  if (!node) {
    const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return sched?.message ? `pod ${name} is not scheduled yet: ${sched.message}` : `waiting for pod ${name} to be scheduled`;
  }
  if (phase === 'Pending') {
    const waiting = (pod.status?.containerStatuses ?? [])
      .map((c) => (c['state'] as { waiting?: { reason?: string } } | undefined)?.waiting?.reason)
      .find(Boolean);
    return `pod ${name} is starting on node ${node}${waiting ? ` (${waiting})` : ''}`;
  }
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (phase === 'Running' && !ready) return `waiting for pod ${name} to become Ready on node ${node}`;
  if (phase === 'Running') return `pod ${name} is Ready on node ${node}; ${waitingFor}`;
  return `pod ${name} is ${phase} on node ${node}`;
}
