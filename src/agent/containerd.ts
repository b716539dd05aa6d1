/**
 * The containerd runtime seam: how our agent finds and acts on a pod's container on a
 * real Kubernetes node (containerd 1.6 and later, CRI namespace `k8s.io`), beside the
 * dev cluster's `process` runtime.
 *
 * It talks to containerd through `ctr`, the client containerd ships with every release
 * (the agent image carries it): task list for container ID → host PID, task kill for
 * signals, task exec to run a command inside the container with the container's own
 * spec (namespaces, cgroups, capabilities, seccomp). We chose the CLI over a gRPC
 * client because containerd publishes no JavaScript client, and generating one from
 * its protobufs would pin us to one API version for three calls that `ctr` keeps
 * stable across 1.6, 1.7 and 2.x.
 *
 * Container IDs come from the pod's status (set by the kubelet, not the pod) and are
 * checked to be containerd's 64-hex form before they reach a command line.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { ContainerProcess, ContainerRef, NodeRuntime } from './engine.js';

export interface ContainerdOptions {
  /** containerd's socket, e.g. `/run/containerd/containerd.sock`. */
  address: string;
  /** containerd namespace the kubelet uses; `k8s.io`. */
  namespace?: string;
  /** The `ctr` binary. */
  ctr?: string;
  /** Per-call limit, ms. */
  timeoutMs?: number;
  /**
   * Where `ctr tasks exec` makes its stdio FIFOs. containerd's shim opens them by path
   * on the host, so inside the agent's container this must be a host directory mounted
   * at the same path (the DaemonSet mounts /run/snapshot-agent).
   */
  fifoDir?: string;
}

export const DEFAULT_FIFO_DIR = '/run/snapshot-agent/fifo';

/** The seam as the agent uses it. */
export interface ContainerdRuntime extends NodeRuntime {
  /** Host PID of the container's init process, or undefined when it has no running task. */
  pid(containerId: string): Promise<number | undefined>;
  /** Send `sig` to the container's init process through containerd. */
  signal(containerId: string, sig: NodeJS.Signals): Promise<void>;
  /** Run `argv` inside the container (its own spec) and wait for it; rejects on a non-zero exit. */
  exec(ref: ContainerRef, argv: string[]): Promise<void>;
  /** Host PID of the container's init, looked up now. */
  containerInit(ref: ContainerRef): Promise<number | undefined>;
  /** The ID's running PID from the last look-up, without a call (for sync callers). */
  cachedPid(containerId: string): number | undefined;
  /**
   * The running container of a pod's container (by the labels the kubelet's CRI sets,
   * which a pod cannot choose), or undefined when none runs. `container` defaults to
   * any one container of the pod that runs (workers and placeholders have one).
   */
  findContainer(namespace: string, pod: string, container?: string): Promise<string | undefined>;
}

/** DNS-1123 names only: they go into a containerd filter expression. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** Why `id` cannot be a containerd container ID, or undefined when it can. */
export function badContainerId(id: string | undefined): string | undefined {
  if (!id) return 'the pod reports no container ID yet';
  return CONTAINER_ID.test(id) ? undefined : 'the container ID is not containerd\'s 64-hex form';
}

/** Parse `ctr tasks ls` (TASK PID STATUS) into running tasks. */
export function parseTaskList(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (!id || !pid || status !== 'RUNNING' || !CONTAINER_ID.test(id)) continue;
    const n = Number(pid);
    if (Number.isInteger(n) && n > 0) out.set(id, n);
  }
  return out;
}

export function createContainerdRuntime(opts: ContainerdOptions): ContainerdRuntime {
  const ctr = opts.ctr ?? 'ctr';
  const ns = opts.namespace ?? 'k8s.io';
  const timeout = opts.timeoutMs ?? 15_000;
  const pids = new Map<string, number>();

  const run = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(ctr, ['--address', opts.address, '--namespace', ns, ...args], { timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (err) {
          const why = (stderr || err.message).trim().split('\n').slice(-3).join('; ');
          reject(new Error(`containerd (${opts.address}): ctr ${args.slice(0, 2).join(' ')} failed: ${why}`));
        } else resolve(stdout);
      });
    });

  const checked = (id: string | undefined): string => {
    const bad = badContainerId(id);
    if (bad) throw new Error(bad);
    return id as string;
  };

  const runtime: ContainerdRuntime = {
    async findContainer(namespace, pod, container) {
      for (const [what, v] of [['namespace', namespace], ['pod', pod], ['container', container ?? 'x']] as const) {
        if (!K8S_NAME.test(v)) throw new Error(`${what} name ${JSON.stringify(v)} is not a Kubernetes name`);
      }
      const filters = [
        `labels."io.kubernetes.pod.namespace"==${namespace}`,
        `labels."io.kubernetes.pod.name"==${pod}`,
        'labels."io.cri-containerd.kind"==container',
        ...(container ? [`labels."io.kubernetes.container.name"==${container}`] : []),
      ];
      const ids = (await run(['containers', 'ls', '-q', filters.join(',')])).split('\n').map((l) => l.trim()).filter((l) => CONTAINER_ID.test(l));
      if (ids.length === 0) return undefined;
      const tasks = parseTaskList(await run(['tasks', 'ls']));
      for (const [k, v] of tasks) pids.set(k, v);
      return ids.find((id) => tasks.has(id));
    },
    async pid(containerId) {
      const id = checked(containerId);
      const tasks = parseTaskList(await run(['tasks', 'ls']));
      for (const [k, v] of tasks) pids.set(k, v);
      if (!tasks.has(id)) pids.delete(id);
      return tasks.get(id);
    },
    cachedPid(containerId) {
      const pid = pids.get(containerId);
      // A cached PID is only good while that process still exists.
      if (pid === undefined || !processExists(pid)) return undefined;
      return pid;
    },
    async signal(containerId, sig) {
      await run(['tasks', 'kill', '--signal', sig, checked(containerId)]);
    },
    async exec(ref, argv) {
      const id = checked(ref.containerId);
      const fifoDir = opts.fifoDir ?? DEFAULT_FIFO_DIR;
      await mkdir(fifoDir, { recursive: true, mode: 0o700 });
      await run(['tasks', 'exec', '--fifo-dir', fifoDir, '--exec-id', `snapshot-agent-${randomBytes(6).toString('hex')}`, id, ...argv]);
    },
    async containerInit(ref) {
      return runtime.pid(checked(ref.containerId));
    },
    inspect(ref): ContainerProcess | undefined {
      if (badContainerId(ref.containerId)) return undefined;
      const pid = ref.pid ?? runtime.cachedPid(ref.containerId as string);
      return pid === undefined ? undefined : { pid };
    },
    adopt() {
      // On a real node the placeholder's init (a reaping pause or tini) stays the
      // container's main process and the restored tree lives under it; the kubelet
      // ends the container, and with it the tree, when the pod is deleted.
    },
  };
  return runtime;
}

function processExists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
