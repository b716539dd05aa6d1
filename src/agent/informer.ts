/**
 * List-then-watch loop, the core of a client-go informer, over our `KubeClient`:
 * list, watch from the list's resourceVersion, resume from the last seen version when
 * a stream ends, re-list on `410 Gone`, back off on other errors. Runs until aborted.
 *
 * A 410 right after a fresh list (a server whose history is shorter than one list
 * round trip, or one that answers every watch with 410) would otherwise re-list in a
 * loop that never yields to timers; the first 410 re-lists at once, as client-go does,
 * and each further one in a row waits twice as long as the last, up to `maxBackoffMs`.
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
  /** Wait after a failed list or watch, ms; also the first wait after repeated 410s. */
  backoffMs?: number;
  /** Longest wait between re-lists after repeated 410s, ms (default 30 s, or `backoffMs` if larger). */
  maxBackoffMs?: number;
}

/** Wait before the re-list after the `n`th 410 in a row (n >= 1): none for the first. */
export function goneBackoffMs(n: number, backoffMs: number, maxBackoffMs: number): number {
  if (n <= 1) return 0;
  return Math.min(backoffMs * 2 ** Math.min(n - 2, 30), maxBackoffMs);
}

/** Run until `signal` aborts. Never throws. */
export async function runInformer<T extends KubeObject>(opts: InformerOptions<T>): Promise<void> {
  const { client, resource, namespace, signal } = opts;
  const backoffMs = opts.backoffMs ?? 1000;
  const maxBackoffMs = Math.max(opts.maxBackoffMs ?? 30_000, backoffMs);
  const selectors = {
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
  };
  let resourceVersion: string | undefined;
  /** 410s since a watch last delivered an event. */
  let gone = 0;
  const relistAfterGone = async (): Promise<void> => {
    resourceVersion = undefined; // too old: start over from a fresh list
    gone += 1;
    const wait = goneBackoffMs(gone, backoffMs, maxBackoffMs);
    if (wait > 0) {
      if (gone === 2) opts.log(`watch ${resource.plural}: 410 Gone again right after a fresh list; backing off (${wait} ms, doubling)`);
      await sleep(wait, signal);
    }
  };
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
            await relistAfterGone();
          } else {
            opts.log(`watch ${resource.plural}: error event ${status.code ?? '?'} ${status.message ?? ''}`);
            resourceVersion = undefined;
            await sleep(backoffMs, signal);
          }
          break;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        gone = 0;
        if (event.type === 'BOOKMARK') continue;
        opts.onEvent(event.type, event.object);
      }
      // A stream that ends normally resumes from the last version seen; one that ends
      // at once, again and again, must not spin.
      if (seen === 0) await sleep(Math.min(backoffMs, 100), signal);
    } catch (err) {
      if (signal.aborted) return;
      if (apiStatus(err) === 410) {
        await relistAfterGone();
        continue;
      }
      opts.log(`watch ${resource.plural}: ${errorText(err)}; retrying in ${backoffMs} ms`);
      await sleep(backoffMs, signal);
    }
  }
}
