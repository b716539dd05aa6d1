/**
 * A small but real OpenAPI v2 (swagger 2.0) document for the served kinds, in JSON and
 * in the gnostic protobuf encoding that kubectl (1.20) asks for. kubectl validates
 * `apply -f` manifests against it, uses its patch-merge-key extensions to compute
 * strategic merge patches, and `kubectl explain` prints it. Schemas are detailed for
 * what manifests commonly set (metadata, pod spec, containers, workload specs) and
 * deliberately open (no `type`, so "any value") elsewhere.
 */
import { apiVersionOf, type ResourceInfo, type ResourceRegistry } from './resources.js';
import { isRecord } from './types.js';

type Schema = Record<string, unknown>;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const CORE = 'io.k8s.api.core.v1';

const ref = (n: string, description?: string): Schema => (description ? { $ref: `#/definitions/${n}`, description } : { $ref: `#/definitions/${n}` });
const str = (description = ''): Schema => ({ type: 'string', description });
const int = (description = ''): Schema => ({ type: 'integer', format: 'int32', description });
const int64 = (description = ''): Schema => ({ type: 'integer', format: 'int64', description });
const bool = (description = ''): Schema => ({ type: 'boolean', description });
const arr = (items: Schema, description = '', ext: Schema = {}): Schema => ({ type: 'array', items, description, ...ext });
const strMap = (description = ''): Schema => ({ type: 'object', additionalProperties: { type: 'string' }, description });
/** Any value: kubectl treats a schema without type or properties as arbitrary. */
const open = (description = ''): Schema => ({ description });
const obj = (description: string, properties: Record<string, Schema>, extra: Schema = {}): Schema => ({ type: 'object', description, properties, ...extra });
const merge = (key: string): Schema => ({ 'x-kubernetes-patch-merge-key': key, 'x-kubernetes-patch-strategy': 'merge' });

function openProps(names: string[]): Record<string, Schema> {
  return Object.fromEntries(names.map((n) => [n, open()]));
}

function top(kind: ResourceInfo | undefined, description: string, props: Record<string, Schema>): Schema {
  const s = obj(description, {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ref(`${META}.ObjectMeta`, "Standard object's metadata."),
    ...props,
  });
  if (kind) s['x-kubernetes-group-version-kind'] = [{ group: kind.group, kind: kind.kind, version: kind.version }];
  return s;
}

function baseDefinitions(): Record<string, Schema> {
  const probe = open('Probe describes a health check to be performed against a container.');
  const container = obj('A single application container that you want to run within a pod.', {
    name: str('Name of the container specified as a DNS_LABEL.'),
    image: str('Container image name.'),
    command: arr(str(), 'Entrypoint array. Not executed within a shell.'),
    args: arr(str(), 'Arguments to the entrypoint.'),
    workingDir: str("Container's working directory."),
    ports: arr(ref(`${CORE}.ContainerPort`), 'List of ports to expose from the container.', { ...merge('containerPort'), 'x-kubernetes-list-type': 'map' }),
    env: arr(ref(`${CORE}.EnvVar`), 'List of environment variables to set in the container.', merge('name')),
    envFrom: arr(open(), 'List of sources to populate environment variables in the container.'),
    resources: ref(`${CORE}.ResourceRequirements`, 'Compute Resources required by this container.'),
    resizePolicy: arr(open()),
    restartPolicy: str(),
    volumeMounts: arr(ref(`${CORE}.VolumeMount`), "Pod volumes to mount into the container's filesystem.", merge('mountPath')),
    volumeDevices: arr(open(), '', merge('devicePath')),
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    lifecycle: open(),
    terminationMessagePath: str(),
    terminationMessagePolicy: str(),
    imagePullPolicy: str('Image pull policy. One of Always, Never, IfNotPresent.'),
    securityContext: open('SecurityContext defines the security options the container should be run with.'),
    stdin: bool(),
    stdinOnce: bool(),
    tty: bool(),
  }, { required: ['name'] });
  const volumeSources = ['hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image'];
  return {
    [`${META}.Time`]: { type: 'string', format: 'date-time', description: 'Time is a wrapper around time.Time.' },
    [`${META}.ObjectMeta`]: obj('ObjectMeta is metadata that all persisted resources must have.', {
      name: str('Name must be unique within a namespace.'),
      generateName: str('GenerateName is an optional prefix, used by the server, to generate a unique name.'),
      namespace: str('Namespace defines the space within which each name must be unique.'),
      selfLink: str(),
      uid: str('UID is the unique in time and space value for this object.'),
      resourceVersion: str('An opaque value that represents the internal version of this object.'),
      generation: int64('A sequence number representing a specific generation of the desired state.'),
      creationTimestamp: ref(`${META}.Time`),
      deletionTimestamp: ref(`${META}.Time`),
      deletionGracePeriodSeconds: int64(),
      labels: strMap('Map of string keys and values that can be used to organize and categorize objects.'),
      annotations: strMap('Annotations is an unstructured key value map stored with a resource.'),
      ownerReferences: arr(ref(`${META}.OwnerReference`), 'List of objects depended by this object.', merge('uid')),
      finalizers: arr(str(), 'Must be empty before the object is deleted from the registry.', { 'x-kubernetes-patch-strategy': 'merge' }),
      managedFields: arr(open()),
    }),
    [`${META}.OwnerReference`]: obj('OwnerReference contains enough information to let you identify an owning object.', {
      apiVersion: str(), kind: str(), name: str(), uid: str(), controller: bool(), blockOwnerDeletion: bool(),
    }, { required: ['apiVersion', 'kind', 'name', 'uid'] }),
    [`${META}.LabelSelector`]: obj('A label selector is a label query over a set of resources.', {
      matchLabels: strMap('matchLabels is a map of {key,value} pairs.'),
      matchExpressions: arr(open(), 'matchExpressions is a list of label selector requirements.'),
    }),
    [`${CORE}.PodTemplateSpec`]: obj('PodTemplateSpec describes the data a pod should have when created from a template', {
      metadata: ref(`${META}.ObjectMeta`),
      spec: ref(`${CORE}.PodSpec`, 'Specification of the desired behavior of the pod.'),
    }),
    [`${CORE}.PodSpec`]: obj('PodSpec is a description of a pod.', {
      volumes: arr(ref(`${CORE}.Volume`), 'List of volumes that can be mounted by containers belonging to the pod.', { ...merge('name'), 'x-kubernetes-patch-strategy': 'merge,retainKeys' }),
      initContainers: arr(ref(`${CORE}.Container`), 'List of initialization containers belonging to the pod.', merge('name')),
      containers: arr(ref(`${CORE}.Container`), 'List of containers belonging to the pod.', merge('name')),
      ephemeralContainers: arr(open(), '', merge('name')),
      restartPolicy: str('Restart policy for all containers within the pod. One of Always, OnFailure, Never.'),
      terminationGracePeriodSeconds: int64(),
      activeDeadlineSeconds: int64(),
      dnsPolicy: str(),
      nodeSelector: strMap('NodeSelector is a selector which must be true for the pod to fit on a node.'),
      serviceAccountName: str(),
      serviceAccount: str(),
      automountServiceAccountToken: bool(),
      nodeName: str(),
      hostNetwork: bool(),
      hostPID: bool(),
      hostIPC: bool(),
      shareProcessNamespace: bool(),
      securityContext: open(),
      imagePullSecrets: arr(open(), '', merge('name')),
      hostname: str(),
      subdomain: str(),
      affinity: open("If specified, the pod's scheduling constraints"),
      schedulerName: str(),
      tolerations: arr(open(), "If specified, the pod's tolerations."),
      hostAliases: arr(open(), '', merge('ip')),
      priorityClassName: str(),
      priority: int(),
      dnsConfig: open(),
      readinessGates: arr(open()),
      runtimeClassName: str(),
      enableServiceLinks: bool(),
      preemptionPolicy: str(),
      overhead: open(),
      topologySpreadConstraints: arr(open(), '', merge('topologyKey')),
      setHostnameAsFQDN: bool(),
      os: open(),
      hostUsers: bool(),
      schedulingGates: arr(open()),
      resourceClaims: arr(open()),
      resources: open(),
    }, { required: ['containers'] }),
    [`${CORE}.Container`]: container,
    [`${CORE}.ContainerPort`]: obj('ContainerPort represents a network port in a single container.', { name: str(), hostPort: int(), containerPort: int(), protocol: str(), hostIP: str() }, { required: ['containerPort'] }),
    [`${CORE}.EnvVar`]: obj('EnvVar represents an environment variable present in a Container.', { name: str(), value: str(), valueFrom: open() }, { required: ['name'] }),
    [`${CORE}.VolumeMount`]: obj('VolumeMount describes a mounting of a Volume within a container.', { name: str(), readOnly: bool(), recursiveReadOnly: str(), mountPath: str(), subPath: str(), mountPropagation: str(), subPathExpr: str() }, { required: ['name', 'mountPath'] }),
    [`${CORE}.ResourceRequirements`]: obj('ResourceRequirements describes the compute resource requirements.', { limits: { type: 'object', additionalProperties: open() }, requests: { type: 'object', additionalProperties: open() }, claims: arr(open()) }),
    [`${CORE}.Volume`]: obj('Volume represents a named volume in a pod that may be accessed by any container in the pod.', {
      name: str('name of the volume.'),
      persistentVolumeClaim: obj('PersistentVolumeClaimVolumeSource references the user\'s PVC in the same namespace.', { claimName: str(), readOnly: bool() }),
      ...openProps(volumeSources),
    }, { required: ['name'] }),
  };
}

function kindDefinitions(reg: ResourceRegistry): Record<string, Schema> {
  const r = (group: string, version: string, plural: string): ResourceInfo | undefined => reg.lookup(group, version, plural);
  const rbacRule = arr(obj('PolicyRule holds information that describes a policy rule.', { apiGroups: arr(str()), resources: arr(str()), verbs: arr(str()), resourceNames: arr(str()), nonResourceURLs: arr(str()) }));
  const subjects = arr(obj('Subject contains a reference to the object or user identities a role binding applies to.', { kind: str(), apiGroup: str(), name: str(), namespace: str() }));
  const roleRef = obj('RoleRef contains information that points to the role being used', { apiGroup: str(), kind: str(), name: str() });
  return {
    [`${CORE}.Pod`]: top(r('', 'v1', 'pods'), 'Pod is a collection of containers that can run on a host.', { spec: ref(`${CORE}.PodSpec`, 'Specification of the desired behavior of the pod.'), status: open('Most recently observed status of the pod.') }),
    [`${CORE}.Namespace`]: top(r('', 'v1', 'namespaces'), 'Namespace provides a scope for Names.', { spec: open(), status: open() }),
    [`${CORE}.Node`]: top(r('', 'v1', 'nodes'), 'Node is a worker node in Kubernetes.', { spec: open(), status: open() }),
    [`${CORE}.ServiceAccount`]: top(r('', 'v1', 'serviceaccounts'), 'ServiceAccount binds together a name, a principal, and a set of secrets.', { secrets: arr(open(), '', merge('name')), imagePullSecrets: arr(open()), automountServiceAccountToken: bool() }),
    [`${CORE}.ConfigMap`]: top(r('', 'v1', 'configmaps'), 'ConfigMap holds configuration data for pods to consume.', { data: strMap(), binaryData: strMap(), immutable: bool() }),
    [`${CORE}.Secret`]: top(r('', 'v1', 'secrets'), 'Secret holds secret data of a certain type.', { data: strMap(), stringData: strMap(), type: str(), immutable: bool() }),
    [`${CORE}.PersistentVolumeClaim`]: top(r('', 'v1', 'persistentvolumeclaims'), "PersistentVolumeClaim is a user's request for and claim to a persistent volume", { spec: open(), status: open() }),
    [`${CORE}.Event`]: top(r('', 'v1', 'events'), 'Event is a report of an event somewhere in the cluster.', openProps(['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance'])),
    'io.k8s.api.apps.v1.DaemonSet': top(r('apps', 'v1', 'daemonsets'), 'DaemonSet represents the configuration of a daemon set.', {
      spec: obj('DaemonSetSpec is the specification of a daemon set.', { selector: ref(`${META}.LabelSelector`), template: ref(`${CORE}.PodTemplateSpec`), updateStrategy: open(), minReadySeconds: int(), revisionHistoryLimit: int() }),
      status: open(),
    }),
    'io.k8s.api.batch.v1.Job': top(r('batch', 'v1', 'jobs'), 'Job represents the configuration of a single job.', {
      spec: obj('JobSpec describes how the job execution will look like.', {
        parallelism: int(), completions: int(), activeDeadlineSeconds: int64(), podFailurePolicy: open(), successPolicy: open(), backoffLimit: int(), backoffLimitPerIndex: int(), maxFailedIndexes: int(),
        selector: ref(`${META}.LabelSelector`), manualSelector: bool(), template: ref(`${CORE}.PodTemplateSpec`), ttlSecondsAfterFinished: int(), completionMode: str(), suspend: bool(), podReplacementPolicy: str(), managedBy: str(),
      }),
      status: open(),
    }),
    'io.k8s.api.coordination.v1.Lease': top(r('coordination.k8s.io', 'v1', 'leases'), 'Lease defines a lease concept.', { spec: open() }),
    'io.k8s.api.rbac.v1.Role': top(r('rbac.authorization.k8s.io', 'v1', 'roles'), 'Role is a namespaced, logical grouping of PolicyRules.', { rules: rbacRule }),
    'io.k8s.api.rbac.v1.ClusterRole': top(r('rbac.authorization.k8s.io', 'v1', 'clusterroles'), 'ClusterRole is a cluster level, logical grouping of PolicyRules.', { rules: rbacRule, aggregationRule: open() }),
    'io.k8s.api.rbac.v1.RoleBinding': top(r('rbac.authorization.k8s.io', 'v1', 'rolebindings'), 'RoleBinding references a role, but does not contain it.', { subjects, roleRef }),
    'io.k8s.api.rbac.v1.ClusterRoleBinding': top(r('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'), 'ClusterRoleBinding references a ClusterRole, but not contain it.', { subjects, roleRef }),
    'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition': top(r('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'), 'CustomResourceDefinition represents a resource that should be exposed on the API server.', { spec: open(), status: open() }),
    'io.k8s.api.authorization.v1.SelfSubjectAccessReview': top(r('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews'), 'SelfSubjectAccessReview checks whether or the current user can perform an action.', { spec: open(), status: open() }),
  };
}

function customDefinitions(reg: ResourceRegistry): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  // Like the real server, only CRDs with a schema get a definition; kubectl skips
  // client-side validation for kinds it cannot find, so schemaless CRs stay unconstrained.
  for (const r of reg.all().filter((x) => x.crd && x.schemaProperties !== undefined)) {
    const reversed = r.group.split('.').reverse().join('.');
    const props = Object.fromEntries((r.schemaProperties ?? []).filter((p) => !['apiVersion', 'kind', 'metadata'].includes(p)).map((p) => [p, open()]));
    out[`${reversed}.${r.version}.${r.kind}`] = top(r, `${r.kind} is a custom resource (${r.plural}.${r.group}).`, props);
  }
  return out;
}

/**
 * One PATCH operation per resource, carrying its GVK and a `dryRun` query parameter:
 * kubectl decides from these whether `--dry-run=server` is supported for a kind.
 */
function paths(reg: ResourceRegistry): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const r of reg.all()) {
    if (!r.verbs.includes('patch')) continue;
    const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
    const path = `${base}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
    out[path] = {
      patch: {
        operationId: `patch${r.kind}`,
        parameters: [{ name: 'dryRun', in: 'query', type: 'string', uniqueItems: true, description: 'When present, indicates that modifications should not be persisted.' }],
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, kind: r.kind, version: r.version },
      },
    };
  }
  return out;
}

/** The swagger 2.0 document as JSON. */
export function openApiV2(reg: ResourceRegistry): Schema {
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.30.0-snapshotctl-dev' },
    paths: paths(reg),
    definitions: { ...baseDefinitions(), ...kindDefinitions(reg), ...customDefinitions(reg) },
  };
}

/** JSON text of the document. */
export function openApiV2Json(reg: ResourceRegistry): string {
  return JSON.stringify(openApiV2(reg));
}

// ---- protobuf (gnostic openapi_v2.Document) ----

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

class Pb {
  readonly bytes: number[] = [];
  str(field: number, s: string | undefined): this {
    if (s === undefined || s === '') return this;
    const b = Buffer.from(s, 'utf8');
    this.bytes.push(...varint((field << 3) | 2), ...varint(b.length));
    for (const x of b) this.bytes.push(x);
    return this;
  }
  msg(field: number, m: Pb): this {
    this.bytes.push(...varint((field << 3) | 2), ...varint(m.bytes.length));
    for (const x of m.bytes) this.bytes.push(x);
    return this;
  }
  bool(field: number, v: boolean): this {
    if (v) this.bytes.push(...varint(field << 3), 1);
    return this;
  }
}

function named(name: string, value: Pb): Pb {
  return new Pb().str(1, name).msg(2, value);
}

/** Encode one JSON schema as openapi_v2.Schema. */
function schemaPb(s: Schema): Pb {
  const pb = new Pb();
  if (typeof s['$ref'] === 'string') pb.str(1, s['$ref']);
  if (typeof s['format'] === 'string') pb.str(2, s['format']);
  if (typeof s['description'] === 'string') pb.str(4, s['description']);
  if (Array.isArray(s['required'])) for (const r of s['required']) pb.str(19, String(r));
  const ap = s['additionalProperties'];
  if (isRecord(ap)) pb.msg(21, new Pb().msg(1, schemaPb(ap)));
  else if (typeof ap === 'boolean') pb.msg(21, new Pb().bool(2, ap));
  if (typeof s['type'] === 'string') pb.msg(22, new Pb().str(1, s['type']));
  if (isRecord(s['items'])) pb.msg(23, new Pb().msg(1, schemaPb(s['items'])));
  if (isRecord(s['properties'])) {
    const props = new Pb();
    for (const [k, v] of Object.entries(s['properties'])) if (isRecord(v)) props.msg(1, named(k, schemaPb(v)));
    pb.msg(25, props);
  }
  for (const [k, v] of Object.entries(s)) {
    if (!k.startsWith('x-')) continue;
    pb.msg(31, named(k, new Pb().str(2, JSON.stringify(v))));
  }
  return pb;
}

/** The document in the protobuf encoding kubectl requests (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). */
export function openApiV2Proto(reg: ResourceRegistry): Buffer {
  const doc = openApiV2(reg);
  const info = doc['info'] as Record<string, string>;
  const defs = new Pb();
  for (const [name, s] of Object.entries(doc['definitions'] as Record<string, Schema>)) defs.msg(1, named(name, schemaPb(s)));
  const pathsPb = new Pb();
  for (const [path, item] of Object.entries(doc['paths'] as Record<string, Schema>)) {
    const op = item['patch'] as Schema;
    const opPb = new Pb().str(5, String(op['operationId']));
    for (const p of op['parameters'] as Schema[]) {
      // ParametersItem.parameter → Parameter.non_body_parameter → NonBodyParameter.query_parameter_sub_schema
      const q = new Pb().str(2, String(p['in'])).str(3, String(p['description'])).str(4, String(p['name'])).str(6, String(p['type'])).bool(20, true);
      opPb.msg(8, new Pb().msg(1, new Pb().msg(2, new Pb().msg(3, q))));
    }
    for (const [k, v] of Object.entries(op)) if (k.startsWith('x-')) opPb.msg(13, named(k, new Pb().str(2, JSON.stringify(v))));
    pathsPb.msg(2, named(path, new Pb().msg(8, opPb)));
  }
  const pb = new Pb().str(1, '2.0').msg(2, new Pb().str(1, info['title']).str(2, info['version'])).msg(8, pathsPb).msg(9, defs);
  return Buffer.from(pb.bytes);
}

/** For tests: the apiVersion a definition's GVK maps to. */
export function gvkApiVersion(r: ResourceInfo): string {
  return apiVersionOf(r);
}
