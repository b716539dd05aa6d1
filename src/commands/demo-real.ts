/**
 * `snapshotctl demo --cluster real`: the demo on a real single-node Kubernetes
 * (scripts/real-cluster.sh: kube-apiserver, controller-manager, scheduler and a kubelet
 * v1.20.2 on containerd, on 127.0.0.1). It starts the cluster unless one runs (the
 * first start builds Kubernetes from Debian's source: minutes), builds our images and
 * imports them into the node's containerd, installs our agent from
 * manifests/snapshotctl-agent/ as a DaemonSet (`--engine=criu`), checkpoints the CPU
 * sample worker (manifests/samples/cpu-worker-real.yaml) in a real container, restores
 * it from the manifest and in place into manifests/samples/cpu-placeholder-real.yaml,
 * and proves each restore through the restored process itself (`kubectl exec` asks the
 * worker for the checksum of its memory: equal to the one before the checkpoint,
 * warm-ups 1). Then it removes everything it made, and stops the cluster if it started
 * it. Nothing here is simulated.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXIT, TimeoutError } from '../errors.js';
import { CHECKPOINT_JOB_SUFFIX, LABEL_JOB_NAME_LEGACY } from '../protocol/constants.js';
import * as real from '../real/cluster.js';
import type { DemoDeps } from './demo.js';

export interface RealDemoOptions {
  verbose: boolean;
  /** Leave a cluster this run started running afterwards. */
  keepCluster: boolean;
}

const WORKER_FILE = 'manifests/samples/cpu-worker-real.yaml';
const PLACEHOLDER_FILE = 'manifests/samples/cpu-placeholder-real.yaml';

interface WorkerAnswer {
  checksum: string;
  warmupChecksum: string;
  warmups: number;
  instance: string;
  mb?: number;
}

/** Run the demo; resolves to the exit code. */
export async function runRealDemo(opts: RealDemoOptions, deps: DemoDeps): Promise<number> {
  const t0 = deps.now();
  const secs = () => `${((deps.now() - t0) / 1000).toFixed(1)}s`;
  const say = (line: string) => deps.stdout(`${line}\n`);
  const signal = deps.signal;
  if (deps.host.platform !== 'linux' || !deps.host.isRoot) {
    deps.stderr('error: demo --cluster real needs root on Linux (containerd, a kubelet and CRIU run here)\nhint: run it as root on a Linux machine, or run `snapshotctl demo` (the embedded dev cluster) instead\n');
    return EXIT.usage;
  }
  say('snapshotctl demo --cluster real: checkpoint and restore on a real Kubernetes node (kube-apiserver and kubelet v1.20.2, containerd, CRIU) on 127.0.0.1');

  let started = false;
  let kubeconfig = '';
  let ns = '';
  let code: number = EXIT.ok;
  const scriptLine = (line: string) => {
    if (line.trim()) say(`         ${line}`);
  };
  try {
    // 1. The cluster: reuse a running one, else start it (and stop it afterwards).
    const status = await real.runScript('real-cluster.sh', ['status'], { signal });
    if (status.code === 0) {
      say(`[${secs()}] a real cluster is already running (scripts/real-cluster.sh status): using it, and leaving it running`);
    } else {
      say(`[${secs()}] starting the real cluster: scripts/real-cluster.sh up (the first time builds Kubernetes from Debian's source, about 7-11 min on 2 cores)`);
      started = true;
      const up = await real.runScript('real-cluster.sh', ['up'], { signal, onLine: scriptLine });
      if (up.code !== 0) throw new StepError(`scripts/real-cluster.sh up failed (exit ${up.code})`, up.code === 3 ? EXIT.cluster : EXIT.failed);
    }
    const env = await real.runScript('real-cluster.sh', ['env'], { signal });
    kubeconfig = /KUBECONFIG=(\S+)/.exec(env.stdout)?.[1] ?? '';
    if (!kubeconfig) throw new StepError(`scripts/real-cluster.sh env printed no KUBECONFIG: ${env.stderr.trim()}`, EXIT.cluster);
    const node = (await real.kubectlOk(kubeconfig, ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} kubelet {.status.nodeInfo.kubeletVersion} on {.status.nodeInfo.containerRuntimeVersion}{"\\n"}{end}'], { signal })).trim();
    say(`[${secs()}] cluster up: KUBECONFIG=${kubeconfig}; node ${node}`);

    // 2. Our images, without a registry: OCI archives imported into the node's containerd.
    const images = await mkdtemp(join(tmpdir(), 'snapshotctl-demo-images-'));
    try {
      say(`[${secs()}] building our images: scripts/build-images.sh (snapshot-agent with our CRIU, the CPU sample worker)`);
      const built = await real.runScript('build-images.sh', [images], { signal, env: { SNAPSHOTCTL_IMAGES_CRIU: '1' }, ...(opts.verbose ? { onLine: scriptLine } : {}) });
      if (built.code !== 0) throw new StepError(`scripts/build-images.sh failed (exit ${built.code}):\n${built.stderr.trim().split('\n').slice(-8).join('\n')}`, EXIT.failed);
      const archives = (await readdir(images)).filter((f) => f.endsWith('.tar')).sort();
      const imported = await real.runScript('real-cluster.sh', ['import', ...archives.map((f) => join(images, f))], { signal });
      if (imported.code !== 0) throw new StepError(`importing the images failed (exit ${imported.code}): ${imported.stderr.trim()}`, EXIT.cluster);
      say(`[${secs()}] imported into the node's containerd: ${real.AGENT_IMAGE}, ${real.WORKER_IMAGE}`);
    } finally {
      await rm(images, { recursive: true, force: true });
    }

    // 3. Our agent, from manifests/ as a user applies it.
    ns = `snapshotctl-demo-${deps.host.pid}-${deps.now().toString(36).slice(-4)}`;
    say(`[${secs()}] installing our agent in namespace ${ns}: manifests/agent-rbac.yaml, pvc.yaml, snapshotctl-agent/ with --engine=criu`);
    say(`         changed for this node: ${real.AGENT_NODE_CHANGES}; a hostPath PersistentVolume ${real.pvName(ns)} for snapshot-pvc`);
    await real.installAgent({ kubeconfig, namespace: ns, agentArgs: ['--engine=criu'], partOf: 'snapshotctl-demo', signal });
    const agentPod = (await real.kubectlOk(kubeconfig, ['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=snapshot-agent', '-o', 'jsonpath={.items[0].metadata.name}'], { signal })).trim();
    say(`[${secs()}] snapshot agent Ready: pod ${agentPod} of DaemonSet snapshot-agent`);

    // 4. The three commands of the README, against the real API server.
    const worker = join(real.PACKAGE_ROOT, WORKER_FILE);
    const workerPod = (parse(await readFile(worker, 'utf8')) as { metadata: { name: string } }).metadata.name;
    const placeholderPath = join(real.PACKAGE_ROOT, PLACEHOLDER_FILE);
    const placeholder = (parse(await readFile(placeholderPath, 'utf8')) as { metadata: { name: string } }).metadata.name;
    const id = `demo-${deps.now()}`;
    const common = ['--kubeconfig', kubeconfig, '-n', ns, '--timeout', '180s', '--no-color'];
    const step = async (n: number, title: string, args: string[]): Promise<void> => {
      say(`[${secs()}] step ${n}/3: ${title}`);
      say(`         $ snapshotctl ${args.map((a) => (a === kubeconfig ? '$KUBECONFIG' : a.startsWith(real.PACKAGE_ROOT) ? a.slice(real.PACKAGE_ROOT.length + 1) : a)).join(' ')}`);
      const began = deps.now();
      const { code: stepCode, stdout: out, stderr: err } = await deps.runCli([...args, ...(opts.verbose ? [] : ['--quiet'])]);
      for (const line of out.trimEnd().split('\n')) if (line) say(`           ${line}`);
      if (err.trim()) for (const line of err.trimEnd().split('\n')) deps.stderr(`           ${line}\n`);
      say(`         ${stepCode === 0 ? 'ok' : `FAILED (exit ${stepCode})`} in ${((deps.now() - began) / 1000).toFixed(2)}s, criu engine in our agent on the real node`);
      if (stepCode !== 0) throw new StepError(`${title} failed`, stepCode, await agentEvents(kubeconfig, ns));
    };

    await step(1, 'checkpoint the CPU worker in a real container', ['checkpoint', '--manifest', worker, '--checkpoint-id', id, '--disable-cuda-checkpoint-job-file', ...common]);
    // The state before the checkpoint, from the source pod's own log.
    const jobName = `${workerPod}${CHECKPOINT_JOB_SUFFIX}`;
    const sourcePod = (await real.kubectlOk(kubeconfig, ['get', 'pods', '-n', ns, '-l', `${LABEL_JOB_NAME_LEGACY}=${jobName}`, '-o', 'jsonpath={.items[0].metadata.name}'], { signal })).trim();
    const sourceLog = (await real.kubectl(kubeconfig, ['logs', '-n', ns, sourcePod], { signal })).stdout;
    const before = /warm-up done in [\d.]+ s, checksum ([0-9a-f]{64})/.exec(sourceLog)?.[1];
    const instance = /warm-up 1 \(instance ([0-9a-f]+)/.exec(sourceLog)?.[1];
    if (!before || !instance) throw new StepError(`the checkpointed worker's log (pod ${sourcePod}) has no warm-up checksum:\n${sourceLog.trim()}`, EXIT.failed);
    say(`         the worker before the checkpoint (its log, pod ${sourcePod}): checksum ${before.slice(0, 16)}..., instance ${instance}, warm-ups 1`);
    // The source Job's pod exits after the checkpoint (SIGUSR1); its Job is deleted so
    // that the restored pod is the only one of that name's workload.
    await real.kubectl(kubeconfig, ['delete', 'job', jobName, '-n', ns, '--cascade=foreground', '--wait=true', '--timeout=60s'], { signal, timeoutMs: 70_000 });

    const prove = async (pod: string): Promise<void> => {
      const a = await askWorker(kubeconfig, ns, pod, signal);
      say(`         $ kubectl exec ${pod} -n ${ns} -- sh -c 'echo checksum | nc 127.0.0.1 18080'`);
      say(`         restored worker: checksum ${a.checksum.slice(0, 16)}... over its ${a.mb ?? '?'} MiB, recomputed now; instance ${a.instance}; warm-ups run: ${a.warmups}`);
      if (a.checksum !== before || a.warmups !== 1 || a.instance !== instance) {
        throw new StepError(`STATE LOST in pod ${pod}: expected checksum ${before}, instance ${instance}, warm-ups 1`, EXIT.failed);
      }
      say('         equal to the checksum before the checkpoint, same process instance, warm-up did not run again');
    };

    // No Job is left: restore finds the artifact on the volume (a reader pod of the worker image, which this node has).
    await step(2, 'restore it into a new pod from the manifest', ['restore', '--manifest', worker, '--checkpoint-id', id, '--helper-image', real.WORKER_IMAGE, ...common]);
    await prove(workerPod);

    await real.applyObjects(kubeconfig, ns, [parse(await readFile(placeholderPath, 'utf8')) as Record<string, any>], signal);
    await waitUntil(async () => (await real.kubectl(kubeconfig, ['get', 'pod', placeholder, '-n', ns, '-o', 'jsonpath={.status.phase}'], { signal })).stdout === 'Running', 90_000, `placeholder pod ${placeholder} to be Running`, signal, deps.now);
    say(`[${secs()}] created placeholder pod ${placeholder} from ${PLACEHOLDER_FILE} (Running, not Ready: its probe waits for the worker's ready file)`);
    await step(3, `restore it in place into placeholder pod ${placeholder}`, ['restore', '--pod', placeholder, '--checkpoint-id', id, '--helper-image', real.WORKER_IMAGE, ...common]);
    await prove(placeholder);
    const ready = (await real.kubectl(kubeconfig, ['get', 'pod', placeholder, '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { signal })).stdout;
    say(`         placeholder Ready by its own probe: ${ready === 'True' ? 'yes' : `not yet (${ready || 'no condition'})`}`);
  } catch (err) {
    if (signal.aborted) {
      say(`[${secs()}] interrupted: cleaning up`);
      code = EXIT.interrupted;
    } else if (err instanceof StepError) {
      deps.stderr(`error: ${err.message}\n`);
      if (err.detail) deps.stderr(`${err.detail}\n`);
      code = err.exitCode;
    } else {
      deps.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      code = err instanceof TimeoutError ? EXIT.timeout : EXIT.failed;
    }
  } finally {
    if (ns && kubeconfig) {
      const left = await real.removeAgentNamespace(kubeconfig, ns);
      if (left.length === 0) say(`[${secs()}] removed namespace ${ns}, its PersistentVolume and its checkpoint storage`);
      else {
        deps.stderr(`error: could not remove: ${left.join('; ')}\n`);
        if (code === EXIT.ok) code = EXIT.failed;
      }
    }
    if (started && !opts.keepCluster) {
      const down = await real.runScript('real-cluster.sh', ['down'], { onLine: opts.verbose ? scriptLine : undefined });
      if (down.code === 0) say(`[${secs()}] real cluster stopped (this run started it): scripts/real-cluster.sh down removed its processes, mounts and files`);
      else {
        deps.stderr(`error: scripts/real-cluster.sh down failed (exit ${down.code}): ${down.stderr.trim()}\n`);
        if (code === EXIT.ok) code = EXIT.failed;
      }
    } else if (started) {
      say(`[${secs()}] real cluster left running (--keep-cluster): scripts/real-cluster.sh down stops it`);
    }
  }
  say(code === 0 ? `demo finished in ${secs()}: checkpoint, restore from manifest and restore in place on a real node, state proven in both restored workers` : `demo failed after ${secs()}`);
  return code;
}

class StepError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The namespace's events, for a failed step. */
async function agentEvents(kubeconfig: string, ns: string): Promise<string> {
  const events = await real.kubectl(kubeconfig, ['get', 'events', '-n', ns, '-o', 'jsonpath={range .items[*]}{.involvedObject.name} {.reason}: {.message}{"\\n"}{end}']);
  return events.stdout.trim() ? `events in ${ns}:\n${events.stdout.trimEnd()}` : '';
}

/** Ask the CPU sample worker in `pod` for its checksum, from inside the pod. */
async function askWorker(kubeconfig: string, ns: string, pod: string, signal: AbortSignal): Promise<WorkerAnswer> {
  const r = await real.kubectl(kubeconfig, ['exec', '-n', ns, pod, '--', 'sh', '-c', 'echo checksum | nc 127.0.0.1 18080'], { signal, timeoutMs: 30_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as WorkerAnswer;
  } catch {
    throw new StepError(`the restored worker in pod ${pod} does not answer (kubectl exec exit ${r.code}): ${(r.stderr || r.stdout).trim()}`, EXIT.failed);
  }
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string, signal: AbortSignal, now: () => number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await cond())) {
    signal.throwIfAborted();
    if (now() > deadline) throw new TimeoutError(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
