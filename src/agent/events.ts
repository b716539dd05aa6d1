/**
 * Core v1 Events the agent records on the Job (checkpoint) or the Pod (restore), the
 * way client-go's event recorder writes them, so `kubectl describe` shows them.
 */
import { AGENT_EVENT_COMPONENT } from '../protocol/constants.js';
import type { KubeObject } from '../protocol/types.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { errorText, kubeTime } from './util.js';

export type EventType = 'Normal' | 'Warning';

/** Records events; never throws (an event is a courtesy, not part of the verdict). */
export type EventRecorder = (object: KubeObject, type: EventType, reason: string, message: string) => Promise<void>;

export interface EventRecorderOptions {
  client: KubeClient;
  /** `source.host`: the agent's node. */
  nodeName: string;
  now: () => number;
  log: (message: string) => void;
}

/** An event recorder writing through `client`. */
export function createEventRecorder(opts: EventRecorderOptions): EventRecorder {
  let seq = 0;
  return async (object, type, reason, message) => {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace ?? 'default';
    const ms = opts.now();
    // Unique like client-go's `<name>.<hex timestamp>`; the sequence keeps two events
    // in the same millisecond apart.
    const suffix = (BigInt(ms) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16);
    const time = kubeTime(ms);
    const involved: Record<string, string> = {
      apiVersion: object.apiVersion ?? 'v1',
      kind: object.kind ?? '',
      name: meta.name ?? '',
      namespace,
    };
    if (meta.uid) involved['uid'] = meta.uid;
    if (meta.resourceVersion) involved['resourceVersion'] = meta.resourceVersion;
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${meta.name ?? 'object'}.${suffix}`, namespace },
      involvedObject: involved,
      reason,
      message,
      type,
      source: { component: AGENT_EVENT_COMPONENT, host: opts.nodeName },
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      reportingComponent: AGENT_EVENT_COMPONENT,
      reportingInstance: `${AGENT_EVENT_COMPONENT}-${opts.nodeName}`,
    };
    try {
      await opts.client.create(RESOURCES.events, namespace, event);
    } catch (err) {
      opts.log(`could not record event ${reason} on ${involved['kind']} ${namespace}/${involved['name']}: ${errorText(err)}`);
    }
  };
}
