/**
 * Cluster look-ups shared by checkpoint and restore: storage discovery (docs/protocol.md §2)
 * and the nodes where a snapshot agent is Ready (§11).
 */
import { ClusterError } from '../errors.js';
import { isApiStatus, toClusterError } from '../kube/errors.js';
import type { Reporter } from './context.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  checkBasePath,
  checkDnsSubdomain,
  describeAgentSelectors,
  discoverStorage,
  readyAgentNodes,
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
  type CheckpointStorage,
  type DaemonSet,
  type Pod,
} from '../protocol/index.js';

const INSTALL_HINT = 'install the agent with `kubectl apply -f manifests/ -n <namespace>` (see manifests/README.md)';

/** Find the checkpoint PVC and base path from the agent DaemonSet in `namespace`. */
export async function findStorage(
  client: KubeClient,
  namespace: string,
  signal?: AbortSignal,
): Promise<{ storage: CheckpointStorage; daemonSet: DaemonSet }> {
  const list = async (selector: string) => {
    try {
      return (await client.list<DaemonSet>(RESOURCES.daemonsets, namespace, { labelSelector: selector, ...(signal ? { signal } : {}) })).items;
    } catch (err) {
      throw toClusterError(err);
    }
  };
  const byComponent = await list(AGENT_SELECTOR_COMPONENT);
  const byName = await list(AGENT_SELECTOR_NAME);
  const found = discoverStorage({ byComponent, byName });
  if (found.found) {
    // The mount path prefixes every path built under it (helper pods' rm -rf and cp),
    // and the claim goes into pod specs: both come from the cluster, so check them too.
    const { pvcName, basePath } = found.storage;
    const problems = [...checkBasePath(basePath).map((p) => `its mount path "${basePath}" ${p}`), ...checkDnsSubdomain(pvcName).map((p) => `its claim name "${pvcName}" ${p}`)];
    if (problems.length > 0) {
      throw new ClusterError(
        `snapshot agent DaemonSet "${found.daemonSet.metadata.name ?? '?'}" in namespace "${namespace}" has a checkpoint volume snapshotctl cannot use: ${problems.join('; ')}`,
        'fix the agent DaemonSet (manifests/agent-daemonset.yaml mounts the PVC at /checkpoints), or pass --pvc and --base-path',
      );
    }
    return { storage: found.storage, daemonSet: found.daemonSet };
  }
  if (found.reason === 'no-daemonset') {
    throw new ClusterError(
      `no snapshot agent DaemonSet in namespace "${namespace}" (looked for labels ${describeAgentSelectors()})`,
      `${INSTALL_HINT}, or pass -n with the namespace where it runs`,
    );
  }
  throw new ClusterError(
    `snapshot agent DaemonSet ${found.daemonSets.map((n) => `"${n}"`).join(', ')} in namespace "${namespace}" does not mount a PVC-backed checkpoint volume in container "agent"`,
    'mount the checkpoint PVC in the agent (volume "checkpoints" at /checkpoints, as in manifests/agent-daemonset.yaml), or pass --pvc and --base-path',
  );
}

/** Label selector that finds the DaemonSet's pods. */
function podSelectorOf(ds: DaemonSet): string {
  const matchLabels = (ds.spec?.['selector'] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  const labels = matchLabels ?? ds.spec?.template?.metadata?.labels ?? {};
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * Nodes where a pod of the agent DaemonSet is Running and Ready; undefined when RBAC
 * does not let us see the agent's pods (placement is then left to the scheduler).
 */
export async function findAgentNodes(client: KubeClient, namespace: string, ds: DaemonSet): Promise<string[] | undefined> {
  const selector = podSelectorOf(ds);
  try {
    const pods = await client.list<Pod>(RESOURCES.pods, namespace, { labelSelector: selector });
    return readyAgentNodes(pods.items);
  } catch (err) {
    if (isApiStatus(err, 403)) return undefined;
    throw toClusterError(err);
  }
}

/**
 * The nodes a new checkpoint or restore pod may go to: every ready agent node, or the
 * one `--node` names. Throws before anything is created when there is none.
 */
export async function placementNodes(
  client: KubeClient,
  namespace: string,
  ds: DaemonSet,
  pinned: string | undefined,
  reporter: Reporter,
): Promise<string[] | undefined> {
  const nodes = await findAgentNodes(client, namespace, ds);
  if (nodes === undefined) {
    if (pinned !== undefined) return [pinned];
    reporter.warn(
      `not allowed to list pods in namespace "${namespace}", so the agent's nodes are unknown; scheduling is left to the cluster (as in v1.0.x). Grant pods list (manifests/rbac-cli.yaml) to place pods on agent nodes`,
    );
    return undefined;
  }
  const dsName = ds.metadata.name ?? 'snapshot-agent';
  if (nodes.length === 0) {
    throw new ClusterError(
      `no snapshot agent pod is Running and Ready in namespace "${namespace}" (DaemonSet "${dsName}"), so nothing could checkpoint or restore`,
      `check \`kubectl get pods -n ${namespace} -l ${podSelectorOf(ds)} -o wide\`; the agent runs only on nodes its nodeSelector matches`,
    );
  }
  if (pinned !== undefined && !nodes.includes(pinned)) {
    throw new ClusterError(
      `no Ready snapshot agent runs on node "${pinned}" (ready on: ${nodes.join(', ')})`,
      'pick one of those nodes with --node, or leave --node out',
    );
  }
  return pinned !== undefined ? [pinned] : nodes;
}
