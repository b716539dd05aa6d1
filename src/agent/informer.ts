/**
 * List-then-watch loop, the core of a client-go informer, over our `KubeClient`:
 * list, watch from the list's resourceVersion, resume from the last seen version when
 * a stream ends, re-list on `410 Gone`, back off on other errors. Runs until aborted.
 */
import type { KubeObject } from '../protocol/types.js';
import type { KubeClient, ResourceType, WatchEventType } from '../kube/types.js';
import { apiStatus, errorText, sleep } from './util.js';

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  resource: ResourceType;
  /** Undefined: all namespaces. */
  namespace: string | undefined;
  labelSelector?: string;
  fieldSelector?: string;
  signal: AbortSignal;
  /** After each (re-)list: the complete current set. */
  onList(items: T[]): void;
  /** Each ADDED / MODIFIED / DELETED event. */
  onEvent(type: Exclude<WatchEventType, 'BOOKMARK' | 'ERROR'>, object: T): void;
  log: (message: string) => void;
  /** Wait after a failed list or watch, ms. */
  backoffMs?: number;
}

/** Run until `signal` aborts. Never throws. */
export async function runInformer<T extends KubeObject>(opts: InformerOptions<T>): Promise<void> {
  const { client, resource, namespace, signal } = opts;
  const backoffMs = opts.backoffMs ?? 1000;
  const selectors = {
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
  };
  let resourceVersion: string | undefined;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const list = await client.list<T>(resource, namespace, { ...selectors });
        if (signal.aborted) return;
        resourceVersion = list.resourceVersion;
        opts.onList(list.items);
      }
      const stream = client.watch<T>(resource, namespace, { ...selectors, resourceVersion }, signal);
      let seen = 0;
      for await (const event of stream) {
        seen += 1;
        if (event.type === 'ERROR') {
          const status = event.object as unknown as { code?: number; message?: string };
          if (status.code === 410) {
            resourceVersion = undefined; // too old: start over from a fresh list
          } else {
            opts.log(`watch ${resource.plural}: error event ${status.code ?? '?'} ${status.message ?? ''}`);
            resourceVersion = undefined;
            await sleep(backoffMs, signal);
          }
          break;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        if (event.type === 'BOOKMARK') continue;
        opts.onEvent(event.type, event.object);
      }
      // A stream that ends normally resumes from the last version seen; one that ends
      // at once, again and again, must not spin.
      if (seen === 0) await sleep(Math.min(backoffMs, 100), signal);
    } catch (err) {
      if (signal.aborted) return;
      if (apiStatus(err) === 410) {
        resourceVersion = undefined;
        continue;
      }
      opts.log(`watch ${resource.plural}: ${errorText(err)}; retrying in ${backoffMs} ms`);
      await sleep(backoffMs, signal);
    }
  }
}
