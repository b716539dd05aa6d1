/**
 * The seam between the snapshot agent's protocol logic and the thing that actually
 * saves and restores a worker. The agent owns everything Kubernetes-facing (watching,
 * leases, events, annotations, signals after the verdict, the artifact's manifest and
 * its atomic publication); an engine only turns a running container into files in a
 * directory and back. That split lets real engines (CRIU dump of a process tree, CUDA
 * checkpoint through the driver) plug in without touching the agent.
 */
import type { Pod } from '../protocol/types.js';

/** Log sink handed to engines; lines end up in the agent's log. */
export type EngineLog = (message: string) => void;

/** The container an engine works on, as the agent resolved it on this node. */
export interface ContainerRef {
  namespace: string;
  podName: string;
  podUid: string;
  /** `spec.containers[0].name`. */
  containerName: string;
  /** Runtime ID without the `containerd://` prefix, when the kubelet reported one. */
  containerId?: string;
  /**
   * Host PID of the container's main process, when the node can tell (the dev
   * cluster's `process` runtime, or a real node through the container runtime).
   * Real engines need it; the simulated one does not.
   */
  pid?: number;
  /** Send a signal to the container's main process. */
  signal(sig: NodeJS.Signals): Promise<void>;
}

/** Result of `probe()`: can this engine work on this machine? */
export interface EngineProbe {
  ok: boolean;
  /** Why not (missing binary, kernel too old, no GPU driver), for the operator. */
  reason?: string;
}

export interface CheckpointContext {
  pod: Pod;
  container: ContainerRef;
  checkpointId: string;
  nodeName: string;
  /**
   * Empty directory to fill. It is a staging directory: the agent adds
   * `manifest.yaml` and renames it into place (`<root>/<id>/versions/1`) only after
   * `checkpoint()` resolves, so a restore never sees a half-written artifact.
   */
  artifactDir: string;
  log: EngineLog;
  /** Aborted when the agent stops; long dumps should give up. */
  signal: AbortSignal;
}

export interface CheckpointResult {
  /** Bytes written, for the manifest and events. */
  bytes?: number;
  /** Engine-specific facts recorded in the manifest under `engine.details`. */
  details?: Record<string, unknown>;
}

export interface RestoreContext {
  /** The restore-target (placeholder) pod. */
  pod: Pod;
  placeholder: ContainerRef;
  checkpointId: string;
  nodeName: string;
  /** The published artifact directory (read only). */
  artifactDir: string;
  /** The artifact's parsed `manifest.yaml`. */
  manifest: Record<string, unknown>;
  log: EngineLog;
  signal: AbortSignal;
}

export interface RestoreResult {
  details?: Record<string, unknown>;
}

/**
 * A checkpoint/restore engine. Engines throw an `Error` with a human message on
 * failure; the agent turns it into the `failed` verdict and the event text.
 */
export interface SnapshotEngine {
  /** Short name recorded in manifests and events: `sim`, `criu`, `cuda`. */
  readonly name: string;
  /** True when no real process state is saved; said in every manifest and event. */
  readonly simulated: boolean;
  probe(): Promise<EngineProbe>;
  /** Save the container into `ctx.artifactDir`. The worker keeps running; the agent signals it afterwards. */
  checkpoint(ctx: CheckpointContext): Promise<CheckpointResult>;
  /** Bring the saved worker back inside the placeholder container. */
  restore(ctx: RestoreContext): Promise<RestoreResult>;
}

/** What a real engine needs to know about a container's process on this node. */
export interface ContainerProcess {
  /** Host PID of the container's main process. */
  pid: number;
  /**
   * The container's working directory on the host: the dev cluster's `process`
   * runtime gives each container its own, standing for the container's root
   * filesystem (the engine saves it as the root-filesystem diff).
   */
  workDir?: string;
  /** File the container's stdout and stderr go to (the runtime's log). */
  logPath?: string;
}

/**
 * The node's container runtime, as real engines see it (the dev cluster's kubelet, or
 * the CRI on a real node). Injected into the engine when the agent is built.
 */
export interface NodeRuntime {
  /** The container's process, or undefined when it is not running on this node. */
  inspect(ref: ContainerRef): ContainerProcess | undefined;
  /**
   * Make `pid` (the root of a restored process tree) the container's main process,
   * replacing what it ran (the placeholder's `sleep infinity`); the container ends
   * when `exited` settles.
   */
  adopt(ref: ContainerRef, pid: number, exited: Promise<unknown>): void;
  /**
   * Run `argv` inside the container, with the container's own namespaces, cgroups and
   * privileges (a real node's runtime; the dev cluster has none). Rejects on failure.
   */
  exec?(ref: ContainerRef, argv: string[]): Promise<void>;
  /**
   * A real node's runtime only: the host PID of the container's init process, looked
   * up now (undefined when it has no running task). Its presence tells the criu engine
   * to work on real containers: criu inside the container's namespaces, and the
   * restore into the running placeholder container (criu/container.ts).
   */
  containerInit?(ref: ContainerRef): Promise<number | undefined>;
}
