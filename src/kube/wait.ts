/**
 * Waiting for one object to reach a state: list, then watch from the list's
 * resourceVersion; resume a dropped stream from the last version seen; re-list on
 * `410 Gone`; poll with `get` where RBAC forbids `watch` or the watch keeps failing
 * (docs/cli.md "Behaviour a user can rely on"). Every round that gets nothing backs off, so
 * no server answer can make it spin. Ends by the condition, the timeout (after one last
 * read), a server that stopped answering, or the caller's signal.
 */
import { deadlineSignal } from './deadline.js';
import { ClusterError, Interrupted, TimeoutError } from '../errors.js';
import type { KubeObject } from '../protocol/types.js';
import { abortableSleep } from './client.js';
import { ApiError, describeObject, isApiStatus, isTransient, toClusterError } from './errors.js';
import type { KubeClient, RequestOptions, ResourceType, WatchEvent } from './types.js';

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

/** Back-off between unproductive rounds (a failed call, a 410, an empty stream): 500 ms doubling to 4 s, jittered. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 4_000;
/** Ceiling of an honoured `Retry-After`. */
const RETRY_AFTER_MAX_MS = 30_000;
/** Pause before re-opening a stream the server ended normally. */
const RESUME_DELAY_MS = 100;
/** A stream that ends sooner than this without one event was of no use. */
const SHORT_STREAM_MS = 1_000;
/** Watch attempts in a row that gave nothing, after which the wait polls with get. */
const WATCH_FAILURES_BEFORE_POLL = 3;
/** Poll interval after watch failures (`pollIntervalMs` when shorter). */
const FALLBACK_POLL_MS = 1_000;
/** While no answer comes at all, try at least this often, so a lost server is told within seconds. */
const NO_ANSWER_RETRY_MS = 1_000;
/** The server is gone after this many tries in a row without an answer, spanning at least this long. */
const LOST_TRIES = 3;
const LOST_AFTER_MS = 4_000;
/** The last look at the object before a timeout is declared. */
const FINAL_READ_MS = 1_000;

/** Thrown inside the loop to start over with a fresh list. */
class Relist extends Error {}

/**
 * Resources whose watch kept failing on a client: later waits on the same client
 * (cleanup after a timeout, say) poll at once instead of failing three times first.
 */
const failingWatches = new WeakMap<KubeClient, Set<string>>();

/**
 * Resolves with the object once `until` accepts it (with undefined when `until`
 * accepted its absence). Every loop backs off: a watch that answers `410 Gone` or an
 * error forever costs a request every few seconds, not thousands; after three failed
 * watch attempts in a row it polls with `get`. A server that stops answering (refused,
 * reset, silent) for a few tries over 4 s is a `ClusterError` naming it. Before a
 * timeout it reads the object once more. Throws `TimeoutError`, `Interrupted`, or
 * `ClusterError` for errors retrying cannot fix (401, 403 on list/get, unknown type).
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

  let result: { obj: T | undefined } | undefined;
  let settle = (): void => {};
  // Resolves the moment the object is seen as wanted: the caller goes on at once, and
  // the stream it came on is closed in the next turn of the event loop (a CLI prints
  // its verdict and exits first).
  const found = new Promise<void>((resolve) => (settle = resolve));
  const observe = (obj: T | undefined): boolean => {
    opts.onProgress?.(obj);
    if (opts.until(obj)) {
      result = { obj };
      settle();
      return true;
    }
    return false;
  };
  const release = (): void => {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  };

  const failing = failingWatches.get(client) ?? new Set<string>();
  failingWatches.set(client, failing);
  let mode: 'watch' | 'poll' = failing.has(opts.resource.plural) ? 'poll' : 'watch';
  let pollEvery = mode === 'poll' ? Math.min(pollMs, FALLBACK_POLL_MS) : pollMs;
  let resourceVersion: string | undefined; // undefined → list first
  let failures = 0; // unproductive rounds in a row, for the back-off
  let watchFailures = 0; // watch attempts in a row that delivered nothing
  // Tries in a row that got no answer at all; the first one's time.
  let silent: { since: number; tries: number; last: ApiError } | undefined;
  let probe = false; // the next round is one get: has the server come back?

  const answered = (): void => {
    silent = undefined;
  };
  const pause = async (err?: unknown): Promise<void> => {
    const d = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures, 10));
    failures++;
    let ms = Math.round(d / 2 + (random() * d) / 2);
    if (err instanceof ApiError && err.retryAfterMs !== undefined) ms = Math.max(ms, Math.min(err.retryAfterMs, RETRY_AFTER_MAX_MS));
    if (isNoAnswer(err)) ms = Math.min(ms, NO_ANSWER_RETRY_MS);
    await sleep(ms, inner.signal).catch(() => undefined);
  };
  const watchFailed = (why: string): void => {
    watchFailures++;
    if (mode !== 'watch' || watchFailures < WATCH_FAILURES_BEFORE_POLL) return;
    mode = 'poll';
    pollEvery = Math.min(pollMs, FALLBACK_POLL_MS);
    failing.add(opts.resource.plural);
    opts.onNotice?.(`watch on ${opts.resource.plural} keeps failing (${why}); polling every ${formatSeconds(pollEvery)}`);
  };

  const loop = (async (): Promise<void> => {
  try {
    while (!inner.signal.aborted) {
      let phase: 'list' | 'watch' | 'get' = 'list';
      let events = 0;
      try {
        if (mode === 'poll' || probe) {
          phase = 'get';
          const obj = await raceAbort(getOrUndefined<T>(client, opts, { signal: inner.signal, attempts: 1 }), inner.signal);
          answered();
          if (observe(obj)) break;
          if (probe) {
            probe = false; // it answers again: back to the watch, from where it was
            continue;
          }
          failures = 0;
          await sleep(pollEvery, inner.signal);
          continue;
        }
        if (resourceVersion === undefined) {
          phase = 'list';
          const list = await raceAbort(
            client.list<T>(opts.resource, opts.namespace, { fieldSelector, signal: inner.signal, attempts: 1 }),
            inner.signal,
          );
          answered();
          // The field selector narrows server-side; the name check guards fakes and proxies.
          if (observe(list.items.find((o) => o.metadata?.name === opts.name))) break;
          resourceVersion = list.resourceVersion;
        }
        phase = 'watch';
        const opened = clock();
        const stream = client.watch<T>(
          opts.resource,
          opts.namespace,
          { fieldSelector, resourceVersion, timeoutSeconds: opts.watchTimeoutSeconds ?? 300, attempts: 1 },
          inner.signal,
        );
        let done = false;
        const it = stream[Symbol.asyncIterator]();
        for (;;) {
          const next = await it.next();
          if (next.done) break;
          const ev = next.value;
          if (ev.type === 'ERROR') throw watchErrorEvent(ev, opts.resource, opts.namespace, opts.name);
          events++;
          answered();
          failures = 0;
          watchFailures = 0;
          const rv = eventResourceVersion(ev);
          if (rv) resourceVersion = rv;
          if (ev.type === 'BOOKMARK') continue;
          if (ev.object.metadata?.name !== opts.name) continue;
          if (observe(ev.type === 'DELETED' ? undefined : ev.object)) {
            done = true;
            setImmediate(() => void it.return?.(undefined));
            break;
          }
        }
        if (!done) await it.return?.(undefined);
        if (done || inner.signal.aborted) break;
        answered(); // the stream opened, so the server answered
        if (events === 0 && clock() - opened < SHORT_STREAM_MS) {
          // Ended at once and empty: reopening it at once would spin.
          watchFailed('the stream ends at once');
          await pause();
        } else {
          // The server closed the stream (its timeout, a restart): resume where we were.
          await sleep(RESUME_DELAY_MS, inner.signal);
        }
      } catch (err) {
        if (inner.signal.aborted) break;
        if (err instanceof Relist || isApiStatus(err, 410)) {
          // Our version fell out of the server's window: a fresh list gives a new one.
          answered();
          resourceVersion = undefined;
          watchFailed('410 Gone');
          await pause(err);
          continue;
        }
        if (phase === 'watch' && isApiStatus(err, 403)) {
          mode = 'poll';
          pollEvery = pollMs;
          opts.onNotice?.(`watch on ${opts.resource.plural} is forbidden; polling every ${formatSeconds(pollMs)}`);
          continue;
        }
        if (isNoAnswer(err)) {
          silent = silent ? { ...silent, tries: silent.tries + 1, last: err } : { since: clock(), tries: 1, last: err };
          if (silent.tries >= LOST_TRIES && clock() - silent.since >= LOST_AFTER_MS) throw lostServer(silent.last, what, silent.tries);
          if (phase === 'watch' && events === 0) watchFailed(err.code ?? 'no answer');
          // Twice without an answer: look at the object with get before watching again.
          if (silent.tries >= 2) probe = true;
          await pause(err);
          continue;
        }
        if (isTransient(err) || (phase === 'watch' && isStreamFailure(err))) {
          if (err instanceof ApiError && err.status > 0) answered();
          if (phase === 'watch' && events === 0) watchFailed(shortReason(err));
          await pause(err);
          continue;
        }
        throw toClusterError(err, `waiting for ${what}`);
      }
    }
  } finally {
    release();
    // Closes a watch left open by `break`, after the caller has gone on with the result.
    if (result) setImmediate(() => inner.abort());
    else inner.abort();
  }
  })();
  // Once the object was found, whatever the loop meets while it winds down is moot.
  loop.catch(() => undefined);
  await Promise.race([found, loop]);
  if (result) {
    release();
    return result.obj;
  }
  if (timedOut && !opts.signal.aborted) {
    // The verdict may have come while the watch was failing: one last look before giving up.
    const last = await finalRead(client, opts);
    if ('obj' in last && observe(last.obj)) return last.obj;
    const noAnswer = 'error' in last && isNoAnswer(last.error) ? last.error : silent?.last;
    if (noAnswer) throw lostServer(noAnswer, what, (silent?.tries ?? 0) + ('error' in last ? 1 : 0));
    throw new TimeoutError(
      `timed out after ${formatSeconds(opts.timeoutMs)} waiting for ${what}`,
      'raise --timeout, or look at the object: kubectl describe',
    );
  }
  throw new Interrupted(`interrupted while waiting for ${what}`);
}

/** One get within `FINAL_READ_MS` (or until the caller's signal): the object, or what went wrong. */
async function finalRead<T extends KubeObject>(client: KubeClient, opts: WaitForOptions<T>): Promise<{ obj: T | undefined } | { error: unknown }> {
  const signal = deadlineSignal(opts.signal, FINAL_READ_MS);
  try {
    return { obj: await raceAbort(getOrUndefined<T>(client, opts, { signal, attempts: 1, timeoutMs: FINAL_READ_MS }), signal) };
  } catch (error) {
    return { error };
  }
}

/** A try that got no answer at all: refused, reset, timed out (the server may be gone). */
function isNoAnswer(err: unknown): err is ApiError {
  return err instanceof ApiError && err.status === 0 && isTransient(err);
}

/** `the API server at URL stopped answering ...`: exit 3, naming the server. */
function lostServer(err: ApiError, what: string, tries: number): ClusterError {
  const how = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ETIMEDOUT' ? 'no answer in time' : 'connection reset';
  return new ClusterError(
    `the API server at ${err.server ?? 'the configured address'} stopped answering while waiting for ${what} (${how}, ${tries} ${tries === 1 ? 'try' : 'tries in a row'})`,
    'is the cluster running? Check it with `kubectl get --raw /readyz`, then run the command again',
    undefined,
    err.code,
  );
}

/** A few words on why a watch attempt failed, for the polling notice. */
function shortReason(err: unknown): string {
  if (err instanceof ApiError) return err.status > 0 ? `${err.status}${err.reason ? ` ${err.reason}` : ''}` : (err.code ?? err.message);
  return err instanceof Error ? err.message.slice(0, 80) : String(err);
}

/** `get`, with a missing object (404) as undefined. */
async function getOrUndefined<T extends KubeObject>(
  client: KubeClient,
  opts: WaitForOptions<T>,
  call: RequestOptions,
): Promise<T | undefined> {
  try {
    return await client.get<T>(opts.resource, opts.namespace, opts.name, call);
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
