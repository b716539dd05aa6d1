/**
 * The PVC binder: the dev cluster has no storage provisioner, so every
 * PersistentVolumeClaim is bound at once to a volume that exists only in name
 * (`pvc-<uid>`): `spec.volumeName` set, `status.phase: Bound`, capacity and access
 * modes as requested. (The checkpoint PVC's data lives in the dev cluster's storage
 * directory; see `Nodes.setVolumeResolver`.) `snapshotctl preflight` checks this phase.
 */
import type { Store } from '../store.js';
import type { KubeObject } from '../types.js';

function bind(store: Store, pvc: KubeObject): void {
  if (pvc.status?.phase === 'Bound' || pvc.metadata.deletionTimestamp) return;
  const volume = pvc.spec?.volumeName || `pvc-${pvc.metadata.uid ?? ''}`;
  const ns = pvc.metadata.namespace;
  const name = pvc.metadata.name ?? '';
  store.mutate('persistentvolumeclaims', ns, name, (p) => {
    p.spec = { ...(p.spec ?? {}), volumeName: volume };
  });
  store.mutate('persistentvolumeclaims', ns, name, (p) => {
    const storage = p.spec?.resources?.requests?.storage;
    p.status = {
      ...(p.status ?? {}),
      phase: 'Bound',
      accessModes: p.spec?.accessModes ?? ['ReadWriteOnce'],
      ...(storage ? { capacity: { storage } } : {}),
    };
  }, { subresource: 'status' });
}

/** Start the binder; returns a stop function. */
export function startPvcController(store: Store): () => void {
  let stopped = false;
  for (const pvc of store.list('persistentvolumeclaims')) bind(store, pvc);
  const unsubscribe = store.subscribe((ev) => {
    if (ev.resource.group !== '' || ev.resource.plural !== 'persistentvolumeclaims' || ev.type === 'DELETED') return;
    // Subscribers run synchronously inside the write: bind on the next turn.
    const pvc = ev.object;
    setImmediate(() => {
      if (stopped) return;
      const cur = store.get('persistentvolumeclaims', pvc.metadata.namespace, pvc.metadata.name ?? '');
      if (cur && cur.metadata.uid === pvc.metadata.uid) bind(store, cur);
    });
  });
  return () => {
    stopped = true;
    unsubscribe();
  };
}
