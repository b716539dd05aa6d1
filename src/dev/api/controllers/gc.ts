/**
 * Garbage collector and namespace controller.
 * - Background: when an owner is gone, dependents whose owners are all gone are deleted.
 * - Foreground: an owner with `deletionTimestamp` and the `foregroundDeletion` finalizer
 *   has its dependents deleted; once none is left the finalizer is removed and the
 *   store removes the owner (watchers see MODIFIED, then DELETED).
 * - Namespaces being deleted are emptied, then removed.
 */
import type { ResourceInfo } from '../resources.js';
import type { Store } from '../store.js';
import type { KubeObject } from '../types.js';
import { WorkQueue } from './queue.js';

/** Start the GC; returns a stop function. */
export function startGarbageCollector(store: Store): () => void {
  // Keys: `uid:<uid>` (an owner went away), `fg:<resource>|<ns>|<name>` (foreground owner), `ns:<name>`.
  const owners = new Map<string, { res: ResourceInfo; obj: KubeObject }>();
  const queue = new WorkQueue((key) => {
    if (key.startsWith('uid:')) collectOrphans(key.slice(4));
    else if (key.startsWith('fg:')) foreground(key.slice(3));
    else if (key.startsWith('ns:')) namespace(key.slice(3));
  });

  const del = (res: ResourceInfo, o: KubeObject, policy?: 'Background' | 'Foreground'): void => {
    if (o.metadata.deletionTimestamp) return;
    try {
      store.delete(res, o.metadata.namespace, o.metadata.name ?? '', policy ? { propagationPolicy: policy } : { propagationPolicy: 'Background' });
    } catch {
      // Gone already.
    }
  };

  const collectOrphans = (uid: string): void => {
    for (const { res, obj } of store.dependentsOf(uid)) {
      const refs = obj.metadata.ownerReferences ?? [];
      const alive = refs.filter((r) => r.uid !== uid && store.existsUid(r.uid, r.apiVersion, r.kind));
      if (alive.length === 0) del(res, obj);
      else store.mutate(res, obj.metadata.namespace, obj.metadata.name ?? '', (x) => (x.metadata.ownerReferences = (x.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid)), { internal: true });
    }
  };

  const foreground = (key: string): void => {
    const entry = owners.get(key);
    if (!entry) return;
    const cur = store.get(entry.res, entry.obj.metadata.namespace, entry.obj.metadata.name ?? '');
    if (!cur || cur.metadata.uid !== entry.obj.metadata.uid || !(cur.metadata.finalizers ?? []).includes('foregroundDeletion')) {
      owners.delete(key);
      return;
    }
    const deps = store.dependentsOf(cur.metadata.uid ?? '');
    for (const d of deps) del(d.res, d.obj, 'Foreground');
    if (deps.length === 0) {
      owners.delete(key);
      store.mutate(entry.res, cur.metadata.namespace, cur.metadata.name ?? '', (x) => (x.metadata.finalizers = (x.metadata.finalizers ?? []).filter((f) => f !== 'foregroundDeletion')), { internal: true });
    }
  };

  const nsSeen = new Map<string, number>();
  const NS_DELAY_MS = 500;
  const namespace = (name: string): void => {
    const ns = store.get('namespaces', undefined, name);
    if (!ns || !ns.metadata.deletionTimestamp) {
      nsSeen.delete(name);
      return;
    }
    const first = nsSeen.get(name) ?? Date.now();
    nsSeen.set(name, first);
    if (Date.now() - first < NS_DELAY_MS) {
      queue.addAfter(`ns:${name}`, NS_DELAY_MS - (Date.now() - first));
      return;
    }
    const contents = store.contentsOf(name);
    for (const { res, obj } of contents) {
      if (obj.metadata.deletionTimestamp) {
        // Finalizers of kinds nobody handles here would block forever; drop them like a
        // namespace deletion in a cluster without those controllers eventually must.
        if ((obj.metadata.finalizers ?? []).length > 0 && !(obj.metadata.finalizers ?? []).includes('foregroundDeletion')) {
          store.mutate(res, obj.metadata.namespace, obj.metadata.name ?? '', (x) => (x.metadata.finalizers = []), { internal: true });
        }
        continue;
      }
      del(res, obj);
    }
    if (store.contentsOf(name).length === 0) {
      nsSeen.delete(name);
      store.finalizeNamespace(name);
    }
  };

  const unsubscribe = store.subscribe((ev) => {
    const o = ev.object;
    if (ev.type === 'DELETED') {
      queue.add(`uid:${o.metadata.uid ?? ''}`);
      // A dependent went away: its foreground owners may now be done.
      for (const r of o.metadata.ownerReferences ?? []) for (const [k, v] of owners) if (v.obj.metadata.uid === r.uid) queue.add(`fg:${k}`);
      if (o.metadata.namespace) {
        const ns = store.get('namespaces', undefined, o.metadata.namespace);
        if (ns?.metadata.deletionTimestamp) queue.add(`ns:${o.metadata.namespace}`);
      }
      return;
    }
    if (o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).includes('foregroundDeletion')) {
      const k = `${ev.resource.group}/${ev.resource.plural}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;
      owners.set(k, { res: ev.resource, obj: o });
      queue.add(`fg:${k}`);
    }
    // The real namespace controller takes a moment before it empties a namespace; the
    // delay keeps `kubectl delete -f dir` (namespace first) from racing into NotFound.
    if (ev.resource.group === '' && ev.resource.plural === 'namespaces' && o.metadata.deletionTimestamp && !ev.oldObject?.metadata.deletionTimestamp) queue.add(`ns:${o.metadata.name}`);
  });
  return () => {
    unsubscribe();
    queue.stop();
  };
}
