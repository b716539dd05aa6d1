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
};

/** The default `--runtime`. */
export const DEFAULT_RUNTIME = 'sim';

/** The `--runtime` names. */
export function runtimeNames(): string[] {
  return Object.keys(AGENT_RUNTIMES);
}
