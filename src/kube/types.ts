/**
 * The narrow client seam: the only Kubernetes calls this project makes. Commands and
 * the snapshot agent depend on this interface; `client.ts` implements it over HTTP with
 * `@kubernetes/client-node` for kubeconfig and auth; tests implement it with fakes.
 */
import type { KubeObject } from '../protocol/types.js';

/** A REST resource: enough to build its URL. */
export interface ResourceType {
  /** API group, '' for the core group. */
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. `pods`. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** The resources we touch. */
export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  nodes: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  namespaces: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  persistentvolumeclaims: {
    group: '',
    version: 'v1',
    plural: 'persistentvolumeclaims',
    kind: 'PersistentVolumeClaim',
    namespaced: true,
  },
  daemonsets: { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  jobs: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  dynamocheckpoints: {
    group: 'nvidia.com',
    version: 'v1alpha1',
    plural: 'dynamocheckpoints',
    kind: 'DynamoCheckpoint',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** Per-call options every method accepts (added later; optional, so fakes need not care). */
export interface RequestOptions {
  /** Aborting cancels the request (and any retry back-off) with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * Tries in all, the first included; default the client's retry policy. A caller
   * with its own retry loop (the waits) passes 1 so two loops do not multiply.
   */
  attempts?: number;
  /** Limit for the answer to one try, ms; default the client's. A watch's ends with the response head. */
  timeoutMs?: number;
}

export interface ListOptions extends RequestOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion, the point a watch resumes from. */
  resourceVersion: string;
}

export interface WriteOptions extends RequestOptions {
  /** Send with `dryRun=All`: the server validates and admits, persists nothing. */
  dryRun?: boolean;
}

/** merge = application/merge-patch+json, json = application/json-patch+json. */
export type PatchType = 'merge' | 'json' | 'strategic';

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  /** Delete only if the object still has this uid (never delete a look-alike). */
  uid?: string;
  /** Delete only if the object is unchanged since it was read at this version (else 409 Conflict). */
  resourceVersion?: string;
  gracePeriodSeconds?: number;
}

export interface WatchOptions extends ListOptions {
  /** Resume point; events after this version are delivered. */
  resourceVersion?: string;
  /** Server-side timeout of one stream, seconds. */
  timeoutSeconds?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T = KubeObject> {
  type: WatchEventType;
  /** The object; for ERROR a `Status` object. */
  object: T;
}

/**
 * Records every API call (for `--verbose`). `status` is the HTTP status or 0 when no
 * response arrived.
 */
export type RequestLogger = (entry: { method: string; url: string; status: number; ms: number; body?: unknown }) => void;

/** Our narrow Kubernetes client. Every method throws `ApiError` for HTTP errors. */
export interface KubeClient {
  /** Namespace of the current kubeconfig context, `default` when it names none. */
  readonly contextNamespace: string;
  /** Human name of the cluster/context, for messages. */
  readonly contextName: string;
  /** The API server's URL, for messages ("the API server at ... stopped answering"); fakes may leave it out. */
  readonly server?: string;

  get<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: RequestOptions,
  ): Promise<T>;
  list<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    opts?: ListOptions,
  ): Promise<ListResult<T>>;
  create<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    body: KubeObject,
    opts?: WriteOptions,
  ): Promise<T>;
  patch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts?: WriteOptions & { subresource?: 'status' },
  ): Promise<T>;
  delete(res: ResourceType, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<void>;
  /**
   * A pod's log (`pods/log`) as text; a fake may leave it out, and callers then do
   * without. `container` is needed only for pods of several containers.
   */
  log?(namespace: string, pod: string, opts?: RequestOptions & { container?: string }): Promise<string>;
  /**
   * One watch stream. Yields events until the server closes the stream (the iterator
   * then ends), the signal aborts (ends quietly), or the connection fails (throws).
   * An HTTP error at the start throws `ApiError`; an ERROR event is yielded as is.
   */
  watch<T extends KubeObject = KubeObject>(
    res: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent<T>>;
}
