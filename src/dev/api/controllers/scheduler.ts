/**
 * The scheduler: binds pending pods (no `spec.nodeName`, schedulerName
 * `default-scheduler`) to a fitting node, least-loaded first. When nothing fits it sets
 * `PodScheduled=False/Unschedulable` with the real scheduler's message shape and
 * records a `FailedScheduling` event; any node change retries the pending pods.
 */
import { recordEvent } from '../events.js';
import type { Store } from '../store.js';
import { nowTimestamp, type KubeObject } from '../types.js';
import { isTerminal, matchesNodeSelection, taintText, untoleratedTaint } from './nodematch.js';
import { keyOf, splitKey, WorkQueue } from './queue.js';

const COMPONENT = 'default-scheduler';

/** Extended resources (`vendor/name`, e.g. nvidia.com/gpu) requested by a pod; limits count as requests for them. */
function extendedRequests(pod: KubeObject): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pod.spec?.containers ?? []) {
    const req = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [k, v] of Object.entries(req)) if (k.includes('/') && !k.startsWith('hugepages-')) out.set(k, (out.get(k) ?? 0) + Number(v));
  }
  return out;
}

/** Why a node does not fit, as the scheduler's status message counts it. */
function misfit(pod: KubeObject, node: KubeObject, podsOnNode: KubeObject[]): string | undefined {
  if (node.spec?.unschedulable && !(pod.spec?.tolerations ?? []).some((t: any) => t.key === 'node.kubernetes.io/unschedulable')) return "node(s) were unschedulable";
  const taint = untoleratedTaint(pod, node);
  if (taint) return `node(s) had untolerated taint ${taintText(taint)}`;
  if (!matchesNodeSelection(pod, node)) return "node(s) didn't match Pod's node affinity/selector";
  for (const [k, want] of extendedRequests(pod)) {
    const used = podsOnNode.reduce((n, p) => n + (extendedRequests(p).get(k) ?? 0), 0);
    if (used + want > Number(node.status?.allocatable?.[k] ?? 0)) return `Insufficient ${k}`;
  }
  return undefined;
}

/** Start the scheduler; returns a stop function. */
export function startScheduler(store: Store): () => void {
  const queue = new WorkQueue((key) => schedule(key));
  const lastMessage = new Map<string, string>();

  const schedule = (key: string): void => {
    const [ns, name] = splitKey(key);
    const pod = store.get('pods', ns, name);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp || isTerminal(pod)) {
      lastMessage.delete(key);
      return;
    }
    if ((pod.spec?.schedulerName ?? COMPONENT) !== COMPONENT) return;
    const nodes = store.list('nodes');
    const reasons = new Map<string, number>();
    const fits: KubeObject[] = [];
    const podsOn = (n: KubeObject): KubeObject[] => store.list('pods', { fieldSelector: `spec.nodeName=${n.metadata.name}` }).filter((p) => !isTerminal(p));
    for (const n of nodes) {
      const why = misfit(pod, n, podsOn(n));
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
      else fits.push(n);
    }
    if (fits.length === 0) {
      const parts = [...reasons].sort((a, b) => a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
      const msg = `0/${nodes.length} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
      if (lastMessage.get(key) === msg) return;
      lastMessage.set(key, msg);
      store.mutate('pods', ns, name, (p) => {
        p.status ??= {};
        const conds = (p.status.conditions ?? []).filter((c: any) => c.type !== 'PodScheduled');
        conds.push({ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: nowTimestamp(), reason: 'Unschedulable', message: msg });
        p.status.conditions = conds;
      }, { subresource: 'status' });
      recordEvent(store, pod, 'Warning', 'FailedScheduling', msg, COMPONENT);
      return;
    }
    const load = (n: KubeObject): number => podsOn(n).length;
    fits.sort((a, b) => load(a) - load(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    const node = fits[0]!;
    lastMessage.delete(key);
    const bound = store.mutate('pods', ns, name, (p) => {
      p.spec.nodeName = node.metadata.name;
      p.status ??= {};
      const conds = (p.status.conditions ?? []).filter((c: any) => c.type !== 'PodScheduled');
      conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() });
      p.status.conditions = conds;
    }, { internal: true });
    if (bound) recordEvent(store, bound, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node.metadata.name}`, COMPONENT);
  };

  const unsubscribe = store.subscribe((ev) => {
    const r = ev.resource;
    if (r.group !== '') return;
    if (r.plural === 'pods' && ev.type !== 'DELETED' && !ev.object.spec?.nodeName) queue.add(keyOf(ev.object.metadata.namespace, ev.object.metadata.name));
    if (r.plural === 'nodes') {
      for (const p of store.list('pods', { fieldSelector: 'spec.nodeName=' })) queue.add(keyOf(p.metadata.namespace, p.metadata.name));
    }
  });
  return () => {
    unsubscribe();
    queue.stop();
  };
}
