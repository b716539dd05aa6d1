/**
 * Waiting for one object to reach a state: list, then watch from the list's
 * resourceVersion; resume a dropped stream from the last version seen; re-list on
 * `410 Gone`; poll with `get` where RBAC forbids `watch` (cli.md "Behaviour a user can
 * rely on"). Ends by the condition, the timeout or the caller's signal.
 */
import { Interrupted, TimeoutError } from '../errors.js';
import type { KubeObject } from '../protocol/types.js';
import { abortableSleep } from './client.js';
import { ApiError, describeObject, isApiStatus, isTransient, toClusterError } from './errors.js';
import type { KubeClient, ResourceType, WatchEvent } from './types.js';

export interface WaitForOptions<T> {
  resource: ResourceType;
  namespace: string;
  name: string;
  /**
   * True to stop waiting (the wait resolves with the object). Called with undefined
   * when the object does not exist (yet) or was deleted.
   */
  until: (obj: T | undefined) => boolean;
  /** Abort → `Interrupted`. */
  signal: AbortSignal;
  /** → `TimeoutError` naming what was awaited. */
  timeoutMs: number;
  /** `get` interval when watch is forbidden; default 2000. */
  pollIntervalMs?: number;
  /** Every observed state (the spinner's phase text). */
  onProgress?: (obj: T | undefined) => void;
  /** Once-per-wait notices, e.g. "watch is forbidden; polling every 2s". */
  onNotice?: (msg: string) => void;
  /** What is awaited, for the timeout message; default the object, kubectl-style. */
  description?: string;
  /** Server-side lifetime of one watch stream, seconds; default 300. */
  watchTimeoutSeconds?: number;
  /** Injectable for tests: waits `ms`, rejects on abort. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Injectable for tests: uniform in [0, 1). */
  random?: () => number;
  /** Injectable for tests: milliseconds now. */
  clock?: () => number;
}

/** Back-off between failed attempts: 500 ms doubling to 10 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;
/** Pause before re-opening a stream the server ended normally. */
const RESUME_DELAY_MS = 100;

/** Thrown inside the loop to start over with a fresh list. */
class Relist extends Error {}

/**
 * Resolves with the object once `until` accepts it (with undefined when `until`
 * accepted its absence). Throws `TimeoutError`, `Interrupted`, or `ClusterError` for
 * errors retrying cannot fix (401, 403 on list/get, unknown resource type).
 */
export async function waitForObject<T extends KubeObject = KubeObject>(client: KubeClient, opts: WaitForOptions<T>): Promise<T | undefined> {
  const sleep = opts.sleep ?? abortableSleep;
  const random = opts.random ?? Math.random;
  const clock = opts.clock ?? Date.now;
  const pollMs = opts.pollIntervalMs ?? 2000;
  const what = opts.description ?? describeObject(opts.resource, opts.namespace, opts.name);
  const fieldSelector = `metadata.name=${opts.name}`;

  // One internal signal ends every request, stream and sleep, whichever way the wait ends.
  const inner = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    inner.abort();
  }, opts.timeoutMs);
  const onAbort = (): void => inner.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal.aborted) inner.abort();
  const started = clock();

  let result: { obj: T | undefined } | undefined;
  const observe = (obj: T | undefined): boolean => {
    opts.onProgress?.(obj);
    if (opts.until(obj)) {
      result = { obj };
      return true;
    }
    return false;
  };

  let mode: 'watch' | 'poll' = 'watch';
  let resourceVersion: string | undefined; // undefined → list first
  let failures = 0;
  const backoff = (): number => {
    const d = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures, 10));
    failures++;
    return Math.round(d / 2 + (random() * d) / 2);
  };

  try {
    while (!inner.signal.aborted) {
      let phase: 'list' | 'watch' | 'get' = 'list';
      try {
        if (mode === 'poll') {
          phase = 'get';
          const obj = await raceAbort(getOrUndefined<T>(client, opts, inner.signal), inner.signal);
          failures = 0;
          if (observe(obj)) break;
          await sleep(pollMs, inner.signal);
          continue;
        }
        if (resourceVersion === undefined) {
          phase = 'list';
          const list = await raceAbort(
            client.list<T>(opts.resource, opts.namespace, { fieldSelector, signal: inner.signal }),
            inner.signal,
          );
          failures = 0;
          // The field selector narrows server-side; the name check guards fakes and proxies.
          if (observe(list.items.find((o) => o.metadata?.name === opts.name))) break;
          resourceVersion = list.resourceVersion;
        }
        phase = 'watch';
        const stream = client.watch<T>(
          opts.resource,
          opts.namespace,
          { fieldSelector, resourceVersion, timeoutSeconds: opts.watchTimeoutSeconds ?? 300 },
          inner.signal,
        );
        let done = false;
        for await (const ev of stream) {
          failures = 0;
          const rv = eventResourceVersion(ev);
          if (ev.type === 'ERROR') throw watchErrorEvent(ev, opts.resource, opts.namespace, opts.name);
          if (rv) resourceVersion = rv;
          if (ev.type === 'BOOKMARK') continue;
          if (ev.object.metadata?.name !== opts.name) continue;
          if (observe(ev.type === 'DELETED' ? undefined : ev.object)) {
            done = true;
            break;
          }
        }
        if (done) break;
        // The server closed the stream (its timeout, a restart): resume where we were.
        if (!inner.signal.aborted) await sleep(RESUME_DELAY_MS, inner.signal);
      } catch (err) {
        if (inner.signal.aborted) break;
        if (err instanceof Relist || isApiStatus(err, 410)) {
          // Our version fell out of the server's window: a fresh list gives a new one.
          resourceVersion = undefined;
          continue;
        }
        if (phase === 'watch' && isApiStatus(err, 403)) {
          mode = 'poll';
          opts.onNotice?.(`watch on ${opts.resource.plural} is forbidden; polling every ${formatSeconds(pollMs)}`);
          continue;
        }
        if (isTransient(err) || (phase === 'watch' && isStreamFailure(err))) {
          await sleep(backoff(), inner.signal).catch(() => undefined);
          continue;
        }
        throw toClusterError(err, `waiting for ${what}`);
      }
    }
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
    inner.abort(); // closes a watch left open by `break`
  }

  if (result) return result.obj;
  if (timedOut && !opts.signal.aborted) {
    throw new TimeoutError(
      `timed out after ${formatSeconds(opts.timeoutMs)} waiting for ${what}`,
      'raise --timeout, or look at the object: kubectl describe',
    );
  }
  throw new Interrupted(`interrupted while waiting for ${what}`);
}

/** `get`, with a missing object (404) as undefined. */
async function getOrUndefined<T extends KubeObject>(
  client: KubeClient,
  opts: WaitForOptions<T>,
  signal: AbortSignal,
): Promise<T | undefined> {
  try {
    return await client.get<T>(opts.resource, opts.namespace, opts.name, { signal });
  } catch (err) {
    if (isApiStatus(err, 404)) return undefined;
    throw err;
  }
}

function eventResourceVersion(ev: WatchEvent<KubeObject>): string | undefined {
  const rv = ev.object.metadata?.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** An ERROR event carries a Status; 410 means re-list, anything else is an ApiError. */
function watchErrorEvent(ev: WatchEvent<KubeObject>, resource: ResourceType, namespace: string, name: string): Error {
  const s = ev.object as { code?: unknown; reason?: unknown; message?: unknown };
  const code = typeof s.code === 'number' ? s.code : 500;
  if (code === 410) return new Relist();
  return new ApiError({
    verb: 'watch',
    resource,
    namespace,
    name,
    status: code,
    reason: typeof s.reason === 'string' ? s.reason : undefined,
    message: typeof s.message === 'string' ? s.message : 'watch error event',
  });
}

/** Malformed lines and the like: the stream is unusable, a new one may be fine. */
function isStreamFailure(err: unknown): boolean {
  return !(err instanceof ApiError) || err.status === 0;
}

/** Rejects as soon as `signal` aborts, for fakes that ignore the signal. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** `2s`, `1.5s`, `5m0s`: Go-style, as our flags are written. */
function formatSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}
