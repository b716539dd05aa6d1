/**
 * Short-lived helper pods on the checkpoint PVC: `describe` reads an artifact's
 * `manifest.yaml`, `delete --artifacts` removes an artifact directory. They need only
 * pod create/get/delete (no `pods/log`): the reader copies the file to its
 * termination message, which the kubelet puts in the pod status (at most 4 KiB; a
 * manifest is far smaller). Each pod is deleted afterwards, whatever happened.
 */
import { ClusterError, TimeoutError } from '../errors.js';
import { explainApiError, isApiStatus, toClusterError } from '../kube/errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { waitForObject } from '../kube/wait.js';
import { RESTART_POLICY_NEVER, withAgentAffinity, type CheckpointStorage, type Pod } from '../protocol/index.js';
import type { Reporter } from './context.js';
import { deleteCommand, type Leftovers } from './leftovers.js';

/** Default image of helper pods: needs only `cp` and `rm`. `--helper-image` overrides it. */
export const DEFAULT_HELPER_IMAGE = 'busybox:1.36';
/** Where the reader copies the file; the kubelet reads it back as the termination message. */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** Labels on helper pods, so a leftover is easy to find (`kubectl get pods -l ...`). */
export const HELPER_LABELS = { 'app.kubernetes.io/managed-by': 'snapshotctl', 'app.kubernetes.io/component': 'snapshot-helper' } as const;
/** Volume name of the checkpoint PVC inside a helper pod. */
const HELPER_VOLUME = 'checkpoint-storage';
/** A helper pod never lives longer than this on the cluster, even if we vanish. */
const HELPER_DEADLINE_SECONDS = 300;

export interface HelperPodInput {
  namespace: string;
  storage: CheckpointStorage;
  image: string;
  /** Nodes where an agent runs (the PVC is surely mountable there); undefined: any. */
  nodes?: string[];
  purpose: 'reader' | 'remover';
  command: string[];
}

/** The helper pod (pure). The PVC is mounted read-only for readers. */
export function buildHelperPod(input: HelperPodInput): Pod {
  const readOnly = input.purpose === 'reader';
  const spec: Pod['spec'] = {
    restartPolicy: RESTART_POLICY_NEVER,
    activeDeadlineSeconds: HELPER_DEADLINE_SECONDS,
    containers: [
      {
        name: input.purpose,
        image: input.image,
        command: input.command,
        terminationMessagePath: TERMINATION_MESSAGE_PATH,
        // On failure the kubelet puts the output tail (the tool's error) in the message.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        volumeMounts: [{ name: HELPER_VOLUME, mountPath: input.storage.basePath, readOnly }],
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      },
    ],
    volumes: [{ name: HELPER_VOLUME, persistentVolumeClaim: { claimName: input.storage.pvcName, readOnly } }],
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `snapshotctl-${input.purpose}-`,
      namespace: input.namespace,
      labels: { ...HELPER_LABELS },
      // A mesh sidecar would keep the pod running after the tool exits.
      annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' },
    },
    spec: input.nodes && input.nodes.length > 0 ? withAgentAffinity(spec, input.nodes) : spec,
  };
}

/** `cp <file> /dev/termination-log`: the file comes back in the pod status. */
export function readerCommand(path: string): string[] {
  return ['cp', path, TERMINATION_MESSAGE_PATH];
}

/** `rm -rf -- <dir>...`. */
export function removerCommand(...paths: string[]): string[] {
  return ['rm', '-rf', '--', ...paths];
}

export interface HelperOutcome {
  succeeded: boolean;
  exitCode: number | null;
  /** The termination message (the file for a reader; the error on failure). */
  message: string;
  node: string | null;
  pod: string;
}

interface TerminatedState {
  exitCode?: number;
  message?: string;
  reason?: string;
}

/** Waiting reasons after which the helper will not start by itself (its image, its spec). */
const STUCK_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError']);

/** `Reason: message` of a helper container that cannot start, else undefined. */
function stuckOf(pod: Pod | undefined): string | undefined {
  const cs = pod?.status?.containerStatuses?.[0] as { state?: { waiting?: { reason?: string; message?: string } } } | undefined;
  const w = cs?.state?.waiting;
  return w?.reason && STUCK_REASONS.has(w.reason) ? `${w.reason}${w.message ? `: ${w.message}` : ''}` : undefined;
}

function terminatedOf(pod: Pod | undefined): TerminatedState | undefined {
  const cs = pod?.status?.containerStatuses?.[0] as { state?: { terminated?: TerminatedState } } | undefined;
  return cs?.state?.terminated;
}

/** How one run of a one-shot pod goes; `R` is what its caller makes of the finished pod. */
export interface OneShotPodOptions<R> {
  signal: AbortSignal;
  timeoutMs: number;
  reporter: Reporter;
  leftovers?: Leftovers;
  pollIntervalMs?: number;
  /** What the pod is in messages: `helper`, `probe`. */
  noun: string;
  /** More words for the "waiting for" progress line, e.g. ` (image x)`. */
  waitingDetail?: string;
  /** The pod has done what it will do: it ran, or it cannot start. */
  finished: (pod: Pod) => boolean;
  /** The finished pod's outcome; runs before the pod is deleted (so it may read its log). */
  outcome: (done: Pod, name: string) => Promise<R> | R;
  /** The outcome of a pod that did not finish by `timeoutMs`, from the last state seen; without it the `TimeoutError` is thrown. */
  onTimeout?: (last: Pod | undefined, name: string) => R;
}

/**
 * The one runner of short-lived pods (helpers, the preflight probe): create the pod,
 * wait until `finished`, make the outcome, and delete it, also on timeout, error and
 * interrupt. The create is not aborted by the signal (a create cut off after the
 * server took it would leave a pod nobody deletes); an interrupt during it ends the
 * wait at once, and the pod is deleted. Until it is, it is in `leftovers`.
 */
export async function runOneShotPod<R>(client: KubeClient, pod: Pod, opts: OneShotPodOptions<R>): Promise<R> {
  const ns = pod.metadata.namespace ?? 'default';
  let created: Pod;
  try {
    created = await client.create<Pod>(RESOURCES.pods, ns, pod);
  } catch (err) {
    throw toClusterError(err);
  }
  const name = created.metadata.name ?? '';
  const mine = { kind: 'Pod' as const, namespace: ns, name };
  opts.leftovers?.add(mine);
  let last: Pod | undefined = created;
  try {
    opts.reporter.phase(`waiting for ${opts.noun} pod/${name}${opts.waitingDetail ?? ` in namespace "${ns}"`}`);
    let done: Pod | undefined;
    try {
      done = await waitForObject<Pod>(client, {
        resource: RESOURCES.pods,
        namespace: ns,
        name,
        until: (p) => p === undefined || opts.finished(p),
        onProgress: (p) => {
          if (p) last = p;
        },
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
        description: `${opts.noun} pod/${name} to finish`,
      });
    } catch (err) {
      if (err instanceof TimeoutError && opts.onTimeout) return opts.onTimeout(last, name);
      throw err;
    }
    if (!done) throw new ClusterError(`${opts.noun} pod/${name} in namespace "${ns}" was deleted before it finished`);
    return await opts.outcome(done, name);
  } finally {
    try {
      await client.delete(RESOURCES.pods, ns, name, { propagationPolicy: 'Background', gracePeriodSeconds: 0, ...(created.metadata.uid ? { uid: created.metadata.uid } : {}) });
      opts.leftovers?.remove(mine);
    } catch (err) {
      if (isApiStatus(err, 404)) opts.leftovers?.remove(mine);
      else opts.reporter.warn(`could not delete ${opts.noun} pod/${name}: ${explainApiError(err).message}; delete it with: ${deleteCommand(mine)}`);
    }
  }
}

/**
 * Create the helper pod, wait until it has run, return its termination message, and
 * delete it (also on timeout, error and interrupt).
 */
export async function runHelperPod(
  client: KubeClient,
  pod: Pod,
  opts: {
    signal: AbortSignal;
    timeoutMs: number;
    reporter: Reporter;
    leftovers?: Leftovers;
    pollIntervalMs?: number;
    /** Runs once the pod has finished, before it is deleted (to read its log). */
    beforeDelete?: (name: string) => Promise<void>;
  },
): Promise<HelperOutcome> {
  const { beforeDelete, ...run } = opts;
  return runOneShotPod(client, pod, {
    ...run,
    noun: 'helper',
    finished: (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || terminatedOf(p) !== undefined || stuckOf(p) !== undefined,
    outcome: async (done, name) => {
      const stuck = stuckOf(done);
      if (stuck && terminatedOf(done) === undefined) {
        return { succeeded: false, exitCode: null, message: `its container cannot start (${stuck}); pass an image the nodes have with --helper-image`, node: done.spec.nodeName ?? null, pod: name };
      }
      const t = terminatedOf(done);
      await beforeDelete?.(name);
      const failedReason = done.status?.reason ?? t?.reason;
      return {
        succeeded: done.status?.phase === 'Succeeded' || t?.exitCode === 0,
        exitCode: t?.exitCode ?? null,
        message: t?.message ?? (failedReason ? String(failedReason) : ''),
        node: done.spec.nodeName ?? null,
        pod: name,
      };
    },
  });
}
