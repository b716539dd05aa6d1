/**
 * The in-memory object store: the etcd + registry layer of the embedded API server.
 * It owns resourceVersions (one global counter), uid/creationTimestamp/generation,
 * validation and defaulting, optimistic concurrency, deletion semantics (graceful pods,
 * finalizers, propagation policies) and a bounded event history for watch resume.
 * Controllers, the kubelet and tests use it directly; the HTTP layer is a thin shell.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, alreadyExists, conflict, invalid, notFound, type StatusCause } from './errors.js';
import { applyDefaults, applyJobSelector } from './defaults.js';
import { applyPatch } from './patch.js';
import { apiVersionOf, resourceKey, ResourceRegistry, type ResourceInfo } from './resources.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { clone, isRecord, nowTimestamp, type KubeObject } from './types.js';
import { validateObject, validatePodUpdate } from './validation.js';
import { applyCustomResourceSchema } from './crd-schema.js';

/** A change, delivered to subscribers and kept in the watch history. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: ResourceInfo;
  /** The object after the change (for DELETED: its last state, with a new resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  oldObject?: KubeObject;
  rv: number;
}

/** Something that names a resource: a ResourceInfo or a loose name such as `pods`, `jobs.batch`, `dckpt`. */
export type ResourceRef = ResourceInfo | string;

/** Options common to writes. */
export interface WriteOptions {
  /** Validate and default, return the result, persist nothing (`?dryRun=All`). */
  dryRun?: boolean;
  /** Write the `status` subresource: only `.status` of the body is taken. */
  subresource?: 'status';
  /**
   * Internal writers (scheduler binding, kubelet): skip the pod-spec immutability check,
   * as the real binding subresource and kubelet paths do.
   */
  internal?: boolean;
}

/** DeleteOptions as the API accepts them. */
export interface DeleteOptions {
  dryRun?: boolean;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
}

/** Filters for list. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** The result of a delete: `removed` is false when the object only got a deletionTimestamp. */
export interface DeleteResult {
  object: KubeObject;
  removed: boolean;
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Random suffix with the real apiserver's alphabet (no vowels, no confusing digits). */
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

function specOf(o: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

/** See the file comment. */
/** Compare two keys by UTF-16 code unit (names are ASCII, so bytewise). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Store {
  readonly registry: ResourceRegistry;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private counter = 0;
  /**
   * Watch history per resource (group/plural), each bounded by `historyLimit`, as the
   * real server's watch cache keeps one window per resource: writes to one resource
   * never expire another's resourceVersions.
   */
  private readonly history = new Map<string, { events: StoreEvent[]; compactedRv: number }>();
  private readonly subscribers = new Set<(e: StoreEvent) => void>();
  private readonly historyLimit: number;

  constructor(registry = new ResourceRegistry(), historyLimit = 1000) {
    this.registry = registry;
    this.historyLimit = historyLimit;
  }

  /** Resolve a resource name or pass a ResourceInfo through. */
  res(ref: ResourceRef): ResourceInfo {
    return typeof ref === 'string' ? this.registry.resolve(ref) : ref;
  }

  /** The current (latest) resourceVersion. */
  currentRv(): number {
    return this.counter;
  }

  private bucket(res: ResourceInfo): Map<string, KubeObject> {
    const k = resourceKey(res);
    let b = this.data.get(k);
    if (!b) {
      b = new Map();
      this.data.set(k, b);
    }
    return b;
  }

  /** The sort key of a listed object: what a continue token resumes after. */
  static key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  /** Subscribe to every change; returns the unsubscribe function. Handlers run synchronously. */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /**
   * Events of `ref` after `rv` for watch resume, or `'expired'` when some of that
   * resource's were already dropped from its bounded history (the client must relist:
   * 410 Gone).
   */
  eventsSince(ref: ResourceRef, rv: number): StoreEvent[] | 'expired' {
    const h = this.history.get(resourceKey(this.res(ref)));
    if (h === undefined) return [];
    if (rv < h.compactedRv) return 'expired';
    return h.events.filter((e) => e.rv > rv);
  }

  private emit(type: StoreEvent['type'], res: ResourceInfo, object: KubeObject, oldObject?: KubeObject): void {
    const ev: StoreEvent = { type, resource: res, object: clone(object), rv: this.counter };
    if (oldObject !== undefined) ev.oldObject = clone(oldObject);
    const key = resourceKey(res);
    let h = this.history.get(key);
    if (h === undefined) this.history.set(key, (h = { events: [], compactedRv: 0 }));
    h.events.push(ev);
    while (h.events.length > this.historyLimit) h.compactedRv = h.events.shift()!.rv;
    for (const s of [...this.subscribers]) {
      try {
        s(ev);
      } catch {
        // A failing subscriber must not break the write that already happened.
      }
    }
  }

  private decorate(res: ResourceInfo, o: KubeObject): KubeObject {
    o.apiVersion = apiVersionOf(res);
    o.kind = res.kind;
    return o;
  }

  /** Get a copy of one object, or undefined. */
  get(ref: ResourceRef, namespace: string | undefined, name: string): KubeObject | undefined {
    const res = this.res(ref);
    const o = this.bucket(res).get(Store.key(res.namespaced ? namespace : undefined, name));
    return o === undefined ? undefined : clone(o);
  }

  /** Get a copy of one object or throw a 404 ApiError. */
  mustGet(ref: ResourceRef, namespace: string | undefined, name: string): KubeObject {
    const res = this.res(ref);
    const o = this.get(res, namespace, name);
    if (o === undefined) throw notFound(res, name);
    return o;
  }

  /** List copies, filtered by namespace and selectors (selector syntax errors throw 400). */
  list(ref: ResourceRef, opts: ListOptions = {}): KubeObject[] {
    const res = this.res(ref);
    const lm = labelMatcher(opts.labelSelector);
    const fm = fieldMatcher(opts.fieldSelector, res.fieldSelectors);
    const out: KubeObject[] = [];
    for (const o of this.bucket(res).values()) {
      if (opts.namespace !== undefined && res.namespaced && o.metadata.namespace !== opts.namespace) continue;
      if (lm(o) && fm(o)) out.push(clone(o));
    }
    // Byte order of namespace/name, as etcd keys sort (localeCompare would not).
    return out.sort((a, b) => compareKeys(Store.key(a.metadata.namespace, a.metadata.name ?? ''), Store.key(b.metadata.namespace, b.metadata.name ?? '')));
  }

  private checkNamespace(res: ResourceInfo, ns: string | undefined, name: string): void {
    if (!res.namespaced) return;
    const nsRes = this.registry.resolve('namespaces');
    const n = this.bucket(nsRes).get(Store.key(undefined, ns ?? ''));
    if (n === undefined) throw notFound(nsRes, ns ?? '');
    if (n.metadata.deletionTimestamp !== undefined) {
      throw new ApiError(403, 'Forbidden', `${res.group === '' ? res.plural : `${res.plural}.${res.group}`} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, { name, kind: res.plural, ...(res.group ? { group: res.group } : {}), causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }] });
    }
  }

  private fail(res: ResourceInfo, name: string, causes: StatusCause[]): void {
    if (causes.length > 0) throw invalid(res, name, causes);
  }

  /** Create an object (generateName, defaults, validation, uid, resourceVersion). */
  create(ref: ResourceRef, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const res = this.res(ref);
    const o = clone(input);
    if (!isRecord(o.metadata)) o.metadata = {};
    const md = o.metadata;
    if (!res.namespaced) delete md.namespace;
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink', 'managedFields']) delete md[k];
    if ((md.name === undefined || md.name === '') && md.generateName) {
      const b = this.bucket(res);
      do md.name = `${md.generateName}${randomSuffix()}`;
      while (b.has(Store.key(md.namespace, md.name)));
    }
    this.decorate(res, o);
    applyDefaults(res, o);
    md.uid = randomUUID();
    if (res.group === 'batch' && res.plural === 'jobs') applyJobSelector(o);
    this.fail(res, md.name ?? md.generateName ?? '', [...validateObject(res, o, true), ...this.schemaCauses(res, o)]);
    if (res.crd) this.checkCustomResourceBody(res, input);
    this.checkNamespace(res, md.namespace, md.name!);
    const b = this.bucket(res);
    const key = Store.key(md.namespace, md.name!);
    if (b.has(key)) throw alreadyExists(res, md.name!);
    md.creationTimestamp = nowTimestamp();
    if (res.generation) md.generation = 1;
    if (res.plural === 'customresourcedefinitions') this.crdStatus(o);
    if (opts.dryRun) return clone(o);
    md.resourceVersion = String(++this.counter);
    b.set(key, o);
    this.emit('ADDED', res, o);
    if (res.plural === 'customresourcedefinitions') this.onCrdChange(o);
    return clone(o);
  }

  /** A custom resource pruned and defaulted by its CRD's schema (in place); the schema's causes. */
  private schemaCauses(res: ResourceInfo, o: KubeObject): StatusCause[] {
    return res.crd && res.schema !== undefined ? applyCustomResourceSchema(res.schema, o) : [];
  }

  private checkCustomResourceBody(res: ResourceInfo, input: KubeObject): void {
    if (input.kind !== undefined && input.kind !== res.kind) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${String(input.apiVersion)}) does not match the expected API version (${apiVersionOf(res)})`);
    }
  }

  /**
   * Replace an object (PUT). `metadata.resourceVersion`, when set, must match (409
   * otherwise). With `subresource: 'status'` only the status is taken from the body;
   * without it, the status of kinds that have a status subresource is kept.
   */
  update(ref: ResourceRef, input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const res = this.res(ref);
    const ns = res.namespaced ? input.metadata?.namespace : undefined;
    const name = input.metadata?.name ?? '';
    const b = this.bucket(res);
    const key = Store.key(ns, name);
    const old = b.get(key);
    if (old === undefined) {
      // Leases and Events allow create-on-update (PUT of a missing object), as on the real server.
      if (opts.subresource === undefined && ((res.group === 'coordination.k8s.io' && res.plural === 'leases') || (res.group === '' && res.plural === 'events'))) {
        const { resourceVersion: _rv, ...md } = input.metadata ?? {};
        return this.create(res, { ...input, metadata: md }, opts.dryRun ? { dryRun: true } : {});
      }
      throw notFound(res, name);
    }
    const rv = input.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(res, name);
    let o: KubeObject;
    if (opts.subresource === 'status') {
      o = clone(old);
      o.status = clone(input.status);
    } else {
      o = clone(input);
      if (!isRecord(o.metadata)) o.metadata = {};
      if (res.subresources.includes('status') && !opts.internal) o.status = clone(old.status);
      // Server-owned metadata cannot be changed by clients.
      for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
        if (old.metadata[k] === undefined) delete o.metadata[k];
        else o.metadata[k] = old.metadata[k];
      }
      if (res.namespaced) o.metadata.namespace = old.metadata.namespace;
      if (old.metadata.deletionTimestamp !== undefined && JSON.stringify(o.metadata.finalizers ?? []).length > JSON.stringify(old.metadata.finalizers ?? []).length) {
        const added = (o.metadata.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
        if (added.length > 0) throw invalid(res, name, [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}` }]);
      }
    }
    this.decorate(res, o);
    if (res.plural === 'customresourcedefinitions' && opts.subresource !== 'status') this.crdStatus(o);
    const causes = [...validateObject(res, o, false), ...this.schemaCauses(res, o)];
    if (res.plural === 'pods' && !opts.internal && opts.subresource !== 'status') causes.push(...validatePodUpdate(old, o));
    if (res.plural === 'jobs' && res.group === 'batch' && opts.subresource !== 'status' && JSON.stringify(old.spec?.template) !== JSON.stringify(o.spec?.template)) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.template', message: 'Invalid value: core.PodTemplateSpec{...}: field is immutable' });
    }
    this.fail(res, name, causes);
    if (res.generation && specOf(o) !== specOf(old)) o.metadata.generation = (old.metadata.generation ?? 1) + 1;
    o.metadata.resourceVersion = old.metadata.resourceVersion;
    // A no-op write neither bumps resourceVersion nor emits an event, like the real server.
    if (JSON.stringify(o) === JSON.stringify(old)) return clone(old);
    if (opts.dryRun) return clone(o);
    // Removing the last finalizer of an object being deleted completes the deletion.
    if (old.metadata.deletionTimestamp !== undefined && (o.metadata.finalizers ?? []).length === 0 && !(res.plural === 'namespaces' && (o.spec?.finalizers ?? []).length > 0)) {
      o.metadata.resourceVersion = String(++this.counter);
      b.set(key, o);
      this.emit('MODIFIED', res, o, old);
      this.remove(res, o);
      return clone(o);
    }
    o.metadata.resourceVersion = String(++this.counter);
    b.set(key, o);
    this.emit('MODIFIED', res, o, old);
    if (res.plural === 'customresourcedefinitions') this.onCrdChange(o);
    return clone(o);
  }

  /**
   * Patch an object. A `metadata.resourceVersion` in the patch body acts as a
   * precondition (409 on mismatch), as on the real server.
   */
  patch(ref: ResourceRef, namespace: string | undefined, name: string, contentType: string, body: unknown, opts: WriteOptions = {}): KubeObject {
    const res = this.res(ref);
    const old = this.mustGet(res, namespace, name);
    const base = opts.subresource === 'status' ? old : old;
    const patched = applyPatch(contentType, base, body);
    if (!isRecord(patched)) throw new ApiError(422, 'Invalid', `${res.kind} "${name}" is invalid: patch did not produce an object`);
    const o = patched as KubeObject;
    if (!isRecord(o.metadata)) o.metadata = {};
    if (o.metadata.name !== name) throw new ApiError(422, 'Invalid', `${res.kind} "${name}" is invalid: metadata.name: Invalid value: ${JSON.stringify(o.metadata.name ?? '')}: field is immutable`);
    const wantRv = o.metadata.resourceVersion;
    if (wantRv !== undefined && wantRv !== old.metadata.resourceVersion) throw conflict(res, name);
    o.metadata.resourceVersion = old.metadata.resourceVersion;
    if (res.namespaced) o.metadata.namespace = old.metadata.namespace;
    return this.update(res, o, opts);
  }

  /**
   * Read-modify-write helper for controllers: applies `fn` to a fresh copy and writes it,
   * retrying on conflict. Returns undefined when the object is gone.
   */
  mutate(ref: ResourceRef, namespace: string | undefined, name: string, fn: (o: KubeObject) => void, opts: WriteOptions = {}): KubeObject | undefined {
    const res = this.res(ref);
    for (let i = 0; i < 5; i++) {
      const cur = this.get(res, namespace, name);
      if (cur === undefined) return undefined;
      fn(cur);
      try {
        return this.update(res, cur, opts);
      } catch (e) {
        if (e instanceof ApiError && e.code === 409) continue;
        if (e instanceof ApiError && e.code === 404) return undefined;
        throw e;
      }
    }
    return undefined;
  }

  /** The default propagation policy: batch/v1 Jobs orphan their pods, as on the real server. */
  defaultPropagation(res: ResourceInfo): 'Background' | 'Orphan' {
    return res.group === 'batch' && res.plural === 'jobs' ? 'Orphan' : 'Background';
  }

  /**
   * Delete an object. Pods bound to a node get a graceful deletion (deletionTimestamp;
   * the kubelet removes them), objects with finalizers wait for them, Foreground adds
   * the `foregroundDeletion` finalizer, Orphan strips ownerReferences from dependents.
   */
  delete(ref: ResourceRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): DeleteResult {
    const res = this.res(ref);
    const ns = res.namespaced ? namespace : undefined;
    const b = this.bucket(res);
    const key = Store.key(ns, name);
    const old = b.get(key);
    if (old === undefined) throw notFound(res, name);
    const pre = opts.preconditions;
    if (pre?.uid !== undefined && pre.uid !== old.metadata.uid) throw conflict(res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== old.metadata.resourceVersion) throw conflict(res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    const policy = opts.propagationPolicy ?? this.defaultPropagation(res);
    const o = clone(old);
    const now = nowTimestamp();
    if (res.plural === 'namespaces' && res.group === '') {
      if (opts.dryRun) return { object: o, removed: false };
      if (o.metadata.deletionTimestamp === undefined) {
        o.metadata.deletionTimestamp = now;
        o.metadata.deletionGracePeriodSeconds = 0;
        o.status = { ...(o.status ?? {}), phase: 'Terminating' };
        this.put(res, key, o, old);
      }
      return { object: clone(o), removed: false };
    }
    const graceful = res.plural === 'pods' && res.group === '' && this.podNeedsGrace(old, opts.gracePeriodSeconds);
    const finalizers = [...(o.metadata.finalizers ?? [])];
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && !opts.dryRun) this.orphanDependents(o);
    if (graceful || finalizers.length > 0) {
      if (opts.dryRun) return { object: o, removed: false };
      const grace = graceful ? (opts.gracePeriodSeconds ?? old.spec?.terminationGracePeriodSeconds ?? 30) : 0;
      const already = o.metadata.deletionTimestamp !== undefined;
      if (already && JSON.stringify(finalizers) === JSON.stringify(o.metadata.finalizers ?? []) && (o.metadata.deletionGracePeriodSeconds ?? 0) <= grace) {
        return { object: o, removed: false };
      }
      if (!already) o.metadata.deletionTimestamp = nowTimestamp(Date.now() + grace * 1000);
      o.metadata.deletionGracePeriodSeconds = grace;
      if (finalizers.length > 0) o.metadata.finalizers = finalizers;
      if (res.generation) o.metadata.generation = (o.metadata.generation ?? 1) + 1;
      this.put(res, key, o, old);
      return { object: clone(o), removed: false };
    }
    if (opts.dryRun) return { object: o, removed: true };
    this.remove(res, o);
    return { object: clone(o), removed: true };
  }

  /** Real pod strategy: unscheduled or terminal pods, and grace 0, are deleted at once. */
  private podNeedsGrace(pod: KubeObject, grace: number | undefined): boolean {
    if (grace === 0) return false;
    if (!pod.spec?.nodeName) return false;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return false;
    return this.get('nodes', undefined, pod.spec.nodeName) !== undefined;
  }

  private orphanDependents(owner: KubeObject): void {
    const uid = owner.metadata.uid;
    for (const r of this.registry.all()) {
      for (const d of this.bucket(r).values()) {
        if (!(d.metadata.ownerReferences ?? []).some((x) => x.uid === uid)) continue;
        this.mutate(r, d.metadata.namespace, d.metadata.name ?? '', (x) => {
          x.metadata.ownerReferences = (x.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== uid);
          if (x.metadata.ownerReferences.length === 0) delete x.metadata.ownerReferences;
        }, { internal: true });
      }
    }
  }

  private put(res: ResourceInfo, key: string, o: KubeObject, old: KubeObject): void {
    o.metadata.resourceVersion = String(++this.counter);
    this.bucket(res).set(key, o);
    this.emit('MODIFIED', res, o, old);
  }

  /** Remove for good and emit DELETED (the last state carries a fresh resourceVersion). */
  private remove(res: ResourceInfo, o: KubeObject): void {
    const key = Store.key(res.namespaced ? o.metadata.namespace : undefined, o.metadata.name ?? '');
    const old = this.bucket(res).get(key);
    if (old === undefined) return;
    this.bucket(res).delete(key);
    const last = clone(old);
    last.metadata.resourceVersion = String(++this.counter);
    this.emit('DELETED', res, last, old);
    if (res.plural === 'customresourcedefinitions') this.onCrdDelete(last);
  }

  /**
   * Finish a namespace's deletion once the namespace controller emptied it (drops the
   * `kubernetes` finalizer from spec.finalizers and removes it).
   */
  finalizeNamespace(name: string): void {
    const res = this.registry.resolve('namespaces');
    const o = this.bucket(res).get(Store.key(undefined, name));
    if (o === undefined || o.metadata.deletionTimestamp === undefined) return;
    this.remove(res, o);
  }

  /** All objects of every namespaced kind in a namespace (for the namespace controller). */
  contentsOf(namespace: string): { res: ResourceInfo; obj: KubeObject }[] {
    const out: { res: ResourceInfo; obj: KubeObject }[] = [];
    for (const r of this.registry.all()) {
      if (!r.namespaced) continue;
      for (const o of this.bucket(r).values()) if (o.metadata.namespace === namespace) out.push({ res: r, obj: clone(o) });
    }
    return out;
  }

  /** Every object (any kind) whose ownerReferences name `uid`. */
  dependentsOf(uid: string): { res: ResourceInfo; obj: KubeObject }[] {
    const out: { res: ResourceInfo; obj: KubeObject }[] = [];
    for (const r of this.registry.all()) {
      for (const o of this.bucket(r).values()) if ((o.metadata.ownerReferences ?? []).some((x) => x.uid === uid)) out.push({ res: r, obj: clone(o) });
    }
    return out;
  }

  /** Is any object with this uid stored? (GC: do all owners still exist?) */
  existsUid(uid: string, apiVersion: string, kind: string): boolean {
    const r = this.registry.byKind(apiVersion, kind);
    const buckets = r ? [this.bucket(r)] : [...this.data.values()];
    for (const b of buckets) for (const o of b.values()) if (o.metadata.uid === uid) return true;
    return false;
  }

  private crdStatus(o: KubeObject): void {
    const names = o.spec?.names ?? {};
    const t = nowTimestamp();
    o.status = {
      acceptedNames: { ...names, singular: names.singular ?? String(names.kind ?? '').toLowerCase(), listKind: names.listKind ?? `${names.kind}List` },
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
      ],
      storedVersions: (o.spec?.versions ?? []).filter((v: any) => v.storage).map((v: any) => v.name),
    };
  }

  /** Serve (or re-serve) every version of a CRD. */
  private onCrdChange(crd: KubeObject): void {
    const spec = crd.spec ?? {};
    const names = spec.names ?? {};
    this.registry.removeGroupResource(spec.group, names.plural);
    for (const v of spec.versions ?? []) {
      if (v.served === false) continue;
      const kind = String(names.kind);
      this.registry.add({
        group: String(spec.group),
        version: String(v.name),
        plural: String(names.plural),
        singular: String(names.singular ?? kind.toLowerCase()),
        kind,
        listKind: String(names.listKind ?? `${kind}List`),
        namespaced: spec.scope !== 'Cluster',
        shortNames: Array.isArray(names.shortNames) ? names.shortNames.map(String) : [],
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
        subresources: v.subresources?.status !== undefined ? ['status'] : [],
        generation: true,
        fieldSelectors: [],
        categories: Array.isArray(names.categories) ? names.categories.map(String) : [],
        crd: true,
        ...(v.schema?.openAPIV3Schema?.properties ? { schemaProperties: Object.keys(v.schema.openAPIV3Schema.properties) } : {}),
        ...(v.schema?.openAPIV3Schema ? { schema: v.schema.openAPIV3Schema } : {}),
      });
    }
  }

  /** Stop serving a deleted CRD and drop its objects (as the real server does). */
  private onCrdDelete(crd: KubeObject): void {
    const spec = crd.spec ?? {};
    const plural = spec.names?.plural;
    for (const r of this.registry.all()) {
      if (r.group !== spec.group || r.plural !== plural) continue;
      for (const o of [...this.bucket(r).values()]) this.remove(r, o);
    }
    this.registry.removeGroupResource(spec.group, plural);
  }
}
