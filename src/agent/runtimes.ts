/**
 * The node's container runtime as the standalone agent (`snapshotctl agent`) sees it:
 * how it signals a pod's container, finds its process, and hands a restored process
 * tree to the container. One factory per `--runtime` value, in `AGENT_RUNTIMES`; a
 * containerd runtime (CRI socket + /proc of the host) slots in here as another entry.
 *
 * Inside the dev cluster the agents get the dev kubelet instead (src/dev/cluster.ts),
 * which is in the same process; a separate agent process cannot reach it.
 *
 * The CLI's `--help` reads this table, so it must stay cheap to import: an entry
 * loads its implementation inside `create()` (`await import(...)`), not at the top.
 */
import type { AgentLog } from './agent.js';
import type { NodeRuntime } from './engine.js';
import type { EngineName } from './engines.js';

/** What the agent needs from the node's container runtime. */
export interface AgentRuntime {
  readonly name: string;
  /** Engines that can work through this runtime, best first. */
  readonly engines: readonly EngineName[];
  /** For real engines: inspect a container's process, adopt a restored tree. */
  readonly node?: NodeRuntime;
  /** Send a signal to a pod's first container (SIGUSR1 after a checkpoint, SIGKILL on failure). */
  signalContainer(namespace: string, pod: string, sig: NodeJS.Signals): Promise<void>;
  /** Host PID of a pod's first container, when the runtime can tell. */
  lookupPid?(namespace: string, pod: string): number | undefined;
  /** Release what the runtime holds (sockets); called after the agent stopped. */
  close?(): Promise<void>;
}

export interface RuntimeContext {
  log: AgentLog;
  env: NodeJS.ProcessEnv;
  /** `--containerd-address`: containerd's socket on the node. */
  containerdAddress?: string;
}

/** containerd's usual socket, as the DaemonSet mounts it. */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

/**
 * `containerd`: a real Kubernetes node (containerd 1.6 or later), through its socket and
 * `ctr` (see containerd.ts). Pods are found by the CRI's labels, signals go through
 * containerd, and the sim engine writes a placeholder's ready file inside its container.
 * The criu engine (`--engine criu`) runs criu inside the worker's and the placeholder's
 * container namespaces (criu/container.ts; docs/agent.md, "CRIU on a real node"); sim stays the default so
 * that an agent without `--engine` behaves as before. The cuda engine (`--engine cuda`)
 * wraps that with NVIDIA's CUDA checkpoint on the containers' host PIDs, from the agent
 * (cuda/engine.ts); it has run on a real kubelet node only with a stand-in CUDA helper
 * (no GPU node here), see test/real/cuda.test.ts.
 */
async function createContainerdAgentRuntime(ctx: RuntimeContext): Promise<AgentRuntime> {
  const { createContainerdRuntime } = await import('./containerd.js');
  const address = ctx.containerdAddress ?? DEFAULT_CONTAINERD_ADDRESS;
  const rt = createContainerdRuntime({ address });
  const ids = new Map<string, string>();
  const find = async (namespace: string, pod: string): Promise<string> => {
    const id = await rt.findContainer(namespace, pod);
    if (!id) throw new Error(`no running container of pod ${namespace}/${pod} in containerd (${address})`);
    ids.set(`${namespace}/${pod}`, id);
    return id;
  };
  // Fails at start, not at the first checkpoint, when the socket is wrong.
  await rt.pid('0'.repeat(64));
  return {
    name: 'containerd',
    engines: ['sim', 'criu', 'cuda'],
    node: rt,
    async signalContainer(namespace, pod, sig) {
      await rt.signal(await find(namespace, pod), sig);
    },
    lookupPid(namespace, pod) {
      const id = ids.get(`${namespace}/${pod}`);
      if (id === undefined) {
        // Resolve in the background for the next look-up; the sim engine needs no PID.
        void find(namespace, pod).catch(() => {});
        return undefined;
      }
      return rt.cachedPid(id);
    },
  };
}

export interface RuntimeEntry {
  /** One line for `--help` and errors. */
  description: string;
  create(ctx: RuntimeContext): Promise<AgentRuntime>;
}

/**
 * `sim`: containers the agent cannot reach (the dev API server's simulated nodes, or
 * any cluster when only the protocol is being exercised). Signals are logged, not
 * delivered; only the sim engine works through it.
 */
async function createSimRuntime(ctx: RuntimeContext): Promise<AgentRuntime> {
  return {
    name: 'sim',
    engines: ['sim'],
    async signalContainer(namespace, pod, sig) {
      ctx.log('info', `runtime sim: ${sig} for ${namespace}/${pod} not delivered (this runtime has no access to container processes)`);
    },
  };
}

/** Every `--runtime` value, default first. */
export const AGENT_RUNTIMES: Readonly<Record<string, RuntimeEntry>> = {
  sim: { description: 'no access to container processes: signals are logged, only the sim engine works', create: createSimRuntime },
  containerd: {
    description: 'a real node: containers through containerd\'s socket (--containerd-address) and ctr; the sim engine (default), criu (--engine criu) or cuda (--engine cuda: CUDA checkpoint + criu)',
    create: createContainerdAgentRuntime,
  },
};

/** The default `--runtime`. */
export const DEFAULT_RUNTIME = 'sim';

/** The `--runtime` names. */
export function runtimeNames(): string[] {
  return Object.keys(AGENT_RUNTIMES);
}
