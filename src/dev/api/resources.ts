/**
 * The resource registry: which kinds the server serves, under which group/version,
 * plural and short names. Discovery, routing, validation and the store all read it.
 * CustomResourceDefinitions add entries at runtime.
 */

/** Verbs as discovery reports them. */
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** One served resource. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Lowercase plural used in URLs: `pods`, `jobs`. */
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  /** Subresources served (`status`). */
  subresources: string[];
  /** Bump metadata.generation on spec changes (workload kinds, CRs). */
  generation: boolean;
  /** Extra field selector keys beyond metadata.name/namespace. */
  fieldSelectors: string[];
  categories?: string[];
  /** Set for resources created from a CRD. */
  crd?: boolean;
  /** Top-level property names of a CRD version's schema (published in OpenAPI). */
  schemaProperties?: string[];
  /** A CRD version's `openAPIV3Schema`: custom resources are pruned, defaulted and validated by it (crd-schema.ts). */
  schema?: unknown;
}

/** `apps/v1` or `v1`. */
export function apiVersionOf(r: ResourceInfo): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** `jobs.batch` or `pods`: the key the store and the public helpers use. */
export function resourceKey(r: ResourceInfo): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`;
}

const verbsAll = [...ALL_VERBS];

function def(p: Partial<ResourceInfo> & Pick<ResourceInfo, 'group' | 'version' | 'plural' | 'kind' | 'namespaced'>): ResourceInfo {
  return {
    singular: p.kind.toLowerCase(),
    listKind: `${p.kind}List`,
    shortNames: [],
    verbs: verbsAll,
    subresources: [],
    generation: false,
    fieldSelectors: [],
    ...p,
  };
}

const EVENT_FIELDS = ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'];

/** The built-in resources. */
export function builtinResources(): ResourceInfo[] {
  return [
    def({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['status'], fieldSelectors: ['status.phase'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
    def({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, shortNames: ['po'], subresources: ['status'], categories: ['all'], fieldSelectors: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'] }),
    def({ group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], fieldSelectors: EVENT_FIELDS }),
    def({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status'], fieldSelectors: ['spec.unschedulable'] }),
    def({ group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'], subresources: ['status'] }),
    def({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] }),
    def({ group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] }),
    def({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, fieldSelectors: ['type'] }),
    def({ group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], subresources: ['status'], generation: true, categories: ['all'] }),
    def({ group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true, subresources: ['status'], generation: true, categories: ['all'], fieldSelectors: ['status.successful'] }),
    def({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true }),
    def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true }),
    def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true }),
    def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false }),
    def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false }),
    def({ group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], subresources: ['status'], generation: true }),
    def({ group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false, verbs: ['create'] }),
  ];
}

/**
 * The live registry: built-ins plus one entry per served version of each established CRD.
 */
export class ResourceRegistry {
  private readonly byKey = new Map<string, ResourceInfo>();

  constructor() {
    for (const r of builtinResources()) this.add(r);
  }

  /** Add or replace a resource. */
  add(r: ResourceInfo): void {
    this.byKey.set(`${r.group}/${r.version}/${r.plural}`, r);
  }

  /** Remove all versions of `plural.group` (CRD deleted). */
  removeGroupResource(group: string, plural: string): void {
    for (const [k, r] of this.byKey) if (r.group === group && r.plural === plural) this.byKey.delete(k);
  }

  /** Exact lookup by URL parts. */
  lookup(group: string, version: string, plural: string): ResourceInfo | undefined {
    return this.byKey.get(`${group}/${version}/${plural}`);
  }

  /** Every served resource. */
  all(): ResourceInfo[] {
    return [...this.byKey.values()];
  }

  /**
   * Find by a loose name: `pods`, `jobs.batch`, `Job`, `dckpt`, `dynamocheckpoints.nvidia.com`.
   * Throws when nothing (or more than one group) matches.
   */
  resolve(name: string): ResourceInfo {
    const dot = name.indexOf('.');
    const base = (dot < 0 ? name : name.slice(0, dot)).toLowerCase();
    const group = dot < 0 ? undefined : name.slice(dot + 1);
    const hits = this.all().filter(
      (r) => (group === undefined || r.group === group) && (r.plural === base || r.singular === base || r.kind.toLowerCase() === base || r.shortNames.includes(base)),
    );
    const first = hits[0];
    if (first === undefined) throw new Error(`unknown resource ${JSON.stringify(name)}`);
    return first;
  }

  /** Find by apiVersion + kind (for ownerReferences and body checks). */
  byKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    return this.all().find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
  }

  /** Groups with their versions, in registration order (core excluded). */
  groups(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const r of this.all()) {
      if (r.group === '') continue;
      const vs = m.get(r.group) ?? [];
      if (!vs.includes(r.version)) vs.push(r.version);
      m.set(r.group, vs);
    }
    return m;
  }
}
