/**
 * Short-lived helper pods on the checkpoint PVC: `describe` reads an artifact's
 * `manifest.yaml`, `delete --artifacts` removes an artifact directory. They need only
 * pod create/get/delete (no `pods/log`): the reader copies the file to its
 * termination message, which the kubelet puts in the pod status (at most 4 KiB; a
 * manifest is far smaller). Each pod is deleted afterwards, whatever happened.
 */
import { ClusterError } from '../errors.js';
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
  try {
    opts.reporter.phase(`waiting for helper pod/${name} in namespace "${ns}"`);
    const done = await waitForObject<Pod>(client, {
      resource: RESOURCES.pods,
      namespace: ns,
      name,
      until: (p) => p === undefined || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || terminatedOf(p) !== undefined || stuckOf(p) !== undefined,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      description: `helper pod/${name} to finish`,
    });
    if (!done) throw new ClusterError(`helper pod/${name} in namespace "${ns}" was deleted before it finished`);
    const stuck = stuckOf(done);
    if (stuck && terminatedOf(done) === undefined) {
      return { succeeded: false, exitCode: null, message: `its container cannot start (${stuck}); pass an image the nodes have with --helper-image`, node: done.spec.nodeName ?? null, pod: name };
    }
    const t = terminatedOf(done);
    await opts.beforeDelete?.(name);
    const failedReason = done.status?.reason ?? t?.reason;
    return {
      succeeded: done.status?.phase === 'Succeeded' || t?.exitCode === 0,
      exitCode: t?.exitCode ?? null,
      message: t?.message ?? (failedReason ? String(failedReason) : ''),
      node: done.spec.nodeName ?? null,
      pod: name,
    };
  } finally {
    try {
      await client.delete(RESOURCES.pods, ns, name, { propagationPolicy: 'Background', gracePeriodSeconds: 0, ...(created.metadata.uid ? { uid: created.metadata.uid } : {}) });
      opts.leftovers?.remove(mine);
    } catch (err) {
      if (isApiStatus(err, 404)) opts.leftovers?.remove(mine);
      else opts.reporter.warn(`could not delete helper pod/${name}: ${explainApiError(err).message}; delete it with: ${deleteCommand(mine)}`);
    }
  }
}
