/**
 * Simulated nodes: Node objects plus a kubelet per node that runs the pods bound to it.
 * Pods go Pending → (pull delay) → Running with container IDs, IPs and conditions;
 * startup then readiness probes decide `Ready`; containers end on exit or signal and
 * the pod goes Succeeded/Failed (restartPolicy respected); graceful deletion kills the
 * containers and then removes the pod. Fault hooks: never-Ready pods, NotReady or lost
 * nodes, evictions. See runtime.ts for the `sim` and `process` runtimes.
 */
import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { isTerminal } from './controllers/nodematch.js';
import { recordEvent } from './events.js';
import { ProcessContainer, runExecProbe, SimContainer, type ContainerExit, type ContainerHandle } from './runtime.js';
import { fileToolContainer, FileToolContainer, type VolumeResolver } from './file-tools.js';
import { DEFAULT_IMAGE_TOOLS, probeContainer, ProbeContainer, type ImageToolsRule } from './probe-tools.js';
import type { Store, StoreEvent } from './store.js';
import { nowTimestamp, type KubeObject } from './types.js';

/** One simulated node. */
export interface NodeSpec {
  /** Default `node-<i>`. */
  name?: string;
  /** Extra labels, e.g. `{ 'nvidia.com/gpu.present': 'true' }`. */
  labels?: Record<string, string>;
  /** GPUs reported in capacity/allocatable as `nvidia.com/gpu`. */
  gpus?: number;
  /** Extra or overriding capacity entries. */
  capacity?: Record<string, string>;
  /** Taints on the node spec. */
  taints?: { key: string; value?: string; effect: string }[];
  /** Runtime for pods on this node (default: the server's). */
  runtime?: 'sim' | 'process';
}

/** Kubelet tuning. */
export interface KubeletOptions {
  runtime: 'sim' | 'process';
  /** Probes (sim; non-exec probes in process) succeed this long after start. Default 200. */
  readyDelayMs: number;
  /** Delay from binding to Running ("image pull"). Default 50. */
  pullDelayMs: number;
  /** Exec probe period for the process runtime. Default 100. */
  probePeriodMs: number;
  /** Upper bound of the graceful-kill wait before SIGKILL. Default 2000. */
  maxGraceMs: number;
  /** Parent directory of process containers' working directories. Default os.tmpdir(). */
  workRoot?: string;
  /**
   * Launcher for a process container's command (argv prefix), or undefined to run it
   * directly: how the node applies what it cannot do itself, such as the pod's
   * seccomp profile (see scripts/no-io-uring.c).
   */
  launcher?: (pod: KubeObject, container: any) => string[] | undefined;
  /** Which tools each image has, for `snapshotctl preflight`'s probe (see probe-tools.ts). Default DEFAULT_IMAGE_TOOLS. */
  imageTools?: readonly ImageToolsRule[];
}

/** A pod selector for fault hooks. */
export interface PodMatch {
  namespace?: string;
  name?: string;
}

/** Annotation that makes a pod never become Ready (same as `nodes.setNeverReady`). */
export const NEVER_READY_ANNOTATION = 'dev.snapshotctl.io/never-ready';

interface ContainerRun {
  name: string;
  image: string;
  spec: any;
  handle: ContainerHandle | undefined;
  startedAt: string;
  started: boolean;
  ready: boolean;
  restartCount: number;
  lastTerminated: any;
  terminated: any;
  timers: NodeJS.Timeout[];
}

interface PodRun {
  key: string;
  uid: string;
  namespace: string;
  name: string;
  node: string;
  podIP: string;
  hostIP: string;
  startTime: string;
  containers: ContainerRun[];
  started: boolean;
  terminating: boolean;
  stopped: boolean;
  override?: { reason: string; message: string };
  timers: NodeJS.Timeout[];
}

function condition(type: string, ok: boolean, old: any[] | undefined, reason?: string, message?: string): any {
  const prev = (old ?? []).find((c) => c.type === type);
  const status = ok ? 'True' : 'False';
  const c: any = { type, status, lastProbeTime: null, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : nowTimestamp() };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

/** The node set and its kubelets. Created by `startApiServer`; see `DevApiServer.nodes`. */
export class Nodes {
  private readonly runs = new Map<string, PodRun>();
  private readonly specs: (NodeSpec & { name: string; index: number })[];
  private readonly lost = new Set<string>();
  private readonly neverReady: PodMatch[] = [];
  private unsubscribe: (() => void) | undefined;
  private ipCounter = 1;
  private readonly waiters = new Set<() => void>();
  private volumeResolver: VolumeResolver | undefined;

  constructor(private readonly store: Store, nodes: number | NodeSpec[], private readonly opts: KubeletOptions) {
    const list: NodeSpec[] = typeof nodes === 'number' ? Array.from({ length: nodes }, () => ({})) : nodes;
    this.specs = list.map((s, i) => ({ ...s, name: s.name ?? `node-${i + 1}`, index: i + 1 }));
  }

  /**
   * Back PVCs with local directories: pods mounting one run `cp`/`cat`/`rm` on it
   * in-process (see file-tools.ts). The dev cluster maps the checkpoint PVC this way.
   */
  setVolumeResolver(resolve: VolumeResolver | undefined): void {
    this.volumeResolver = resolve;
  }

  /** Node names, in order. */
  names(): string[] {
    return this.specs.map((s) => s.name);
  }

  /** Create the Node objects and start the kubelets. */
  start(): void {
    for (const s of this.specs) this.store.create('nodes', this.nodeObject(s));
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
  }

  private nodeObject(s: NodeSpec & { name: string; index: number }): KubeObject {
    const capacity: Record<string, string> = { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi', 'hugepages-2Mi': '0', ...(s.gpus ? { 'nvidia.com/gpu': String(s.gpus) } : {}), ...(s.capacity ?? {}) };
    const now = nowTimestamp();
    const cond = (type: string, status: string, reason: string, message: string): any => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
    return {
      metadata: {
        name: s.name,
        labels: { 'kubernetes.io/hostname': s.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', ...(s.labels ?? {}) },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'dev.snapshotctl.io/runtime': s.runtime ?? this.opts.runtime },
      },
      spec: { podCIDR: `10.244.${s.index}.0/24`, podCIDRs: [`10.244.${s.index}.0/24`], ...(s.taints ? { taints: s.taints } : {}) },
      status: {
        capacity,
        allocatable: { ...capacity },
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        ],
        addresses: [{ type: 'InternalIP', address: `10.0.0.${s.index + 10}` }, { type: 'Hostname', address: s.name }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: '', systemUUID: '', bootID: '', kernelVersion: release(), osImage: `snapshotctl dev node on ${hostname()}`,
          containerRuntimeVersion: (s.runtime ?? this.opts.runtime) === 'process' ? 'snapshotctl-process://1.0.0' : 'snapshotctl-sim://1.0.0',
          kubeletVersion: 'v1.30.0-snapshotctl-dev', kubeProxyVersion: 'v1.30.0-snapshotctl-dev', operatingSystem: 'linux', architecture: 'amd64',
        },
      },
    };
  }

  private spec(node: string): (NodeSpec & { name: string; index: number }) | undefined {
    return this.specs.find((s) => s.name === node);
  }

  private onEvent(ev: StoreEvent): void {
    if (ev.resource.group !== '' || ev.resource.plural !== 'pods') return;
    const pod = ev.object;
    const node = pod.spec?.nodeName;
    if (!node || !this.spec(node) || this.lost.has(node)) return;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const run = this.runs.get(key);
    if (ev.type === 'DELETED') {
      if (run && run.uid === pod.metadata.uid) this.dispose(run);
      return;
    }
    if (run && run.uid !== pod.metadata.uid) this.dispose(run);
    const cur = this.runs.get(key);
    if (pod.metadata.deletionTimestamp) {
      this.terminate(cur, pod);
      return;
    }
    if (cur) {
      // Annotation-driven never-ready may be toggled on a live pod.
      if (cur.started) this.refreshReadiness(cur, pod);
      return;
    }
    if (isTerminal(pod)) return;
    this.admit(key, pod, node);
  }

  private admit(key: string, pod: KubeObject, node: string): void {
    const s = this.spec(node)!;
    const run: PodRun = {
      key,
      uid: pod.metadata.uid ?? '',
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      node,
      podIP: `10.244.${s.index}.${(this.ipCounter++ % 250) + 2}`,
      hostIP: `10.0.0.${s.index + 10}`,
      startTime: nowTimestamp(),
      containers: (pod.spec?.containers ?? []).map((c: any) => ({ name: c.name, image: c.image, spec: c, handle: undefined, startedAt: '', started: false, ready: false, restartCount: 0, lastTerminated: undefined, terminated: undefined, timers: [] })),
      started: false,
      terminating: false,
      stopped: false,
      timers: [],
    };
    this.runs.set(key, run);
    run.timers.push(setTimeout(() => this.startPod(run), this.opts.pullDelayMs));
  }

  private runtimeOf(run: PodRun): 'sim' | 'process' {
    return this.spec(run.node)?.runtime ?? this.opts.runtime;
  }

  private envOf(pod: KubeObject, run: PodRun, c: any): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (typeof e?.value === 'string') env[e.name] = e.value;
      const fp: string | undefined = e?.valueFrom?.fieldRef?.fieldPath;
      if (fp) {
        const v: Record<string, string> = { 'metadata.name': run.name, 'metadata.namespace': run.namespace, 'metadata.uid': run.uid, 'spec.nodeName': run.node, 'status.podIP': run.podIP, 'status.hostIP': run.hostIP, 'spec.serviceAccountName': pod.spec?.serviceAccountName ?? 'default' };
        if (v[fp] !== undefined) env[e.name] = v[fp]!;
      }
      // Env vars may reference earlier ones with $(NAME), as in Kubernetes.
      if (env[e.name] !== undefined) env[e.name] = env[e.name]!.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
    }
    return env;
  }

  private startContainer(run: PodRun, c: ContainerRun, pod: KubeObject): void {
    const launcher = this.opts.launcher?.(pod, c.spec);
    const launch = { namespace: run.namespace, podName: run.name, podUid: run.uid, nodeName: run.node, spec: c.spec, env: this.envOf(pod, run, c.spec), ...(launcher ? { launcher } : {}) };
    c.handle =
      fileToolContainer(launch, pod.spec, this.volumeResolver) ??
      probeContainer(launch, String(c.image ?? ''), this.opts.imageTools ?? DEFAULT_IMAGE_TOOLS) ??
      (this.runtimeOf(run) === 'process' ? new ProcessContainer(launch, this.opts.workRoot) : new SimContainer(launch));
    c.startedAt = nowTimestamp();
    c.terminated = undefined;
    c.started = !c.spec.startupProbe;
    c.ready = false;
    const handle = c.handle;
    void handle.exited.then((exit) => this.onExit(run, c, handle, exit));
    this.scheduleProbes(run, c, handle);
    for (const w of [...this.waiters]) w();
  }

  private startPod(run: PodRun): void {
    if (run.stopped || run.terminating) return;
    const pod = this.store.get('pods', run.namespace, run.name);
    if (!pod || pod.metadata.uid !== run.uid || pod.metadata.deletionTimestamp) return;
    run.started = true;
    for (const c of run.containers) this.startContainer(run, c, pod);
    this.writeStatus(run);
    for (const c of run.containers) {
      recordEvent(this.store, pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, 'kubelet');
      recordEvent(this.store, pod, 'Normal', 'Created', `Created container ${c.name}`, 'kubelet');
      recordEvent(this.store, pod, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet');
    }
  }

  private isNeverReady(run: PodRun): boolean {
    const pod = this.store.get('pods', run.namespace, run.name);
    if (pod?.metadata.annotations?.[NEVER_READY_ANNOTATION] === 'true') return true;
    return this.neverReady.some((m) => (m.namespace === undefined || m.namespace === run.namespace) && (m.name === undefined || m.name === run.name));
  }

  private scheduleProbes(run: PodRun, c: ContainerRun, handle: ContainerHandle): void {
    const startup = c.spec.startupProbe;
    const readiness = c.spec.readinessProbe;
    const alive = (): boolean => c.handle === handle && handle.running && !run.stopped && !run.terminating;
    const exec = (probe: any): string[] | undefined => (Array.isArray(probe?.exec?.command) ? probe.exec.command : undefined);
    const check = async (probe: any): Promise<boolean> => {
      const cmd = exec(probe);
      if (handle instanceof ProcessContainer && cmd && handle.pid !== undefined) return runExecProbe(handle, cmd, (probe.timeoutSeconds ?? 1) * 1000);
      // Simulated probes pass once readyDelayMs has elapsed (the first tick is scheduled then).
      return true;
    };
    const tick = async (): Promise<void> => {
      if (!alive()) return;
      if (!c.started) {
        if (await check(startup)) c.started = true;
      }
      if (c.started && alive()) {
        const ok = !this.isNeverReady(run) && (readiness === undefined || (await check(readiness)));
        if (alive() && ok !== c.ready) {
          c.ready = ok;
          this.writeStatus(run);
        } else if (alive()) this.writeStatus(run);
      }
      if (!alive()) return;
      const isProcessExec = handle instanceof ProcessContainer && (exec(startup) || exec(readiness));
      if (!c.ready || isProcessExec) c.timers.push(setTimeout(() => void tick(), this.opts.probePeriodMs));
    };
    const noProbes = !startup && !readiness;
    const first = noProbes ? 0 : handle instanceof ProcessContainer && (exec(startup) || exec(readiness)) ? Math.min(this.opts.probePeriodMs, this.opts.readyDelayMs) : this.opts.readyDelayMs;
    c.timers.push(setTimeout(() => void tick(), first));
  }

  private refreshReadiness(run: PodRun, _pod: KubeObject): void {
    const never = this.isNeverReady(run);
    let changed = false;
    for (const c of run.containers) {
      if (never && c.ready) {
        c.ready = false;
        changed = true;
      }
      if (!never && !c.ready && c.started && c.handle?.running && !c.spec.readinessProbe) {
        c.ready = true;
        changed = true;
      }
    }
    if (changed) this.writeStatus(run);
  }

  private onExit(run: PodRun, c: ContainerRun, handle: ContainerHandle, exit: ContainerExit): void {
    if (c.handle !== handle || run.stopped) return;
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    c.ready = false;
    c.started = false;
    const message = handle instanceof FileToolContainer || handle instanceof ProbeContainer ? handle.terminationMessage : undefined;
    c.terminated = { exitCode: exit.exitCode, reason: exit.reason, ...(message !== undefined ? { message } : {}), startedAt: c.startedAt, finishedAt: nowTimestamp(), containerID: handle.containerID, ...(exit.signal ? { signal: exit.signal } : {}) };
    if (run.terminating) {
      this.maybeFinishTermination(run);
      return;
    }
    const pod = this.store.get('pods', run.namespace, run.name);
    const policy = pod?.spec?.restartPolicy ?? 'Always';
    const restart = !run.override && (policy === 'Always' || (policy === 'OnFailure' && exit.exitCode !== 0));
    if (restart && pod) {
      c.lastTerminated = c.terminated;
      const delay = Math.min(100 * 2 ** c.restartCount, 5000);
      this.writeStatus(run);
      run.timers.push(setTimeout(() => {
        if (run.stopped || run.terminating) return;
        c.restartCount++;
        const p = this.store.get('pods', run.namespace, run.name);
        if (p) this.startContainer(run, c, p);
        this.writeStatus(run);
      }, delay));
      return;
    }
    this.writeStatus(run);
  }

  private phaseOf(run: PodRun): string {
    if (run.override) return 'Failed';
    if (!run.started) return 'Pending';
    if (run.containers.every((c) => c.terminated && !c.handle?.running)) {
      return run.containers.every((c) => c.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    return 'Running';
  }

  /** Write the pod status from the run's state (no-op writes are dropped by the store). */
  private writeStatus(run: PodRun): void {
    if (run.stopped) return;
    this.store.mutate('pods', run.namespace, run.name, (p) => {
      if (p.metadata.uid !== run.uid) return;
      const old = p.status ?? {};
      const phase = this.phaseOf(run);
      const unready = run.containers.filter((c) => !c.ready).map((c) => c.name);
      const allReady = run.started && unready.length === 0 && phase === 'Running';
      const notReadyReason = phase === 'Succeeded' || phase === 'Failed' ? 'PodCompleted' : 'ContainersNotReady';
      const notReadyMsg = notReadyReason === 'PodCompleted' ? undefined : `containers with unready status: [${unready.join(' ')}]`;
      const status: any = {
        phase,
        conditions: [
          condition('PodReadyToStartContainers', run.started && phase === 'Running', old.conditions),
          condition('Initialized', true, old.conditions),
          condition('Ready', allReady, old.conditions, notReadyReason, notReadyMsg),
          condition('ContainersReady', allReady, old.conditions, notReadyReason, notReadyMsg),
          condition('PodScheduled', true, old.conditions),
        ],
        hostIP: run.hostIP,
        hostIPs: [{ ip: run.hostIP }],
        podIP: run.podIP,
        podIPs: [{ ip: run.podIP }],
        startTime: run.startTime,
        qosClass: old.qosClass ?? 'BestEffort',
        containerStatuses: run.containers.map((c) => {
          const cs: any = {
            name: c.name,
            state: c.terminated && !c.handle?.running ? { terminated: c.terminated } : run.started ? { running: { startedAt: c.startedAt } } : { waiting: { reason: 'ContainerCreating' } },
            lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
            ready: c.ready,
            restartCount: c.restartCount,
            image: c.image,
            imageID: `${String(c.image).includes('/') ? '' : 'docker.io/library/'}${String(c.image).split(':')[0]}@sha256:${'0'.repeat(64)}`,
            started: run.started && !!c.handle?.running && c.started,
          };
          if (c.handle) cs.containerID = c.handle.containerID;
          return cs;
        }),
      };
      if (!run.started) {
        delete status.podIP;
        delete status.podIPs;
      }
      if (run.override) {
        status.reason = run.override.reason;
        status.message = run.override.message;
      }
      if ((p.spec?.initContainers ?? []).length > 0) {
        status.initContainerStatuses = p.spec.initContainers.map((ic: any) => ({ name: ic.name, image: ic.image, imageID: '', ready: true, restartCount: 0, started: false, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: run.startTime, finishedAt: run.startTime } }, lastState: {} }));
      }
      p.status = status;
    }, { subresource: 'status' });
  }

  private terminate(run: PodRun | undefined, pod: KubeObject): void {
    const finalDelete = (): void => {
      try {
        this.store.delete('pods', pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid ?? '' } });
      } catch {
        // Already gone.
      }
    };
    if (!run || !run.started) {
      if (run) this.dispose(run);
      setImmediate(finalDelete);
      return;
    }
    if (run.terminating) return;
    run.terminating = true;
    const grace = Math.min((pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000, this.opts.maxGraceMs);
    for (const c of run.containers) if (c.handle?.running) recordEvent(this.store, pod, 'Normal', 'Killing', `Stopping container ${c.name}`, 'kubelet');
    for (const c of run.containers) c.handle?.signal('SIGTERM');
    run.timers.push(setTimeout(() => {
      for (const c of run.containers) c.handle?.signal('SIGKILL');
    }, grace));
    (run as any).finalDelete = finalDelete;
    this.maybeFinishTermination(run);
  }

  private maybeFinishTermination(run: PodRun): void {
    if (!run.terminating) return;
    if (run.containers.some((c) => c.handle?.running)) return;
    const fd = (run as any).finalDelete as (() => void) | undefined;
    this.dispose(run);
    if (fd) setImmediate(fd);
  }

  private dispose(run: PodRun): void {
    run.stopped = true;
    for (const t of run.timers) clearTimeout(t);
    for (const c of run.containers) {
      for (const t of c.timers) clearTimeout(t);
      const h = c.handle;
      if (h instanceof ProcessContainer) h.dispose();
      else if (h instanceof SimContainer) h.dispose();
    }
    if (this.runs.get(run.key) === run) this.runs.delete(run.key);
  }

  /**
   * The handle of a running (or last) container of a pod: pid and signal for the
   * `process` runtime, an in-memory container for `sim`. Default: the first container.
   */
  containerFor(namespace: string, podName: string, containerName?: string): ContainerHandle | undefined {
    const run = this.runs.get(`${namespace}/${podName}`);
    const c = containerName === undefined ? run?.containers[0] : run?.containers.find((x) => x.name === containerName);
    return c?.handle;
  }

  /**
   * Make `pid` the main process of a pod's container (process runtime): a snapshot
   * engine's restored worker replaces what the placeholder ran. See `ProcessContainer.adopt`.
   */
  adoptProcess(namespace: string, podName: string, pid: number, exited: Promise<unknown>, containerName?: string): void {
    const h = this.containerFor(namespace, podName, containerName);
    if (!(h instanceof ProcessContainer)) throw new Error(`pod ${namespace}/${podName} has no running container of the process runtime to adopt pid ${pid}`);
    h.adopt(pid, exited);
  }

  /** Captured output of a pod's container (process runtime; '' for sim), undefined if it never started. */
  logsFor(namespace: string, podName: string, containerName?: string): string | undefined {
    const h = this.containerFor(namespace, podName, containerName);
    if (h === undefined) return undefined;
    if (h instanceof FileToolContainer) return h.output;
    if (h instanceof ProcessContainer) {
      try {
        return readFileSync(h.logPath, 'utf8');
      } catch {
        return '';
      }
    }
    return '';
  }

  /** Wait until a pod's container has started (rejects after `timeoutMs`). */
  waitForContainer(namespace: string, podName: string, containerName?: string, timeoutMs = 10_000): Promise<ContainerHandle> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const h = this.containerFor(namespace, podName, containerName);
        if (h && h.running) {
          cleanup();
          resolve(h);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`container of pod ${namespace}/${podName} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => void check();
      this.waiters.add(waiter);
      check();
    });
  }

  /** Make matching pods never become Ready (`on=false` undoes it). Also settable per pod with the `dev.snapshotctl.io/never-ready: "true"` annotation. */
  setNeverReady(match: PodMatch, on = true): void {
    const i = this.neverReady.findIndex((m) => m.namespace === match.namespace && m.name === match.name);
    if (on && i < 0) this.neverReady.push({ ...match });
    if (!on && i >= 0) this.neverReady.splice(i, 1);
    for (const run of this.runs.values()) if (run.started) this.refreshReadiness(run, {} as KubeObject);
  }

  /** Flip a node's Ready condition; NotReady adds the `node.kubernetes.io/not-ready:NoSchedule` taint as the node lifecycle controller does. */
  setNodeReady(name: string, ready: boolean): void {
    this.store.mutate('nodes', undefined, name, (n) => {
      n.status.conditions = (n.status.conditions ?? []).map((c: any) => (c.type === 'Ready' ? { ...c, status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: ready ? 'kubelet is posting ready status' : 'container runtime is down', lastTransitionTime: nowTimestamp() } : c));
      const taints = (n.spec.taints ?? []).filter((t: any) => !t.key.startsWith('node.kubernetes.io/not-ready') && !t.key.startsWith('node.kubernetes.io/unreachable'));
      if (!ready) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule', timeAdded: nowTimestamp() });
      if (taints.length > 0) n.spec.taints = taints;
      else delete n.spec.taints;
    }, { internal: true });
    if (ready) this.lost.delete(name);
  }

  /**
   * Lose a node: Ready becomes Unknown with the unreachable taints, its kubelet stops
   * (local processes are killed) and its pods are marked Failed with reason `NodeLost`
   * (`pods: 'fail'`, default) or deleted as taint-based eviction does (`pods: 'delete'`).
   */
  loseNode(name: string, opts: { pods?: 'fail' | 'delete' } = {}): void {
    this.lost.add(name);
    this.store.mutate('nodes', undefined, name, (n) => {
      n.status.conditions = (n.status.conditions ?? []).map((c: any) => ({ ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: nowTimestamp() }));
      const taints = (n.spec.taints ?? []).filter((t: any) => !t.key.startsWith('node.kubernetes.io/'));
      taints.push({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: nowTimestamp() }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: nowTimestamp() });
      n.spec.taints = taints;
    }, { internal: true });
    for (const run of [...this.runs.values()]) if (run.node === name) this.dispose(run);
    for (const p of this.store.list('pods', { fieldSelector: `spec.nodeName=${name}` })) {
      if (isTerminal(p)) continue;
      if (opts.pods === 'delete') {
        try {
          this.store.delete('pods', p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 });
        } catch {
          // Gone.
        }
        continue;
      }
      this.store.mutate('pods', p.metadata.namespace, p.metadata.name ?? '', (x) => {
        x.status = { ...(x.status ?? {}), phase: 'Failed', reason: 'NodeLost', message: `Node ${name} which was running pod ${p.metadata.name} is unresponsive` };
        x.status.conditions = (x.status.conditions ?? []).map((c: any) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'NodeLost', lastTransitionTime: nowTimestamp() } : c));
        x.status.containerStatuses = (x.status.containerStatuses ?? []).map((c: any) => ({ ...c, ready: false }));
      }, { subresource: 'status' });
    }
  }

  /** Evict a pod like the kubelet under resource pressure: containers killed, phase Failed, reason Evicted. */
  evictPod(namespace: string, name: string, message = 'The node was low on resource: memory. '): void {
    const run = this.runs.get(`${namespace}/${name}`);
    if (run) {
      run.override = { reason: 'Evicted', message };
      for (const c of run.containers) c.handle?.signal('SIGKILL');
      this.writeStatus(run);
      const pod = this.store.get('pods', namespace, name);
      if (pod) recordEvent(this.store, pod, 'Warning', 'Evicted', message, 'kubelet');
      return;
    }
    this.store.mutate('pods', namespace, name, (x) => {
      x.status = { ...(x.status ?? {}), phase: 'Failed', reason: 'Evicted', message };
    }, { subresource: 'status' });
  }

  /** Stop every kubelet: kill processes, clear timers, remove work directories. */
  close(): void {
    this.unsubscribe?.();
    for (const run of [...this.runs.values()]) this.dispose(run);
    this.waiters.clear();
  }
}
