/**
 * An in-memory `KubeClient` for unit tests of the agent and the commands: objects with
 * resourceVersions and uids, label/field selectors, merge patches with the
 * resourceVersion precondition, deletes with uid/resourceVersion preconditions,
 * server-side dry runs, SelfSubjectAccessReviews, and watches that replay history from a
 * version (410 once it is compacted). Every call is recorded, so a test can assert that
 * nothing was sent; hooks inject errors, drop watch streams and play controllers. Small on
 * purpose; the dev API server is the real stand-in.
 */
import { matchesFields, matchesLabels, objectKey } from './selectors.js';
import { ApiError, type Verb } from '../errors.js';
import type {
  DeleteOptions,
  KubeClient,
  ListOptions,
  ListResult,
  PatchType,
  ResourceType,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from '../types.js';
import { applyMergePatch, type MergePatch } from '../../protocol/objects.js';
import type { KubeObject } from '../../protocol/types.js';

/** One recorded call. */
export interface RecordedCall {
  verb: Verb;
  resource: string;
  namespace: string | undefined;
  name?: string;
  /** What a create or patch sent. */
  body?: unknown;
  dryRun?: boolean;
  /** The list, watch or delete options; a patch's `{ type }`. */
  options?: unknown;
}

interface HistoryEntry {
  rv: number;
  type: WatchEventType;
  resource: string;
  object: KubeObject;
}

/** An open watch stream: told of every change, or to end. */
interface Watcher {
  push(entry: HistoryEntry): void;
  end(): void;
}

type AccessAttributes = { verb: string; group: string; resource: string; namespace?: string };

/** The error the real client throws, so code under test sees the same shape. */
function apiError(verb: Verb, res: ResourceType, ns: string | undefined, name: string | undefined, status: number, reason: string, message: string): ApiError {
  return new ApiError({ verb, resource: res, namespace: ns, name, status, reason, message });
}

export class FakeKubeClient implements KubeClient {
  readonly contextNamespace: string;
  readonly contextName = 'fake';
  /** Every call, in order. */
  readonly calls: RecordedCall[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  private seq = 0;
  /** Watches from a version older than this get 410 Gone. */
  private compactedBelow = 0;
  private readonly injected: Array<{ verb: Verb; resource: string; code: number; times: number }> = [];
  /** Called after every successful write, outside the caller's stack (simulates controllers). */
  onWrite: ((verb: Verb, res: ResourceType, obj: KubeObject) => void) | undefined;
  /** Makes a call fail: return an ApiError to throw, or undefined to go ahead. */
  failWith: ((call: RecordedCall) => ApiError | undefined) | undefined;
  /**
   * Answers SelfSubjectAccessReviews as the API server does (nothing is stored):
   * `allowed` for the review's resourceAttributes. Default: everything allowed.
   */
  accessReview: (attrs: AccessAttributes) => boolean = () => true;

  constructor(contextNamespace = 'default') {
    this.contextNamespace = contextNamespace;
  }

  /** Make the next `times` calls of `verb` on `resource` (a plural) fail with `code`. */
  failNext(verb: Verb, resource: string, code: number, times = 1): void {
    this.injected.push({ verb, resource, code, times });
  }

  /** End every open watch stream (the client must resume). */
  dropWatches(): void {
    for (const w of [...this.watchers]) w.end();
  }

  /** Forget history: a watch resuming from an older version gets 410 Gone. */
  compact(): void {
    this.compactedBelow = this.rv + 1;
    this.history.length = 0;
  }

  /** Put an object in place without recording a call (test setup). */
  seed(res: ResourceType, obj: KubeObject): KubeObject {
    return this.store(res, structuredClone(obj), 'ADDED');
  }

  /** Change an object as another actor would (agent, kubelet, controller): bumps resourceVersion, notifies watchers. */
  update<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string, mutate: (obj: T) => void): T {
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw new Error(`fake: no ${res.plural} ${ns}/${name}`);
    const next = structuredClone(current) as T;
    mutate(next);
    return this.store(res, next, 'MODIFIED') as T;
  }

  /** The current object or undefined, without recording a call. */
  peek<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string): T | undefined {
    const obj = this.objects.get(objectKey(res, ns, name));
    return obj ? (structuredClone(obj) as T) : undefined;
  }

  /** Every stored object of a resource, without recording a call. */
  all<T extends KubeObject = KubeObject>(res: ResourceType): T[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${res.plural}/`)).map(([, o]) => structuredClone(o) as T);
  }

  /** Calls that would change the cluster. */
  writes(): RecordedCall[] {
    return this.calls.filter((c) => c.verb === 'create' || c.verb === 'patch' || c.verb === 'delete');
  }

  /** Stores (or, for DELETED, removes) `obj` with the next resourceVersion; returns a copy. */
  private store(res: ResourceType, obj: KubeObject, type: WatchEventType): KubeObject {
    this.rv += 1;
    obj.metadata = { ...(obj.metadata ?? {}), resourceVersion: String(this.rv) };
    if (!obj.metadata.uid) obj.metadata.uid = `uid-${++this.seq}`;
    if (!obj.metadata.creationTimestamp) obj.metadata.creationTimestamp = new Date().toISOString();
    const key = objectKey(res, obj.metadata.namespace, obj.metadata.name ?? '');
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, structuredClone(obj));
    const entry: HistoryEntry = { rv: this.rv, type, resource: res.plural, object: structuredClone(obj) };
    this.history.push(entry);
    for (const w of this.watchers) w.push(entry);
    return structuredClone(obj);
  }

  /** Records the call, then throws what failWith or failNext says it fails with. */
  private record(call: RecordedCall, res: ResourceType): void {
    this.calls.push(call);
    const err = this.failWith?.(call);
    if (err) throw err;
    const i = this.injected.findIndex((f) => f.verb === call.verb && f.resource === res.plural);
    if (i < 0) return;
    const f = this.injected[i]!;
    f.times -= 1;
    if (f.times <= 0) this.injected.splice(i, 1);
    throw apiError(call.verb, res, call.namespace, call.name, f.code, 'Injected', `injected ${f.code} for ${call.verb} ${res.plural}`);
  }

  private notFound(verb: Verb, res: ResourceType, ns: string | undefined, name: string): ApiError {
    return apiError(verb, res, ns, name, 404, 'NotFound', `${res.plural} "${name}" not found`);
  }

  private afterWrite(verb: Verb, res: ResourceType, obj: KubeObject): void {
    const hook = this.onWrite;
    if (hook) setTimeout(() => hook(verb, res, structuredClone(obj)), 5);
  }

  async get<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string): Promise<T> {
    this.record({ verb: 'get', resource: res.plural, namespace: ns, name }, res);
    const obj = this.objects.get(objectKey(res, ns, name));
    if (!obj) throw this.notFound('get', res, ns, name);
    return structuredClone(obj) as T;
  }

  async list<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.record({ verb: 'list', resource: res.plural, namespace: ns, options: opts }, res);
    const items = this.all<T>(res).filter(
      (o) => (!res.namespaced || ns === undefined || o.metadata?.namespace === ns) && matchesLabels(o, opts.labelSelector) && matchesFields(o, opts.fieldSelector),
    );
    return { items, resourceVersion: String(this.rv) };
  }

  async create<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, body: KubeObject, opts: WriteOptions = {}): Promise<T> {
    // generateName: a fixed, counting suffix keeps tests deterministic.
    const name = body.metadata?.name || (body.metadata?.generateName ? `${body.metadata.generateName}${String(++this.seq).padStart(5, '0')}` : '');
    if (!body.metadata?.name && name) body = { ...body, metadata: { ...body.metadata, name } };
    this.record({ verb: 'create', resource: res.plural, namespace: ns, name, body: structuredClone(body), dryRun: opts.dryRun === true }, res);
    if (res.plural === 'selfsubjectaccessreviews') {
      const attrs = ((body['spec'] as { resourceAttributes?: unknown } | undefined)?.resourceAttributes ?? {}) as AccessAttributes;
      return { ...structuredClone(body), status: { allowed: this.accessReview(attrs) } } as unknown as T;
    }
    if (!name) throw apiError('create', res, ns, undefined, 422, 'Invalid', 'metadata.name: Required value');
    const obj = structuredClone(body);
    obj.metadata = { ...(obj.metadata ?? {}), namespace: res.namespaced ? (ns ?? obj.metadata?.namespace ?? this.contextNamespace) : undefined };
    if (this.objects.has(objectKey(res, obj.metadata.namespace, name))) {
      throw apiError('create', res, ns, name, 409, 'AlreadyExists', `${res.plural} "${name}" already exists`);
    }
    if (opts.dryRun) return obj as T;
    const stored = this.store(res, obj, 'ADDED');
    this.afterWrite('create', res, stored);
    return stored as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts: WriteOptions = {},
  ): Promise<T> {
    this.record({ verb: 'patch', resource: res.plural, namespace: ns, name, body: structuredClone(body), dryRun: opts.dryRun === true, options: { type } }, res);
    if (type !== 'merge') throw apiError('patch', res, ns, name, 415, 'UnsupportedMediaType', `fake: only merge patches (got ${type})`);
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw this.notFound('patch', res, ns, name);
    const patch = structuredClone(body) as MergePatch;
    const patchMeta = patch['metadata'];
    if (patchMeta && typeof patchMeta === 'object' && !Array.isArray(patchMeta)) {
      const wanted = patchMeta['resourceVersion'];
      // A resourceVersion in a patch is a precondition, as on the real API server.
      if (typeof wanted === 'string' && wanted !== '' && wanted !== current.metadata?.resourceVersion) {
        throw apiError('patch', res, ns, name, 409, 'Conflict', `Operation cannot be fulfilled on ${res.plural} "${name}": the object has been modified`);
      }
      delete patchMeta['resourceVersion'];
    }
    const next = applyMergePatch(structuredClone(current), patch);
    if (opts.dryRun) return next as T;
    const stored = this.store(res, next, 'MODIFIED');
    this.afterWrite('patch', res, stored);
    return stored as T;
  }

  async delete(res: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    this.record({ verb: 'delete', resource: res.plural, namespace: ns, name, options: opts, dryRun: opts.dryRun === true }, res);
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw this.notFound('delete', res, ns, name);
    if (opts.uid && current.metadata?.uid !== opts.uid) {
      throw apiError('delete', res, ns, name, 409, 'Conflict', `Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${current.metadata?.uid}`);
    }
    if (opts.resourceVersion && current.metadata?.resourceVersion !== opts.resourceVersion) {
      throw apiError('delete', res, ns, name, 409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${opts.resourceVersion}, ResourceVersion in object meta: ${current.metadata?.resourceVersion}`);
    }
    if (opts.dryRun) return;
    this.store(res, structuredClone(current), 'DELETED');
  }

  async *watch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    opts: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent<T>> {
    this.record({ verb: 'watch', resource: res.plural, namespace: ns, options: { ...opts } }, res);
    const from = Number(opts.resourceVersion ?? this.rv);
    if (from + 1 < this.compactedBelow) {
      yield { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } as unknown as T };
      return;
    }
    const queue: HistoryEntry[] = this.history.filter((e) => e.rv > from);
    let wake: (() => void) | undefined;
    let ended = false;
    const watcher: Watcher = {
      push(entry) {
        queue.push(entry);
        wake?.();
      },
      end() {
        ended = true;
        wake?.();
      },
    };
    const onAbort = () => watcher.end();
    signal.addEventListener('abort', onAbort, { once: true });
    this.watchers.add(watcher);
    try {
      while (!signal.aborted) {
        const entry = queue.shift();
        if (entry) {
          const o = entry.object;
          if (entry.resource !== res.plural) continue;
          if (res.namespaced && ns !== undefined && o.metadata?.namespace !== ns) continue;
          if (!matchesLabels(o, opts.labelSelector) || !matchesFields(o, opts.fieldSelector)) continue;
          yield { type: entry.type, object: structuredClone(o) as T };
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(watcher);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
