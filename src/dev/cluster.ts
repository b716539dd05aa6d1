/**
 * The whole embedded dev cluster: the API server with its controllers and simulated
 * nodes, `manifests/` applied to it exactly as a user applies them to a real cluster,
 * and one snapshot agent per node where the agent DaemonSet's pod runs, each talking
 * to the API through the same HTTP client a real agent would use.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createKubeClient } from '../kube/client.js';
import { RESOURCES, type KubeClient, type ResourceType } from '../kube/types.js';
import { AGENT_SELECTOR_COMPONENT, isPodReady, type KubeObject, type Pod } from '../protocol/index.js';
import { SECCOMP_PROFILE, SECCOMP_TYPE } from '../protocol/constants.js';
import { startAgent, type AgentLogLevel, type RunningAgent } from '../agent/agent.js';
import { locateNoIoUring } from '../agent/criu/locate.js';
import type { NodeRuntime } from '../agent/engine.js';
import { chooseEngine, createEngine, ENGINE_NAMES, unavailableEngine, type EngineName } from '../agent/engines.js';
import { startApiServer, type DevApiServer, type ImageToolsRule, type NodeSpec } from './api/index.js';
import { startDckptController, type RunningDckptController } from './dckpt-controller.js';
import { dynamoCheckpointCrd } from './dckpt-crd.js';
import { DEFAULT_PVC_NAME } from '../protocol/constants.js';
import { EnvironmentError } from '../errors.js';
import { writeMarker } from './ownership.js';

/** Prefix of every temporary directory the dev cluster makes (so leftovers can be found). */
export const DEV_TMP_PREFIX = 'snapshotctl-dev-';
/** The node label the agent DaemonSet in `manifests/` selects. */
export const GPU_NODE_LABEL = 'nvidia.com/gpu.present';

/** `manifests/` of this package (works from `src/` under vitest and from `dist/`). */
export const MANIFESTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../manifests');

export interface DevClusterOptions {
  /** Nodes in all (default 2). */
  nodes?: number;
  /** How many of them are GPU nodes running the agent (default: all). */
  gpuNodes?: number;
  /** Engine by name; default the best whose probe passes on this machine. */
  engine?: EngineName;
  /** Container runtime of the simulated nodes (default `sim`). */
  runtime?: 'sim' | 'process';
  /** API port (default 0: any free port). */
  port?: number;
  /** State directory (kubeconfig, checkpoint storage); default a new temp dir removed on close. */
  dir?: string;
  /** Namespace the manifests are applied to (default `default`). */
  namespace?: string;
  /** Probe delay of simulated containers, ms. */
  readyDelayMs?: number;
  /** Log lines from the agents and the cluster. */
  log?: (line: string, level: AgentLogLevel) => void;
  /**
   * Which tools each image has when `snapshotctl preflight` probes it (first matching
   * pattern wins; see src/dev/api/probe-tools.ts). Default: images whose name contains
   * `placeholder` have every tool, any other image only `sleep`.
   */
  imageTools?: readonly ImageToolsRule[];
}

/** A running dev cluster. */
export interface DevCluster {
  readonly url: string;
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly dir: string;
  /** Local directory standing for the checkpoint PVC (shared by all nodes, like RWX). */
  readonly storageRoot: string;
  readonly engine: { name: string; simulated: boolean; skipped: Array<{ name: string; reason: string }> };
  readonly api: DevApiServer;
  /** Agents by node name. */
  readonly agents: Map<string, RunningAgent>;
  /** Objects created from `manifests/`, as `Kind/name`. */
  readonly applied: string[];
  close(): Promise<void>;
}

/** Resource types for the kinds `manifests/` holds. */
const APPLY_TYPES: Record<string, ResourceType> = {
  Namespace: RESOURCES.namespaces,
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  ClusterRoleBinding: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
  },
  PersistentVolumeClaim: RESOURCES.persistentvolumeclaims,
  DaemonSet: RESOURCES.daemonsets,
  Job: RESOURCES.jobs,
  Pod: RESOURCES.pods,
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
};

/**
 * Create every object of the `.yaml` files directly in `dir` (not sub-folders, as
 * `kubectl apply -f dir` does) through the client. Returns `Kind/name` of each.
 */
export async function applyManifests(client: KubeClient, dir: string, namespace: string): Promise<string[]> {
  const applied: string[] = [];
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  for (const file of files) {
    const docs = parseAllDocuments(await readFile(join(dir, file), 'utf8'));
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      const obj = doc.toJS() as KubeObject | null;
      if (!obj || typeof obj !== 'object') continue;
      const res = APPLY_TYPES[obj.kind ?? ''];
      if (!res) throw new Error(`${file}: the dev cluster cannot apply kind ${String(obj.kind)}`);
      await client.create(res, res.namespaced ? namespace : undefined, obj);
      applied.push(`${obj.kind}/${obj.metadata?.name ?? ''}`);
    }
  }
  return applied;
}

/** Node specs: the first `gpu` nodes are GPU nodes (agent runs there), the rest are not. */
function nodeSpecs(total: number, gpu: number): NodeSpec[] {
  return Array.from({ length: total }, (_, i) =>
    i < gpu ? { name: `node-${i + 1}`, labels: { [GPU_NODE_LABEL]: 'true' }, gpus: 1 } : { name: `node-${i + 1}` },
  );
}

async function waitForAgentPods(api: DevApiServer, namespace: string, count: number, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = api.store.list('pods', { namespace, labelSelector: AGENT_SELECTOR_COMPONENT }) as unknown as Pod[];
    const ready = pods.filter(isPodReady).map((p) => p.spec.nodeName ?? '');
    if (ready.length >= count) return ready.sort();
    if (Date.now() > deadline) {
      throw new Error(`the agent DaemonSet's pods did not become Ready (${ready.length}/${count} after ${timeoutMs} ms)`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Start a dev cluster; `close()` stops every process, timer and socket and removes its
 * temp dir. A failure to start (engine unavailable, port in use) leaves nothing behind.
 */
export async function startDevCluster(opts: DevClusterOptions = {}): Promise<DevCluster> {
  const namespace = opts.namespace ?? 'default';
  const total = opts.nodes ?? 2;
  const gpu = Math.min(opts.gpuNodes ?? total, total);
  const log = opts.log ?? (() => {});

  // Real engines save real processes: with simulated containers only sim can work.
  // Chosen before anything is made, so an engine that cannot run here costs nothing.
  const candidates = ENGINE_NAMES.map((n) =>
    n === 'sim' || opts.runtime === 'process' ? createEngine(n) : unavailableEngine(n, `needs real processes; the dev cluster runs the sim runtime (use --runtime process)`),
  );
  const choice = await chooseEngine(opts.engine, candidates).catch((err: unknown) => {
    throw new EnvironmentError(`${err instanceof Error ? err.message : String(err)}`, engineHint(opts.engine, opts.runtime ?? 'sim'));
  });

  const ownsDir = opts.dir === undefined;
  let dir: string;
  if (opts.dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), DEV_TMP_PREFIX));
    // Names this process as the owner, so `dev status` knows the dir is in use, not left behind.
    await writeMarker(dir, 'dev-temp').catch(async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
  } else dir = opts.dir;
  const storageRoot = join(dir, 'checkpoints');
  const agents = new Map<string, RunningAgent>();
  let api: DevApiServer | undefined;
  let dckpt: RunningDckptController | undefined;
  const close = async () => {
    await dckpt?.stop();
    await Promise.all([...agents.values()].map((a) => a.stop()));
    agents.clear();
    await api?.close();
    if (ownsDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(storageRoot, { recursive: true });
    const server = await startApiServer({
      nodes: nodeSpecs(total, gpu),
      runtime: opts.runtime ?? 'sim',
      workRoot: dir,
      launcher: seccompLauncher(),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.readyDelayMs !== undefined ? { readyDelayMs: opts.readyDelayMs } : {}),
      ...(opts.imageTools ? { imageTools: opts.imageTools } : {}),
    });
    api = server;
    // The checkpoint PVC of manifests/ is storageRoot, so the short-lived reader and
    // remover pods of `describe` and `delete --artifacts` see what the agents wrote.
    api.nodes.setVolumeResolver((ns, claim) => (ns === namespace && claim === DEFAULT_PVC_NAME ? storageRoot : undefined));
    const kubeconfigPath = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfigPath, { namespace });
    if (namespace !== 'default' && namespace !== 'kube-system') api.store.create('namespaces', { metadata: { name: namespace } });
    const client = await createKubeClient({ kubeconfig: kubeconfigPath });
    const applied = await applyManifests(client, MANIFESTS_DIR, namespace);
    // What Dynamo's operator brings: the DynamoCheckpoint CRD and a controller driving it.
    await client.create(APPLY_TYPES['CustomResourceDefinition']!, undefined, dynamoCheckpointCrd());
    dckpt = startDckptController({
      client: await createKubeClient({ kubeconfig: kubeconfigPath }),
      namespace,
      wrapCudaCheckpoint: opts.runtime !== 'process',
      log: (line) => log(`[dckpt-controller] ${line}`, 'info'),
    });
    const agentNodes = await waitForAgentPods(server, namespace, gpu);
    for (const nodeName of agentNodes) {
      const agentClient = await createKubeClient({ kubeconfig: kubeconfigPath });
      agents.set(
        nodeName,
        startAgent({
          client: agentClient,
          nodeName,
          storageRoot,
          engine: createEngine(choice.engine.name as EngineName, { runtime: nodeRuntime(server) }),
          namespace,
          signalContainer: async (ns, pod, sig) => {
            await server.nodes.containerFor(ns, pod)?.signal(sig);
          },
          lookupPid: (ns, pod) => server.nodes.containerFor(ns, pod)?.pid,
          log: (level, message) => log(`[agent ${nodeName}] ${message}`, level),
        }),
      );
    }
    return {
      url: server.url,
      kubeconfigPath,
      namespace,
      dir,
      storageRoot,
      engine: { name: choice.engine.name, simulated: choice.engine.simulated, skipped: choice.skipped },
      api: server,
      agents,
      applied,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** How to get the engine `wanted` working, or to do without it. */
function engineHint(wanted: EngineName | undefined, runtime: 'sim' | 'process'): string {
  const without = 'or leave --engine out to use the best engine that works here (sim always does)';
  if (wanted !== undefined && wanted !== 'sim' && runtime !== 'process') return `add --runtime process (real engines save real processes), ${without}`;
  if (wanted === 'criu') return `run scripts/setup-criu.sh as root (or set SNAPSHOTCTL_CRIU to a criu binary), and run as root; ${without}`;
  if (wanted === 'cuda') return `run on a Linux machine with an NVIDIA GPU and driver 570 or newer, with CRIU set up (scripts/setup-criu.sh); ${without}`;
  return without;
}

/**
 * How the dev nodes apply the block-iouring seccomp profile to process containers
 * that ask for it (checkpoint Jobs and placeholders do): through the no-io-uring
 * launcher that scripts/setup-criu.sh builds. Without it such pods run unconfined,
 * and a CRIU dump of a runtime that uses io_uring fails with a hint saying so.
 */
function seccompLauncher(): (pod: KubeObject) => string[] | undefined {
  const launcher = locateNoIoUring();
  return (pod) => {
    const profile = (pod.spec as { securityContext?: { seccompProfile?: { type?: string; localhostProfile?: string } } } | undefined)?.securityContext?.seccompProfile;
    return launcher && profile?.type === SECCOMP_TYPE && profile.localhostProfile === SECCOMP_PROFILE ? [launcher] : undefined;
  };
}

/** The kubelet seen as a node's container runtime, for real engines. */
function nodeRuntime(api: DevApiServer): NodeRuntime {
  return {
    inspect(ref) {
      const h = api.nodes.containerFor(ref.namespace, ref.podName, ref.containerName);
      if (!h?.running || h.pid === undefined) return undefined;
      const logPath = (h as { logPath?: unknown }).logPath;
      return { pid: h.pid, ...(h.workDir ? { workDir: h.workDir } : {}), ...(typeof logPath === 'string' ? { logPath } : {}) };
    },
    adopt(ref, pid, exited) {
      api.nodes.adoptProcess(ref.namespace, ref.podName, pid, exited, ref.containerName);
    },
  };
}

/** One line naming the engine, and saying plainly when it is simulated. */
export function describeEngine(engine: DevCluster['engine']): string {
  const base = engine.simulated
    ? `engine ${engine.name} (SIMULATED: follows the protocol exactly but saves no process state)`
    : `engine ${engine.name} (real checkpoints)`;
  const skipped = engine.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return skipped ? `${base}; not available here: ${skipped}` : base;
}
