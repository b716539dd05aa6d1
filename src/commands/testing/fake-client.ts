/**
 * An in-memory `KubeClient` for command tests: objects, resourceVersions, selectors,
 * merge patches with resourceVersion preconditions, and watches that replay history.
 * Every call is recorded so a test can assert that nothing was sent.
 */
import { matchesFields, matchesLabels, objectKey } from '../../kube/testing/selectors.js';
import { ApiError, type Verb } from '../../kube/errors.js';
import type {
  DeleteOptions,
  KubeClient,
  ListOptions,
  ListResult,
  PatchType,
  ResourceType,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from '../../kube/types.js';
import { applyMergePatch, type KubeObject, type MergePatch } from '../../protocol/index.js';

export interface RecordedCall {
  verb: Verb;
  resource: string;
  namespace: string | undefined;
  name?: string;
  body?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

type Listener = () => void;


export class FakeKubeClient implements KubeClient {
  readonly contextNamespace: string;
  readonly contextName = 'fake';
  readonly calls: RecordedCall[] = [];
  private objects = new Map<string, KubeObject>();
  private history: Array<{ rv: number; res: string; type: WatchEvent['type']; object: KubeObject }> = [];
  private rv = 100;
  private uidSeq = 0;
  private listeners = new Set<Listener>();
  /** Called after every successful write, outside the caller's stack (simulates controllers). */
  onWrite: ((verb: Verb, res: ResourceType, obj: KubeObject) => void) | undefined;
  /** Makes a call fail: return an ApiError to throw, or undefined to go ahead. */
  failWith: ((call: RecordedCall) => ApiError | undefined) | undefined;
  /**
   * Answers SelfSubjectAccessReviews as the API server does (nothing is stored):
   * `allowed` for the review's resourceAttributes. Default: everything allowed.
   */
  accessReview: (attrs: { verb: string; group: string; resource: string; namespace?: string }) => boolean = () => true;

  constructor(contextNamespace = 'default') {
    this.contextNamespace = contextNamespace;
  }

  /** Put an object in place without recording a call (test setup). */
  seed(res: ResourceType, obj: KubeObject): KubeObject {
    const stored = this.store(res, structuredClone(obj), 'ADDED');
    return structuredClone(stored);
  }

  /** Change an object as another actor would (agent, kubelet). */
  update(res: ResourceType, namespace: string | undefined, name: string, mutate: (obj: KubeObject) => void): void {
    const current = this.objects.get(objectKey(res, namespace, name));
    if (!current) throw new Error(`fake: no ${res.plural} ${namespace}/${name}`);
    const next = structuredClone(current);
    mutate(next);
    this.store(res, next, 'MODIFIED');
  }

  peek<T extends KubeObject = KubeObject>(res: ResourceType, namespace: string | undefined, name: string): T | undefined {
    const obj = this.objects.get(objectKey(res, namespace, name));
    return obj ? (structuredClone(obj) as T) : undefined;
  }

  /** Calls that would change the cluster. */
  writes(): RecordedCall[] {
    return this.calls.filter((c) => c.verb === 'create' || c.verb === 'patch' || c.verb === 'delete');
  }

  private store(res: ResourceType, obj: KubeObject, type: WatchEvent['type']): KubeObject {
    this.rv += 1;
    obj.metadata = { ...(obj.metadata ?? {}), resourceVersion: String(this.rv) };
    if (!obj.metadata.uid) obj.metadata.uid = `uid-${++this.uidSeq}`;
    if (!obj.metadata.creationTimestamp) obj.metadata.creationTimestamp = new Date(0).toISOString();
    this.objects.set(objectKey(res, obj.metadata.namespace, obj.metadata.name ?? ''), obj);
    this.history.push({ rv: this.rv, res: res.plural, type, object: structuredClone(obj) });
    for (const l of this.listeners) l();
    return obj;
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    const err = this.failWith?.(call);
    if (err) throw err;
  }

  private notFound(verb: Verb, res: ResourceType, ns: string | undefined, name: string): ApiError {
    return new ApiError({ verb, resource: res, namespace: ns, name, status: 404, reason: 'NotFound', message: `${res.plural} "${name}" not found` });
  }

  private afterWrite(verb: Verb, res: ResourceType, obj: KubeObject): void {
    const hook = this.onWrite;
    if (hook) setTimeout(() => hook(verb, res, structuredClone(obj)), 5);
  }

  async get<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string): Promise<T> {
    this.record({ verb: 'get', resource: res.plural, namespace: ns, name });
    const obj = this.objects.get(objectKey(res, ns, name));
    if (!obj) throw this.notFound('get', res, ns, name);
    return structuredClone(obj) as T;
  }

  async list<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.record({ verb: 'list', resource: res.plural, namespace: ns, options: opts });
    const items = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${res.plural}/`))
      .map(([, o]) => o)
      .filter((o) => !res.namespaced || ns === undefined || o.metadata?.namespace === ns)
      .filter((o) => matchesLabels(o, opts.labelSelector) && matchesFields(o, opts.fieldSelector));
    return { items: structuredClone(items) as T[], resourceVersion: String(this.rv) };
  }

  async create<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, body: KubeObject, opts: WriteOptions = {}): Promise<T> {
    // generateName: a fixed, counting suffix keeps tests deterministic.
    const name = body.metadata?.name || (body.metadata?.generateName ? `${body.metadata.generateName}${String(++this.uidSeq).padStart(5, '0')}` : '');
    if (!body.metadata?.name && name) body = { ...body, metadata: { ...body.metadata, name } };
    this.record({ verb: 'create', resource: res.plural, namespace: ns, name, body: structuredClone(body), dryRun: opts.dryRun === true });
    if (res.plural === 'selfsubjectaccessreviews') {
      const attrs = ((body['spec'] as { resourceAttributes?: unknown } | undefined)?.resourceAttributes ?? {}) as { verb: string; group: string; resource: string; namespace?: string };
      return { ...structuredClone(body), status: { allowed: this.accessReview(attrs) } } as unknown as T;
    }
    if (this.objects.has(objectKey(res, ns, name))) {
      throw new ApiError({ verb: 'create', resource: res, namespace: ns, name, status: 409, reason: 'AlreadyExists', message: `${res.plural} "${name}" already exists` });
    }
    const obj = structuredClone(body);
    obj.metadata = { ...(obj.metadata ?? {}), namespace: ns };
    if (opts.dryRun) return obj as T;
    const stored = this.store(res, obj, 'ADDED');
    this.afterWrite('create', res, stored);
    return structuredClone(stored) as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts: WriteOptions = {},
  ): Promise<T> {
    this.record({ verb: 'patch', resource: res.plural, namespace: ns, name, body: structuredClone(body), dryRun: opts.dryRun === true, options: { type } });
    const current = this.objects.get(objectKey(res, ns, name));
    if (!current) throw this.notFound('patch', res, ns, name);
    const wanted = (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (wanted && wanted !== current.metadata?.resourceVersion) {
      throw new ApiError({ verb: 'patch', resource: res, namespace: ns, name, status: 409, reason: 'Conflict', message: 'the object has been modified' });
    }
    const next = applyMergePatch(structuredClone(current), body as MergePatch);
    if (opts.dryRun) return next as T;
    const stored = this.store(res, next, 'MODIFIED');
    this.afterWrite('patch', res, stored);
    return structuredClone(stored) as T;
  }

  async delete(res: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<void> {
    this.record({ verb: 'delete', resource: res.plural, namespace: ns, name, options: opts, dryRun: opts.dryRun === true });
    const k = objectKey(res, ns, name);
    const current = this.objects.get(k);
    if (!current) throw this.notFound('delete', res, ns, name);
    if (opts.uid && current.metadata?.uid !== opts.uid) {
      throw new ApiError({ verb: 'delete', resource: res, namespace: ns, name, status: 409, reason: 'Conflict', message: 'uid precondition failed' });
    }
    if (opts.resourceVersion && current.metadata?.resourceVersion !== opts.resourceVersion) {
      throw new ApiError({ verb: 'delete', resource: res, namespace: ns, name, status: 409, reason: 'Conflict', message: 'resourceVersion precondition failed' });
    }
    if (opts.dryRun) return;
    this.objects.delete(k);
    this.rv += 1;
    this.history.push({ rv: this.rv, res: res.plural, type: 'DELETED', object: structuredClone(current) });
    for (const l of this.listeners) l();
  }

  async *watch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    ns: string | undefined,
    opts: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent<T>> {
    this.record({ verb: 'watch', resource: res.plural, namespace: ns, options: opts });
    let from = Number(opts.resourceVersion ?? this.rv);
    let wake: (() => void) | undefined;
    const listener = () => wake?.();
    this.listeners.add(listener);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const pending = this.history.filter(
          (h) =>
            h.rv > from &&
            h.res === res.plural &&
            (!res.namespaced || ns === undefined || h.object.metadata?.namespace === ns) &&
            matchesLabels(h.object, opts.labelSelector) &&
            matchesFields(h.object, opts.fieldSelector),
        );
        if (pending.length > 0) {
          for (const h of pending) {
            from = h.rv;
            yield { type: h.type, object: structuredClone(h.object) as T };
          }
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
