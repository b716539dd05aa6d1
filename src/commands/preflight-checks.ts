/**
 * The cluster side of `preflight`: storage discovery, the PVC, the agent DaemonSet and
 * the caller's permissions, each turned into a check. Every API failure becomes a
 * failed check (never a thrown error), marked `clusterError` when the cluster could
 * not be read at all, so the report always comes out whole.
 */
import { ApiError, explainApiError, isApiStatus } from '../kube/errors.js';
import { RESOURCES, type KubeClient, type ResourceType } from '../kube/types.js';
import {
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
  describeAgentSelectors,
  discoverStorage,
  readyAgentNodes,
  type CheckpointStorage,
  type DaemonSet,
  type KubeObject,
  type Pod,
} from '../protocol/index.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';
export type CheckId = 'manifest' | 'rbac' | 'storage' | 'pvc' | 'agent' | 'seccomp' | 'image';

/** A sub-line of a check: one tool, one denied permission. */
export interface CheckItem {
  name: string;
  ok: boolean;
  /** Not ok, but only a warning (shown with `!`). */
  warning?: boolean;
}

/** One line of the checklist. */
export interface PreflightCheck {
  id: CheckId;
  title: string;
  status: CheckStatus;
  detail: string;
  /** The next step when it did not pass. */
  fix?: string;
  items?: CheckItem[];
  /** The check could not be done: the cluster was unreachable or refused our own read (exit 3). */
  clusterError?: boolean;
}

/** SelfSubjectAccessReview (authorization.k8s.io/v1), cluster-scoped, create only. */
export const SELF_SUBJECT_ACCESS_REVIEWS: ResourceType = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'selfsubjectaccessreviews',
  kind: 'SelfSubjectAccessReview',
  namespaced: false,
};

/** The Role in manifests/ that grants what the flows need. */
const RBAC_MANIFEST = 'manifests/rbac-cli.yaml';

/** Every permission checkpoint, restore and their cleanup use in the target namespace (manifests/rbac-cli.yaml). */
export const FLOW_PERMISSIONS: ReadonlyArray<{ group: string; resource: string; verbs: readonly string[] }> = [
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { group: 'batch', resource: 'jobs', verbs: ['get', 'list', 'watch', 'create', 'delete'] },
  { group: 'apps', resource: 'daemonsets', verbs: ['list'] },
  { group: '', resource: 'events', verbs: ['list'] },
  { group: '', resource: 'persistentvolumeclaims', verbs: ['get'] },
];

/** One permission and the API server's answer. */
export interface AccessCheck {
  verb: string;
  group: string;
  resource: string;
  allowed: boolean;
  reason?: string;
}

/** `jobs.batch`, kubectl's way of naming a resource. */
function resourceName(a: { group: string; resource: string }): string {
  return a.group ? `${a.resource}.${a.group}` : a.resource;
}

/** No answer arrived at all: the cluster cannot be reached. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof ApiError && err.status === 0;
}

/** A failed check from an API error; `clusterError` because our own read failed. */
function apiFailure(base: { id: CheckId; title: string }, err: unknown): PreflightCheck {
  const { message, hint } = explainApiError(err);
  return { ...base, status: 'fail', detail: message, fix: hint, clusterError: true };
}

/** Reviews in flight at once: quick on a distant API server, few listeners on the abort signal. */
const REVIEW_CONCURRENCY = 4;

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Ask the API server about every permission of FLOW_PERMISSIONS, a few at a time. */
export async function checkPermissions(client: KubeClient, namespace: string, signal: AbortSignal): Promise<{ check: PreflightCheck; access: AccessCheck[] }> {
  const base = { id: 'rbac' as const, title: `permissions for checkpoint and restore in namespace "${namespace}"` };
  const wanted = FLOW_PERMISSIONS.flatMap((p) => p.verbs.map((verb) => ({ verb, group: p.group, resource: p.resource })));
  let access: AccessCheck[];
  try {
    access = await mapLimited(
      wanted,
      REVIEW_CONCURRENCY,
      async (w): Promise<AccessCheck> => {
        const review = await client.create<KubeObject>(
          SELF_SUBJECT_ACCESS_REVIEWS,
          undefined,
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            metadata: {},
            spec: { resourceAttributes: { namespace, verb: w.verb, group: w.group, resource: w.resource } },
          },
          { signal },
        );
        const status = (review['status'] ?? {}) as { allowed?: unknown; reason?: unknown };
        const reason = typeof status.reason === 'string' && status.reason !== '' ? status.reason : undefined;
        return { ...w, allowed: status.allowed === true, ...(reason ? { reason } : {}) };
      },
    );
  } catch (err) {
    if (isUnreachable(err)) throw err;
    return { check: apiFailure(base, err), access: [] };
  }
  const denied = access.filter((a) => !a.allowed);
  const items = denied.map((a) => ({ name: `${a.verb} ${resourceName(a)}`, ok: false }));
  if (denied.length === 0) return { check: { ...base, status: 'pass', detail: `all ${access.length} allowed` }, access };
  return {
    check: {
      ...base,
      status: 'fail',
      detail: `denied: ${items.map((i) => i.name).join(', ')}`,
      fix: `grant them with the Role in ${RBAC_MANIFEST}: kubectl apply -f ${RBAC_MANIFEST} -n ${namespace} (then bind it to your user or ServiceAccount)`,
      items,
    },
    access,
  };
}

/** Storage discovery as checkpoint and restore do it (docs/protocol.md §2). */
export async function checkStorage(
  client: KubeClient,
  namespace: string,
  signal: AbortSignal,
): Promise<{ check: PreflightCheck; storage?: CheckpointStorage; daemonSet?: DaemonSet }> {
  const base = { id: 'storage' as const, title: 'checkpoint storage discovered from the agent DaemonSet' };
  let byComponent: DaemonSet[];
  let byName: DaemonSet[];
  try {
    byComponent = (await client.list<DaemonSet>(RESOURCES.daemonsets, namespace, { labelSelector: AGENT_SELECTOR_COMPONENT, signal })).items;
    byName = (await client.list<DaemonSet>(RESOURCES.daemonsets, namespace, { labelSelector: AGENT_SELECTOR_NAME, signal })).items;
  } catch (err) {
    if (isUnreachable(err)) throw err;
    return { check: apiFailure(base, err) };
  }
  const found = discoverStorage({ byComponent, byName });
  if (found.found) {
    const s = found.storage;
    return { check: { ...base, status: 'pass', detail: `PVC ${s.pvcName} at ${s.basePath} (DaemonSet ${found.daemonSet.metadata.name ?? '?'})` }, storage: s, daemonSet: found.daemonSet };
  }
  if (found.reason === 'no-daemonset') {
    return {
      check: {
        ...base,
        status: 'fail',
        detail: `no snapshot agent DaemonSet in namespace "${namespace}" (looked for labels ${describeAgentSelectors()})`,
        fix: 'install the agent with `kubectl apply -f manifests/ -n <namespace>` (see manifests/README.md), or pass -n with the namespace where it runs',
      },
    };
  }
  return {
    check: {
      ...base,
      status: 'fail',
      detail: `DaemonSet ${found.daemonSets.map((n) => `"${n}"`).join(', ')} does not mount a PVC-backed checkpoint volume in container "agent"`,
      fix: 'mount the checkpoint PVC in the agent (volume "checkpoints" at /checkpoints, as in manifests/agent-daemonset.yaml)',
    },
  };
}

/** The checkpoint PVC exists and is Bound. */
export async function checkPvc(client: KubeClient, namespace: string, pvcName: string, signal: AbortSignal): Promise<PreflightCheck> {
  const base = { id: 'pvc' as const, title: `PVC ${pvcName} is Bound` };
  let pvc: KubeObject;
  try {
    pvc = await client.get(RESOURCES.persistentvolumeclaims, namespace, pvcName, { signal });
  } catch (err) {
    if (isUnreachable(err)) throw err;
    if (isApiStatus(err, 404)) {
      return {
        ...base,
        status: 'fail',
        detail: `PVC "${pvcName}" does not exist in namespace "${namespace}", but the agent DaemonSet mounts it`,
        fix: `create it (manifests/pvc.yaml: kubectl apply -f manifests/pvc.yaml -n ${namespace}); the agent pods cannot start without it`,
      };
    }
    return apiFailure(base, err);
  }
  const phase = String((pvc['status'] as { phase?: unknown } | undefined)?.phase ?? 'Pending');
  if (phase === 'Bound') {
    const volume = (pvc['spec'] as { volumeName?: unknown } | undefined)?.volumeName;
    return { ...base, status: 'pass', detail: `Bound${typeof volume === 'string' && volume ? ` to ${volume}` : ''}` };
  }
  return {
    ...base,
    status: 'fail',
    detail: `PVC "${pvcName}" is ${phase}, not Bound`,
    fix: `see why with \`kubectl describe pvc ${pvcName} -n ${namespace}\` (no matching PersistentVolume or StorageClass, or a StorageClass that binds on first use while no agent pod runs)`,
  };
}

/** The agent DaemonSet: desired vs ready, and the nodes with a Ready agent. */
export async function checkAgent(
  client: KubeClient,
  namespace: string,
  ds: DaemonSet,
  pinned: string | undefined,
  signal: AbortSignal,
): Promise<{ check: PreflightCheck; nodes: string[] | undefined; desired: number; ready: number }> {
  const name = ds.metadata.name ?? 'snapshot-agent';
  const base = { id: 'agent' as const, title: `snapshot agent DaemonSet ${name} is ready` };
  const desired = Number(ds.status?.desiredNumberScheduled ?? 0);
  const ready = Number(ds.status?.numberReady ?? 0);
  const selector = podSelector(ds);
  let nodes: string[] | undefined;
  let nodesNote = '';
  try {
    nodes = readyAgentNodes((await client.list<Pod>(RESOURCES.pods, namespace, { labelSelector: selector, signal })).items);
  } catch (err) {
    if (isUnreachable(err)) throw err;
    if (!isApiStatus(err, 403)) return { check: apiFailure(base, err), nodes: undefined, desired, ready };
    nodesNote = '; which nodes is unknown (pods list is forbidden)';
  }
  const counts = `${ready}/${desired} ready`;
  const where = nodes === undefined ? nodesNote : nodes.length > 0 ? ` on ${nodes.join(', ')}` : '';
  const inspect = `kubectl get pods -n ${namespace} -l ${selector} -o wide`;
  const out = (check: Omit<PreflightCheck, 'id' | 'title'>) => ({ check: { ...base, ...check }, nodes, desired, ready });
  if (ready === 0 || (nodes !== undefined && nodes.length === 0)) {
    return out({
      status: 'fail',
      detail: `no agent pod is Running and Ready (${counts}): nothing could checkpoint or restore`,
      fix: desired === 0 ? 'no node matches the DaemonSet\'s nodeSelector (GPU nodes need the label it selects, e.g. nvidia.com/gpu.present=true)' : `see why with \`${inspect}\``,
    });
  }
  if (pinned !== undefined && nodes !== undefined && !nodes.includes(pinned)) {
    return out({ status: 'fail', detail: `no Ready agent on node "${pinned}" (${counts}${where})`, fix: 'pick one of the ready nodes with --node, or leave --node out' });
  }
  if (ready < desired) {
    return out({ status: 'warn', detail: `${counts}${where}: pods on the other nodes cannot be checkpointed or restored`, fix: `see why with \`${inspect}\`` });
  }
  return out({ status: 'pass', detail: `${counts}${where}` });
}

/** Label selector that finds the DaemonSet's pods. */
function podSelector(ds: DaemonSet): string {
  const matchLabels = (ds.spec?.['selector'] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  const labels = matchLabels ?? ds.spec?.template?.metadata?.labels ?? {};
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
