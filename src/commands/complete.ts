/**
 * Cluster look-ups for shell completion (the hidden `__complete` command): checkpoint
 * IDs and pod names. Best effort: any error yields no candidates, never a message.
 */
import { RESOURCES } from '../kube/types.js';
import { checkRestoreInPlace, type CheckpointStorage, type Pod } from '../protocol/index.js';
import { buildCatalogue, collectCatalogue } from './catalogue.js';
import { findStorage } from './cluster.js';
import type { CommandDeps, KubeTarget } from './context.js';

export type CompletionSource = 'checkpoint-ids' | 'pods' | 'namespaces';

/**
 * True when `restore --pod` would take `pod` with the agent's checkpoint storage: it is
 * running and meets every precondition restore checks before it patches
 * (`checkRestoreInPlace`, the one predicate). Agents, installers, checkpoint Job pods
 * and ordinary app pods fail it (no checkpoint volume, no seccomp profile). Pure.
 */
export function isRestoreInPlaceCandidate(pod: Pod, storage: CheckpointStorage): boolean {
  return pod.status?.phase === 'Running' && checkRestoreInPlace(pod, storage).length === 0;
}

/** Names of `source` in `namespace`, sorted; [] on any error. Pods: only those `restore --pod` would take. */
export async function lookupCandidates(source: CompletionSource, target: KubeTarget & { namespace?: string }, deps: CommandDeps): Promise<string[]> {
  try {
    const client = await deps.kube(target, deps.logger);
    const ns = target.namespace ?? client.contextNamespace;
    const signal = AbortSignal.timeout(5000);
    if (source === 'checkpoint-ids') return buildCatalogue(await collectCatalogue(client, ns, undefined, signal)).map((e) => e.id).sort();
    if (source === 'namespaces') return (await client.list(RESOURCES.namespaces, undefined, { signal })).items.map((n) => n.metadata?.name ?? '').sort();
    // Storage as restore finds it (the agent DaemonSet); without it restore would refuse, so nothing is offered.
    const [{ storage }, pods] = await Promise.all([findStorage(client, ns, signal), client.list<Pod>(RESOURCES.pods, ns, { signal })]);
    return pods.items.filter((p) => isRestoreInPlaceCandidate(p, storage)).map((p) => p.metadata.name ?? '').sort();
  } catch {
    return [];
  }
}
