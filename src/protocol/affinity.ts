/** Placement on nodes where a snapshot agent runs (§11, our extension). */
import { NODE_HOSTNAME_LABEL } from './constants.js';
import type { NodeSelectorTerm, Pod, PodSpec } from './types.js';
import { clone } from './objects.js';

/** True when the agent pod is Running and Ready. */
export function isPodReady(pod: Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
    !pod.metadata.deletionTimestamp
  );
}

/** Sorted, unique node names of Ready agent pods. */
export function readyAgentNodes(agentPods: Pod[]): string[] {
  const nodes = new Set<string>();
  for (const pod of agentPods) if (isPodReady(pod) && pod.spec.nodeName) nodes.add(pod.spec.nodeName);
  return [...nodes].sort();
}

/**
 * A copy of `spec` that may only be scheduled on `nodes`: a required node-affinity
 * requirement on `kubernetes.io/hostname`, ANDed into every existing term (terms are
 * ORed by the scheduler, so each must carry it), or one new term.
 */
export function withAgentAffinity(spec: PodSpec, nodes: string[]): PodSpec {
  const out = clone(spec);
  const requirement = { key: NODE_HOSTNAME_LABEL, operator: 'In', values: [...nodes] };
  const affinity = out.affinity ?? {};
  const nodeAffinity = affinity.nodeAffinity ?? {};
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  const terms: NodeSelectorTerm[] = required?.nodeSelectorTerms?.length ? required.nodeSelectorTerms : [{}];
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
    ...(required ?? {}),
    nodeSelectorTerms: terms.map((t) => ({ ...t, matchExpressions: [...(t.matchExpressions ?? []), requirement] })),
  };
  affinity.nodeAffinity = nodeAffinity;
  out.affinity = affinity;
  return out;
}
