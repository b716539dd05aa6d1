/**
 * The preflight probe: a short-lived pod with the worker manifest's image on an agent
 * node that reports which placeholder-image tools the image has (docs/protocol.md §3:
 * `criu`, `cuda-checkpoint` and whether it knows `--launch-job`, `nsrestore` at
 * `/usr/local/bin/nsrestore`, `sleep`). The script writes one line of `key=0|1` pairs
 * to its termination message, so only pod create/get/delete are needed (no `pods/log`).
 * The pod carries the checkpoint pods' Localhost seccomp profile: a node without the
 * profile refuses to start it, which the probe reports as such. It is always deleted.
 */
import type { KubeClient } from '../kube/types.js';
import {
  CUDA_CHECKPOINT_BINARY,
  CUDA_CHECKPOINT_LAUNCH_FLAG,
  NSRESTORE_PATH,
  RESTART_POLICY_NEVER,
  SECCOMP_PROFILE,
  SECCOMP_TYPE,
  withAgentAffinity,
  type Pod,
} from '../protocol/index.js';
import type { Reporter } from './context.js';
import { runOneShotPod, TERMINATION_MESSAGE_PATH } from './helper-pod.js';
import type { Leftovers } from './leftovers.js';

/**
 * First line of the probe script. The dev cluster's kubelet recognises the probe by it
 * (src/dev/api/probe-tools.ts keeps a copy); bump the version when the output changes.
 */
export const PROBE_MARKER = '# snapshotctl preflight probe v1';
/** The keys of the probe's output line, in order. */
export const PROBE_KEYS = ['criu', 'cuda-checkpoint', 'launch-job', 'nsrestore', 'sleep'] as const;
export type ProbeKey = (typeof PROBE_KEYS)[number];
export type ProbeTools = Record<ProbeKey, boolean>;
/** Labels on probe pods, so a leftover is easy to find (`kubectl get pods -l ...`). */
export const PROBE_LABELS = { 'app.kubernetes.io/managed-by': 'snapshotctl', 'app.kubernetes.io/component': 'snapshot-preflight' } as const;
/** The probe never lives longer than this on the cluster, even if we vanish. */
const PROBE_DEADLINE_SECONDS = 300;
/**
 * Container waiting reasons that will not resolve by waiting: the probe stops at once.
 * CreateContainerError is what a node without the seccomp profile reports.
 */
const FATAL_WAITING_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerError', 'CreateContainerConfigError', 'RunContainerError', 'StartError']);

/**
 * The probe script (POSIX sh, builtins only apart from the tools themselves): one line
 * such as `criu=1 cuda-checkpoint=1 launch-job=0 nsrestore=1 sleep=1`, always exit 0.
 */
export function probeScript(): string {
  return [
    PROBE_MARKER,
    'has() { if command -v "$1" >/dev/null 2>&1; then echo 1; else echo 0; fi; }',
    'criu=$(has criu)',
    `cc=$(has ${CUDA_CHECKPOINT_BINARY})`,
    'lj=0',
    `if [ "$cc" = 1 ]; then case "$(${CUDA_CHECKPOINT_BINARY} --help 2>&1)" in *${CUDA_CHECKPOINT_LAUNCH_FLAG}*) lj=1 ;; esac; fi`,
    `ns=0; if [ -x ${NSRESTORE_PATH} ]; then ns=1; fi`,
    'sl=$(has sleep)',
    `echo "criu=$criu cuda-checkpoint=$cc launch-job=$lj nsrestore=$ns sleep=$sl" > ${TERMINATION_MESSAGE_PATH}`,
  ].join('\n');
}

/** Parse the probe's line; undefined when it is not one (the image ran something else). */
export function parseProbeOutput(text: string): ProbeTools | undefined {
  const pairs = new Map<string, string>();
  for (const word of text.trim().split(/\s+/)) {
    const i = word.indexOf('=');
    if (i > 0) pairs.set(word.slice(0, i), word.slice(i + 1));
  }
  const out: Partial<ProbeTools> = {};
  for (const k of PROBE_KEYS) {
    const v = pairs.get(k);
    if (v !== '0' && v !== '1') return undefined;
    out[k] = v === '1';
  }
  return out as ProbeTools;
}

export interface ProbePodInput {
  namespace: string;
  image: string;
  imagePullSecrets?: Array<{ name: string }>;
  /** The manifest's tolerations, so the probe fits on tainted GPU nodes as the worker does. */
  tolerations?: unknown[];
  /** Agent nodes it may run on; undefined: any. */
  nodes?: string[];
}

/** The probe pod (pure). It takes only the image, pull secrets and tolerations from the manifest. */
export function buildProbePod(input: ProbePodInput): Pod {
  const spec: Pod['spec'] = {
    restartPolicy: RESTART_POLICY_NEVER,
    activeDeadlineSeconds: PROBE_DEADLINE_SECONDS,
    terminationGracePeriodSeconds: 0,
    securityContext: { seccompProfile: { type: SECCOMP_TYPE, localhostProfile: SECCOMP_PROFILE } },
    containers: [
      {
        name: 'probe',
        image: input.image,
        command: ['sh', '-c', probeScript()],
        terminationMessagePath: TERMINATION_MESSAGE_PATH,
        // A shell that fails (no sh in the image) leaves its output as the message.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '128Mi' } },
      },
    ],
    ...(input.imagePullSecrets && input.imagePullSecrets.length > 0 ? { imagePullSecrets: input.imagePullSecrets } : {}),
    ...(input.tolerations && input.tolerations.length > 0 ? { tolerations: input.tolerations } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'snapshotctl-preflight-',
      namespace: input.namespace,
      labels: { ...PROBE_LABELS },
      // A mesh sidecar would keep the pod running after the script exits.
      annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' },
    },
    spec: input.nodes && input.nodes.length > 0 ? withAgentAffinity(spec, input.nodes) : spec,
  };
}

/** How the probe ended. */
export type ProbeOutcome =
  | { state: 'ran'; pod: string; node: string | null; tools: ProbeTools }
  /** The container ran but did not print the line (no sh, a crash): `message` says what it printed. */
  | { state: 'bad-output'; pod: string; node: string | null; exitCode: number | null; message: string }
  /** The container never started: image pull, seccomp profile, config. */
  | { state: 'not-started'; pod: string; node: string | null; reason: string; message: string }
  | { state: 'timeout'; pod: string; node: string | null; reason: string; message: string };

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string };
}

function stateOf(pod: Pod | undefined): ContainerState | undefined {
  return (pod?.status?.containerStatuses?.[0] as { state?: ContainerState } | undefined)?.state;
}

/** Why a pod is not running yet: a container waiting reason, or the scheduler's. */
function pendingReason(pod: Pod | undefined): { reason: string; message: string } | undefined {
  const waiting = stateOf(pod)?.waiting;
  if (waiting?.reason) return { reason: waiting.reason, message: waiting.message ?? '' };
  const sched = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) return { reason: sched.reason ?? 'Unschedulable', message: sched.message ?? '' };
  if (pod?.status?.reason) return { reason: String(pod.status.reason), message: String(pod.status['message'] ?? '') };
  return undefined;
}

function finished(pod: Pod): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || stateOf(pod)?.terminated !== undefined) return true;
  return FATAL_WAITING_REASONS.has(stateOf(pod)?.waiting?.reason ?? '');
}

/** What the finished probe pod says. */
function probeOutcome(done: Pod, name: string): ProbeOutcome {
  const node = done.spec.nodeName ?? null;
  const state = stateOf(done);
  if (state?.terminated) {
    const message = state.terminated.message ?? '';
    const tools = parseProbeOutput(message);
    if (tools && state.terminated.exitCode === 0) return { state: 'ran', pod: name, node, tools };
    // A runtime that could not start the process reports it as a terminated state too.
    if (state.terminated.reason === 'StartError' || state.terminated.reason === 'ContainerCannotRun') {
      return { state: 'not-started', pod: name, node, reason: state.terminated.reason, message: message.trim() };
    }
    return { state: 'bad-output', pod: name, node, exitCode: state.terminated.exitCode ?? null, message: message.trim() };
  }
  const why = pendingReason(done) ?? { reason: done.status?.phase ?? 'Failed', message: '' };
  return { state: 'not-started', pod: name, node, ...why };
}

/**
 * Run the probe pod through the one-shot runner (create, wait until it has run or
 * cannot, delete, also on timeout, error and interrupt). A timeout is an outcome, not
 * an error; an interrupt throws `Interrupted` after the delete.
 */
export async function runProbePod(
  client: KubeClient,
  pod: Pod,
  opts: { signal: AbortSignal; timeoutMs: number; reporter: Reporter; leftovers?: Leftovers },
): Promise<ProbeOutcome> {
  return runOneShotPod(client, pod, {
    ...opts,
    noun: 'probe',
    waitingDetail: ` (image ${pod.spec.containers[0]?.image ?? ''})`,
    finished,
    outcome: probeOutcome,
    onTimeout: (last, name) => {
      const why = pendingReason(last) ?? { reason: last?.status?.phase ?? 'Pending', message: '' };
      return { state: 'timeout', pod: name, node: last?.spec.nodeName ?? null, ...why };
    },
  });
}
