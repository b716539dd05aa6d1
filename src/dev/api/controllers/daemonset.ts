/**
 * The DaemonSet controller: one pod per Ready node that the pod template fits
 * (nodeSelector, required node affinity, taints), pinned to its node with a
 * `matchFields metadata.name` affinity term like the real controller, then bound by the
 * scheduler. Failed pods are replaced; pods on nodes that no longer fit are deleted.
 */
import { createHash } from 'node:crypto';
import { recordEvent } from '../events.js';
import type { Store } from '../store.js';
import { clone, type KubeObject } from '../types.js';
import { isNodeReady, isPodReady, matchesNodeSelection, untoleratedTaint } from './nodematch.js';
import { keyOf, splitKey, WorkQueue } from './queue.js';

const COMPONENT = 'daemonset-controller';

/** Tolerations the DaemonSet controller adds to every daemon pod. */
const DS_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

function targetNode(pod: KubeObject): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms: any[] = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) for (const f of t?.matchFields ?? []) if (f.key === 'metadata.name') return f.values?.[0];
  return undefined;
}

function podFor(ds: KubeObject, node: string): KubeObject {
  const tmpl = clone(ds.spec.template ?? {});
  const spec = tmpl.spec ?? {};
  const hash = createHash('sha256').update(JSON.stringify(ds.spec.template ?? {})).digest('hex').slice(0, 10);
  spec.affinity = {
    ...(spec.affinity ?? {}),
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] } },
  };
  const tols: any[] = spec.tolerations ?? [];
  for (const t of DS_TOLERATIONS) if (!tols.some((x) => x.key === t.key && x.effect === t.effect)) tols.push({ ...t });
  spec.tolerations = tols;
  const name = ds.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(tmpl.metadata ?? {}),
      generateName: `${name}-`,
      namespace: ds.metadata.namespace,
      labels: { ...(tmpl.metadata?.labels ?? {}), 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation ?? 1) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid: ds.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
}

/** Start the DaemonSet controller; returns a stop function. */
export function startDaemonSetController(store: Store): () => void {
  const queue = new WorkQueue((key) => reconcile(key));

  const reconcile = (key: string): void => {
    const [ns, name] = splitKey(key);
    const ds = store.get('daemonsets.apps', ns, name);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const probe: KubeObject = { metadata: {}, spec: { ...(ds.spec.template?.spec ?? {}), tolerations: [...(ds.spec.template?.spec?.tolerations ?? []), ...DS_TOLERATIONS] } };
    const nodes = store.list('nodes').filter((n) => isNodeReady(n) && matchesNodeSelection(probe, n) && !untoleratedTaint(probe, n));
    const eligible = new Set(nodes.map((n) => n.metadata.name ?? ''));
    const pods = store.list('pods', { namespace: ns ?? '' }).filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.uid === ds.metadata.uid && o.controller));
    const byNode = new Map<string, KubeObject[]>();
    for (const p of pods) {
      const n = targetNode(p) ?? '';
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    for (const p of pods) {
      const n = targetNode(p) ?? '';
      const failed = p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
      if ((!eligible.has(n) || failed) && !p.metadata.deletionTimestamp) {
        try {
          store.delete('pods', ns, p.metadata.name ?? '', failed ? { gracePeriodSeconds: 0 } : {});
          recordEvent(store, ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, COMPONENT);
        } catch {
          // Already gone.
        }
      }
    }
    for (const n of eligible) {
      const live = (byNode.get(n) ?? []).filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
      if (live.length > 0) continue;
      // Wait for a terminating pod on this node to go away before replacing it.
      if ((byNode.get(n) ?? []).some((p) => p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded')) continue;
      const created = store.create('pods', podFor(ds, n));
      recordEvent(store, ds, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, COMPONENT);
    }
    const current = store.list('pods', { namespace: ns ?? '' }).filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.uid === ds.metadata.uid) && !p.metadata.deletionTimestamp && eligible.has(targetNode(p) ?? ''));
    const scheduled = current.filter((p) => p.spec?.nodeName);
    const ready = current.filter(isPodReady).length;
    store.mutate('daemonsets.apps', ns, name, (d) => {
      const desired = eligible.size;
      d.status = {
        currentNumberScheduled: new Set(scheduled.map((p) => p.spec.nodeName)).size,
        desiredNumberScheduled: desired,
        numberMisscheduled: 0,
        numberReady: ready,
        observedGeneration: d.metadata.generation ?? 1,
        updatedNumberScheduled: new Set(scheduled.map((p) => p.spec.nodeName)).size,
        ...(ready > 0 ? { numberAvailable: ready } : {}),
        ...(desired - ready > 0 ? { numberUnavailable: desired - ready } : {}),
      };
    }, { subresource: 'status' });
  };

  const all = (): void => {
    for (const d of store.list('daemonsets.apps')) queue.add(keyOf(d.metadata.namespace, d.metadata.name));
  };
  const unsubscribe = store.subscribe((ev) => {
    const r = ev.resource;
    if (r.group === 'apps' && r.plural === 'daemonsets' && ev.type !== 'DELETED') queue.add(keyOf(ev.object.metadata.namespace, ev.object.metadata.name));
    if (r.group === '' && r.plural === 'nodes') all();
    if (r.group === '' && r.plural === 'pods') {
      const owner = (ev.object.metadata.ownerReferences ?? []).find((o) => o.kind === 'DaemonSet' && o.controller);
      if (owner) queue.add(keyOf(ev.object.metadata.namespace, owner.name));
    }
  });
  return () => {
    unsubscribe();
    queue.stop();
  };
}
