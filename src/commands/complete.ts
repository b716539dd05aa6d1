/**
 * Cluster look-ups for shell completion (the hidden `__complete` command): checkpoint
 * IDs and pod names. Best effort: any error yields no candidates, never a message.
 */
import { RESOURCES } from '../kube/types.js';
import {
  AGENT_DAEMONSET_SELECTORS,
  ANNOTATION_RESTORE_STATUS,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_JOB_NAME,
  LABEL_JOB_NAME_LEGACY,
  LABEL_TRUE,
  RESTORE_STATUS_IN_PROGRESS,
  type Pod,
} from '../protocol/index.js';
import { buildCatalogue, collectCatalogue } from './catalogue.js';
import type { CommandDeps, KubeTarget } from './context.js';
import { HELPER_LABELS } from './helper-pod.js';

export type CompletionSource = 'checkpoint-ids' | 'pods' | 'namespaces';

/** Owner kinds whose pods are never placeholders: agents and installers (DaemonSet), checkpoint and other Jobs. */
const NOT_PLACEHOLDER_OWNERS = new Set(['DaemonSet', 'Job']);

/**
 * True when `pod` is one `restore --pod` could restore into: running and not being
 * deleted, and none of the pods this project or its agent runs: a snapshot agent (or any
 * DaemonSet pod, like the seccomp installer), a checkpoint Job's pod (or any Job's), our
 * helper pods, or a pod the agent is restoring into right now. Pure.
 */
export function isPlaceholderCandidate(pod: Pod): boolean {
  const labels = pod.metadata.labels ?? {};
  if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) return false;
  if ((pod.metadata.ownerReferences ?? []).some((o) => NOT_PLACEHOLDER_OWNERS.has(o.kind))) return false;
  if (AGENT_DAEMONSET_SELECTORS.some((s) => labels[s.slice(0, s.indexOf('='))] === s.slice(s.indexOf('=') + 1))) return false;
  if (labels[LABEL_IS_CHECKPOINT_SOURCE] === LABEL_TRUE || labels[LABEL_JOB_NAME] !== undefined || labels[LABEL_JOB_NAME_LEGACY] !== undefined) return false;
  if (Object.entries(HELPER_LABELS).every(([k, v]) => labels[k] === v)) return false;
  return pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] !== RESTORE_STATUS_IN_PROGRESS;
}

/** Names of `source` in `namespace`, sorted; [] on any error. Pods: placeholder candidates only. */
export async function lookupCandidates(source: CompletionSource, target: KubeTarget & { namespace?: string }, deps: CommandDeps): Promise<string[]> {
  try {
    const client = await deps.kube(target, deps.logger);
    const ns = target.namespace ?? client.contextNamespace;
    const signal = AbortSignal.timeout(5000);
    if (source === 'checkpoint-ids') return buildCatalogue(await collectCatalogue(client, ns, undefined, signal)).map((e) => e.id).sort();
    if (source === 'namespaces') return (await client.list(RESOURCES.namespaces, undefined, { signal })).items.map((n) => n.metadata?.name ?? '').sort();
    const pods = (await client.list<Pod>(RESOURCES.pods, ns, { signal })).items;
    return pods.filter(isPlaceholderCandidate).map((p) => p.metadata.name ?? '').sort();
  } catch {
    return [];
  }
}
