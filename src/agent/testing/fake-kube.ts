/**
 * An in-memory `KubeClient` for unit tests: objects with resourceVersions, merge
 * patches with the resourceVersion precondition, label/field selectors, and watches
 * that resume from a version (410 once history is compacted), plus hooks to drop
 * streams and inject errors. Small on purpose; the dev API server is the real stand-in.
 */
import { matchesFields, matchesLabels, objectKey } from '../../kube/testing/selectors.js';
import { randomUUID } from 'node:crypto';
import { applyMergePatch, type MergePatch } from '../../protocol/objects.js';
import type { KubeObject } from '../../protocol/types.js';
import { ApiError, type Verb } from '../../kube/errors.js';
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
} from '../../kube/types.js';

/** The error the real client throws, so code under test sees the same shape. */
function apiError(verb: Verb, res: ResourceType, status: number, reason: string, message: string, name?: string): ApiError {
  return new ApiError({ verb, resource: res, status, reason, message, name });
}

/** One recorded call. */
export interface FakeCall {
  verb: Verb;
  resource: string;
  namespace: string | undefined;
  name?: string;
  body?: unknown;
}

interface HistoryEntry {
  rv: number;
  type: WatchEventType;
  resource: string;
  object: KubeObject;
}

interface Watcher {
  resource: string;
  namespace: string | undefined;
  opts: WatchOptions;
  push(entry: HistoryEntry): void;
  end(): void;
}


/** The fake client plus test hooks. */
export class FakeKube implements KubeClient {
  readonly contextNamespace = 'default';
  readonly contextName = 'fake';
  /** Every call, in order. */
  readonly calls: FakeCall[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  /** Watches from a version older than this get 410 Gone. */
  private compactedBelow = 0;
  private readonly injected: Array<{ verb: Verb; resource: string; code: number; times: number }> = [];

  /** Make the next `times` calls of `verb` on `resource` fail with `code`. */
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

  /** Current object or undefined, without recording a call. */
  peek<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string): T | undefined {
    const o = this.objects.get(objectKey(res, ns, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  /** Every stored object of a resource, without recording a call. */
  all<T extends KubeObject = KubeObject>(res: ResourceType): T[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${res.plural}/`)).map(([, o]) => structuredClone(o) as T);
  }

  /** Change an object as a controller or kubelet would (bumps resourceVersion, notifies watchers). */
  mutate<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string, fn: (obj: T) => void): T {
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw new Error(`fake: ${res.plural} ${ns}/${name} not found`);
    const next = structuredClone(current) as T;
    fn(next);
    return this.store(res, next, 'MODIFIED') as T;
  }

  private take(verb: Verb, res: ResourceType): void {
    const i = this.injected.findIndex((f) => f.verb === verb && f.resource === res.plural);
    if (i < 0) return;
    const f = this.injected[i]!;
    f.times -= 1;
    if (f.times <= 0) this.injected.splice(i, 1);
    throw apiError(verb, res, f.code, 'Injected', `injected ${f.code} for ${verb} ${res.plural}`);
  }

  private store(res: ResourceType, obj: KubeObject, type: WatchEventType): KubeObject {
    this.rv += 1;
    const meta = obj.metadata ?? {};
    meta.resourceVersion = String(this.rv);
    obj.metadata = meta;
    const key = objectKey(res, meta.namespace, meta.name ?? '');
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, structuredClone(obj));
    const entry: HistoryEntry = { rv: this.rv, type, resource: res.plural, object: structuredClone(obj) };
    this.history.push(entry);
    for (const w of this.watchers) w.push(entry);
    return structuredClone(obj);
  }

  private notFound(verb: Verb, res: ResourceType, name: string): ApiError {
    return apiError(verb, res, 404, 'NotFound', `${res.plural} "${name}" not found`, name);
  }

  async get<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string): Promise<T> {
    this.calls.push({ verb: 'get', resource: res.plural, namespace: ns, name });
    this.take('get', res);
    const o = this.objects.get(objectKey(res, ns, name));
    if (!o) throw this.notFound('get', res, name);
    return structuredClone(o) as T;
  }

  async list<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.calls.push({ verb: 'list', resource: res.plural, namespace: ns });
    this.take('list', res);
    const items = this.all<T>(res).filter(
      (o) => (ns === undefined || !res.namespaced || o.metadata?.namespace === ns) && matchesLabels(o, opts.labelSelector) && matchesFields(o, opts.fieldSelector),
    );
    return { items, resourceVersion: String(this.rv) };
  }

  async create<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, body: KubeObject): Promise<T> {
    this.calls.push({ verb: 'create', resource: res.plural, namespace: ns, body: structuredClone(body) });
    this.take('create', res);
    const obj = structuredClone(body);
    const meta = obj.metadata ?? {};
    if (res.namespaced) meta.namespace = ns ?? meta.namespace ?? 'default';
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().slice(0, 5)}`;
    if (!meta.name) throw apiError('create', res, 422, 'Invalid', 'metadata.name: Required value');
    if (this.objects.has(objectKey(res, meta.namespace, meta.name))) {
      throw apiError('create', res, 409, 'AlreadyExists', `${res.plural} "${meta.name}" already exists`, meta.name);
    }
    meta.uid = meta.uid ?? randomUUID();
    meta.creationTimestamp = meta.creationTimestamp ?? new Date().toISOString();
    obj.metadata = meta;
    return this.store(res, obj, 'ADDED') as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
  ): Promise<T> {
    this.calls.push({ verb: 'patch', resource: res.plural, namespace: ns, name, body: structuredClone(body) });
    this.take('patch', res);
    if (type !== 'merge') throw apiError('patch', res, 415, 'UnsupportedMediaType', `fake: only merge patches (got ${type})`);
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw this.notFound('patch', res, name);
    const patch = structuredClone(body) as MergePatch;
    const patchMeta = patch['metadata'];
    if (patchMeta && typeof patchMeta === 'object') {
      const wanted = patchMeta['resourceVersion'];
      // A resourceVersion in a patch is a precondition, as on the real API server.
      if (typeof wanted === 'string' && wanted !== '' && wanted !== current.metadata?.resourceVersion) {
        throw apiError('patch', res, 409, 'Conflict', `Operation cannot be fulfilled on ${res.plural} "${name}": the object has been modified`, name);
      }
      delete patchMeta['resourceVersion'];
    }
    const next = applyMergePatch(structuredClone(current), patch);
    return this.store(res, next, 'MODIFIED') as T;
  }

  async delete(res: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    this.calls.push({ verb: 'delete', resource: res.plural, namespace: ns, name, body: opts });
    this.take('delete', res);
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw this.notFound('delete', res, name);
    if (opts.uid && current.metadata?.uid !== opts.uid) {
      throw apiError('delete', res, 409, 'Conflict', `Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${current.metadata?.uid}`);
    }
    this.store(res, structuredClone(current), 'DELETED');
  }

  watch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    opts: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent<T>> {
    this.calls.push({ verb: 'watch', resource: res.plural, namespace: ns, body: { ...opts } });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const fake = this;
    return {
      async *[Symbol.asyncIterator]() {
        fake.take('watch', res);
        const from = Number(opts.resourceVersion ?? fake.rv);
        if (from + 1 < fake.compactedBelow) {
          yield { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } as unknown as T };
          return;
        }
        const queue: HistoryEntry[] = fake.history.filter((e) => e.rv > from);
        let wake: (() => void) | undefined;
        let ended = false;
        const watcher: Watcher = {
          resource: res.plural,
          namespace: ns,
          opts,
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
        fake.watchers.add(watcher);
        try {
          while (!signal.aborted) {
            const entry = queue.shift();
            if (entry) {
              const o = entry.object;
              if (entry.resource !== res.plural) continue;
              if (ns !== undefined && res.namespaced && o.metadata?.namespace !== ns) continue;
              if (!matchesLabels(o, opts.labelSelector) || !matchesFields(o, opts.fieldSelector)) continue;
              yield { type: entry.type, object: structuredClone(o) as T };
              continue;
            }
            if (ended) return;
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        } finally {
          fake.watchers.delete(watcher);
          signal.removeEventListener('abort', onAbort);
        }
      },
    };
  }
}
