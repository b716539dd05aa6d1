/**
 * Recording core/v1 Events the way client-go's event recorder does: one object per
 * (object, reason, message), its `count` and `lastTimestamp` bumped on repeats.
 */
import { randomBytes } from 'node:crypto';
import { apiVersionOf } from './resources.js';
import type { Store } from './store.js';
import { nowTimestamp, type KubeObject } from './types.js';

/** Record an event about `obj` (Normal or Warning) from `component`. Never throws. */
export function recordEvent(store: Store, obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): void {
  try {
    const ns = obj.metadata.namespace ?? 'default';
    const existing = store.list('events', { namespace: ns, fieldSelector: `involvedObject.uid=${obj.metadata.uid ?? ''},reason=${reason}` }).find((e) => e['message'] === message);
    const now = nowTimestamp();
    if (existing) {
      store.mutate('events', ns, existing.metadata.name ?? '', (e) => {
        e['count'] = Number(e['count'] ?? 1) + 1;
        e['lastTimestamp'] = now;
      });
      return;
    }
    const res = store.registry.byKind(obj.apiVersion ?? 'v1', obj.kind ?? '');
    store.create('events', {
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        apiVersion: res ? apiVersionOf(res) : obj.apiVersion,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: '',
    });
  } catch {
    // Events are best effort, as in client-go.
  }
}
