/**
 * Cluster look-ups for shell completion (the hidden `__complete` command): checkpoint
 * IDs and pod names. Best effort: any error yields no candidates, never a message.
 */
import { RESOURCES } from '../kube/types.js';
import type { Pod } from '../protocol/index.js';
import { buildCatalogue, collectCatalogue } from './catalogue.js';
import type { CommandDeps, KubeTarget } from './context.js';

export type CompletionSource = 'checkpoint-ids' | 'pods' | 'namespaces';

/** Names of `source` in `namespace`, sorted; [] on any error. */
export async function lookupCandidates(source: CompletionSource, target: KubeTarget & { namespace?: string }, deps: CommandDeps): Promise<string[]> {
  try {
    const client = await deps.kube(target, deps.logger);
    const ns = target.namespace ?? client.contextNamespace;
    const signal = AbortSignal.timeout(5000);
    if (source === 'checkpoint-ids') return buildCatalogue(await collectCatalogue(client, ns, undefined, signal)).map((e) => e.id).sort();
    if (source === 'namespaces') return (await client.list(RESOURCES.namespaces, undefined, { signal })).items.map((n) => n.metadata?.name ?? '').sort();
    return (await client.list<Pod>(RESOURCES.pods, ns, { signal })).items.map((p) => p.metadata.name ?? '').sort();
  } catch {
    return [];
  }
}
