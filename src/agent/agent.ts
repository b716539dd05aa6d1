/**
 * Our snapshot agent (docs/protocol.md §7): one per node, talking to the API only through a
 * `KubeClient`, so it behaves like a real node agent against a real cluster or the dev
 * cluster. It watches checkpoint-source and restore-target pods on its node, writes
 * verdict annotations and events, and delegates the actual save/restore to an engine.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  ANNOTATION_ARTIFACT_VERSION,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
  ANNOTATION_RESTORE_STATUS,
  ARTIFACT_MANIFEST_FILE,
  ARTIFACT_VERSION,
  CHECKPOINT_STATUS_COMPLETED,
  CHECKPOINT_STATUS_FAILED,
  CONTAINERD_ID_PREFIX,
  EVENT_CHECKPOINT_FAILED,
  EVENT_CHECKPOINT_REFUSED,
  EVENT_CHECKPOINT_REQUESTED,
  EVENT_CHECKPOINT_SUCCEEDED,
  EVENT_RESTORE_FAILED,
  EVENT_RESTORE_NAMESPACE_UNVERIFIED,
  EVENT_RESTORE_REQUESTED,
  EVENT_RESTORE_SUCCEEDED,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_JOB_NAME,
  LABEL_JOB_NAME_LEGACY,
  LABEL_TRUE,
  RESTORE_STATUS_COMPLETED,
  RESTORE_STATUS_FAILED,
  RESTORE_STATUS_IN_PROGRESS,
} from '../protocol/constants.js';
import { isPodReady } from '../protocol/affinity.js';
import type { Job, KubeObject, Pod } from '../protocol/types.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  artifactDir,
  artifactExists,
  describeArtifactSource,
  createStaging,
  publishArtifact,
  readArtifactManifest,
  removeStaging,
  removeStagings,
  UnsafeArtifactPathError,
  unsafeIdReason,
  unsafeVersionReason,
  type ArtifactManifest,
} from './artifact.js';
import type { ContainerRef, SnapshotEngine } from './engine.js';
import { createEventRecorder, type EventRecorder } from './events.js';
import { createFaults, takeInjectedFailure, type AgentFaults } from './faults.js';
import { runInformer } from './informer.js';
import { tryAcquireLease } from './lease.js';
import { checkpointPodRefusal, replaceArtifactRefusal, restoreArtifactCheck } from './trust.js';
import { apiStatus, errorText, sleep } from './util.js';

/** Log levels of the agent's log lines. */
export type AgentLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Where the agent's log lines go. */
export type AgentLog = (level: AgentLogLevel, message: string) => void;

/** Timing knobs; defaults follow v1.0.x (30 s lease renewed every 10 s). */
export interface AgentTiming {
  /** `leaseDurationSeconds` of the per-Job Lease, ms. */
  leaseDurationMs: number;
  /** Renewal period of a held Lease, ms. */
  leaseRenewMs: number;
  /** Re-check of known pods (artifact appeared, lease expired), ms. */
  resyncMs: number;
  /** How long a restore waits for the pod to become Ready, ms. */
  restoreReadyTimeoutMs: number;
  /** Back-off after a failed list/watch, ms. */
  watchBackoffMs: number;
}

/**
 * Tries in all for a verdict's patch, through the client's retry policy. With the
 * client's default back-off (200 ms doubling to 5 s, half of it jitter) that is 8 to
 * 16 s of waiting: about what the agent's own loop around the client gave before, now
 * in one loop, and only after what the policy calls transient for a write.
 */
export const VERDICT_ATTEMPTS = 8;

export const DEFAULT_TIMING: AgentTiming = {
  leaseDurationMs: 30_000,
  leaseRenewMs: 10_000,
  resyncMs: 500,
  restoreReadyTimeoutMs: 10 * 60_000,
  watchBackoffMs: 1_000,
};

export interface StartAgentOptions {
  client: KubeClient;
  /** The node this agent serves (`NODE_NAME`). */
  nodeName: string;
  /** Local directory standing for the checkpoint PVC mount (`/checkpoints`). */
  storageRoot: string;
  engine: SnapshotEngine;
  /** Send a signal to a pod's (first) container on this node. */
  signalContainer(namespace: string, pod: string, sig: NodeJS.Signals): Promise<void> | void;
  /** Host PID of a pod's container, when the node can tell; real engines need it. */
  lookupPid?(namespace: string, pod: string): number | undefined;
  /** Namespace to serve; undefined serves all (a real agent's Role limits it to its own). */
  namespace?: string;
  /**
   * Restore a checkpoint into a namespace other than the one that made it (recorded in
   * its manifest), and let a checkpoint replace another namespace's artifact of the
   * same ID. Default false: a checkpoint holds the source worker's memory.
   */
  allowCrossNamespaceRestore?: boolean;
  /** Lease holder identity; default `snapshot-agent-<node>-<random>`. */
  identity?: string;
  log?: AgentLog;
  /** Clock (ms since epoch) for leases, events and manifests. */
  now?: () => number;
  timing?: Partial<AgentTiming>;
  /**
   * Called each time the agent has looked at a pod (a watch event or a resync) and
   * decided, and when an operation it launched has settled: the positive signal that
   * lets a test say "the agent saw this pod and chose to do nothing" instead of
   * sleeping and hoping it looked.
   */
  onDecision?: (d: AgentDecision) => void;
}

/**
 * One decision about one pod. `launched`: an operation started; `busy`: one is still
 * running for the pod; `idle`: nothing to do now (not Ready, another node, already
 * handled, silenced, draining); `settled`: a launched operation ended.
 */
export interface AgentDecision {
  kind: 'checkpoint' | 'restore';
  namespace: string;
  pod: string;
  decision: 'launched' | 'busy' | 'idle' | 'settled';
}

/** How `stop()` treats operations in flight. */
export interface StopAgentOptions {
  /**
   * Take no new work, then give operations in flight this long to finish before
   * aborting them (default 0: abort at once).
   */
  graceMs?: number;
  /**
   * Write a `failed` verdict with this reason on every operation aborted by the stop
   * (its Job or pod, and the Failed event), and release its lease. Without it an
   * aborted operation gets no verdict (the dev cluster closing). A restore target is
   * never killed for it.
   */
  reason?: string;
}

/** A started agent. */
export interface RunningAgent {
  readonly nodeName: string;
  readonly identity: string;
  /** Fault switches, read at the start of each operation. */
  readonly faults: AgentFaults;
  /** True once the checkpoint and restore informers have each listed their pods. */
  readonly synced: boolean;
  /** End every watch, timer and lease renewal, and wait for in-flight work to settle. */
  stop(opts?: StopAgentOptions): Promise<void>;
}

type PodKind = 'checkpoint' | 'restore';

/** Start an agent. Work begins at once (list + watch); call `stop()` to end it. */
export function startAgent(opts: StartAgentOptions): RunningAgent {
  const agent = new Agent(opts);
  agent.start();
  return {
    nodeName: opts.nodeName,
    identity: agent.identity,
    faults: agent.faults,
    get synced() {
      return agent.synced;
    },
    stop: (stopOpts) => agent.stop(stopOpts),
  };
}

class Agent {
  readonly identity: string;
  readonly faults = createFaults();
  private readonly client: KubeClient;
  private readonly engine: SnapshotEngine;
  private readonly node: string;
  private readonly timing: AgentTiming;
  private readonly now: () => number;
  private readonly logSink: AgentLog;
  private readonly record: EventRecorder;
  private readonly abort = new AbortController();
  private readonly pods: Record<PodKind, Map<string, Pod>> = { checkpoint: new Map(), restore: new Map() };
  /** Pod UIDs with an operation running; one operation per pod at a time. */
  private readonly busy = new Set<string>();
  /** `<uid>:<id>` of checkpoints that need nothing more (verdict written or seen). */
  private readonly finished = new Set<string>();
  /** Keys not to retry before a time (lease held elsewhere). */
  private readonly notBefore = new Map<string, number>();
  /** Keys already logged as waiting, so a 500 ms resync does not flood the log. */
  private readonly noted = new Set<string>();
  private readonly readyWaiters = new Map<string, Set<(pod: Pod | undefined) => void>>();
  private readonly tasks = new Set<Promise<void>>();
  /** Operations in flight (a subset of `tasks`, which also holds the informers). */
  private readonly ops = new Set<Promise<void>>();
  /** Informers that have listed at least once. */
  private readonly listed = new Set<PodKind>();
  /** Set by `stop()`: no new operation starts. */
  private draining = false;
  /** `StopAgentOptions.reason` of the stop that aborted the operations. */
  private abortReason: string | undefined;
  private stopping: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: StartAgentOptions) {
    this.client = opts.client;
    this.engine = opts.engine;
    this.node = opts.nodeName;
    this.timing = { ...DEFAULT_TIMING, ...(opts.timing ?? {}) };
    this.now = opts.now ?? Date.now;
    this.logSink = opts.log ?? (() => {});
    this.identity = opts.identity ?? `snapshot-agent-${opts.nodeName}-${randomBytes(3).toString('hex')}`;
    this.record = createEventRecorder({
      client: this.client,
      nodeName: this.node,
      now: this.now,
      log: (m) => this.log('warn', m),
    });
  }

  private log(level: AgentLogLevel, message: string): void {
    this.logSink(level, `[${this.node}] ${message}`);
  }

  start(): void {
    this.log('info', `snapshot agent ${this.identity} started (engine ${this.engine.name}${this.engine.simulated ? ', simulated' : ''})`);
    for (const kind of ['checkpoint', 'restore'] as const) {
      const label = kind === 'checkpoint' ? LABEL_IS_CHECKPOINT_SOURCE : LABEL_IS_RESTORE_TARGET;
      this.track(
        runInformer<Pod>({
          client: this.client,
          resource: RESOURCES.pods,
          namespace: this.opts.namespace,
          labelSelector: `${label}=${LABEL_TRUE}`,
          fieldSelector: `spec.nodeName=${this.node}`,
          signal: this.abort.signal,
          backoffMs: this.timing.watchBackoffMs,
          log: (m) => this.log('warn', m),
          onList: (items) => {
            this.listed.add(kind);
            const map = this.pods[kind];
            map.clear();
            for (const pod of items) if (pod.metadata.uid) map.set(pod.metadata.uid, pod);
            for (const pod of items) this.onPod(kind, pod);
          },
          onEvent: (type, pod) => {
            const uid = pod.metadata.uid;
            if (!uid) return;
            if (type === 'DELETED') {
              this.pods[kind].delete(uid);
              this.notifyReady(uid, undefined);
              return;
            }
            this.pods[kind].set(uid, pod);
            this.onPod(kind, pod);
          },
        }),
      );
    }
    this.resyncTimer = setInterval(() => this.resync(), this.timing.resyncMs);
  }

  get synced(): boolean {
    return this.listed.size === 2;
  }

  stop(opts: StopAgentOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(opts);
    return this.stopping;
  }

  private async shutdown(opts: StopAgentOptions): Promise<void> {
    this.draining = true;
    const graceMs = opts.graceMs ?? 0;
    if (this.ops.size > 0 && graceMs > 0) {
      this.log('info', `stopping: no new work; waiting up to ${Math.round(graceMs / 100) / 10} s for ${this.ops.size} operation(s) in flight`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.ops]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    this.abortReason = opts.reason;
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const [uid] of this.readyWaiters) this.notifyReady(uid, undefined);
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    this.log('info', 'snapshot agent stopped');
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private track(p: Promise<void>): void {
    const task = p.catch((err) => this.log('error', `unexpected: ${errorText(err)}`)).finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private resync(): void {
    for (const kind of ['checkpoint', 'restore'] as const) for (const pod of this.pods[kind].values()) this.onPod(kind, pod);
  }

  /** A pod changed (or the resync timer fired): start an operation if one is due. */
  private onPod(kind: PodKind, pod: Pod): void {
    if (this.stopped || !pod.metadata.uid) return;
    const decision = this.decide(kind, pod);
    this.opts.onDecision?.({ kind, namespace: pod.metadata.namespace ?? 'default', pod: pod.metadata.name ?? '', decision });
  }

  private decide(kind: PodKind, pod: Pod): 'launched' | 'busy' | 'idle' {
    const uid = pod.metadata.uid ?? '';
    if (kind === 'restore' && isPodReady(pod)) this.notifyReady(uid, pod);
    if (kind === 'restore' && pod.status?.phase !== undefined && pod.status.phase !== 'Running' && pod.status.phase !== 'Pending') {
      this.notifyReady(uid, undefined);
    }
    // The field selector does this on the server; checked again so a client or
    // server that ignores it cannot make us act on another node's pod.
    if (pod.spec.nodeName !== this.node || pod.metadata.deletionTimestamp) return 'idle';
    if (this.busy.has(uid)) return 'busy';
    if (this.draining || this.faults.silent) return 'idle';
    if (kind === 'checkpoint') {
      if (!isPodReady(pod)) return 'idle';
      const key = `${uid}:${pod.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? ''}`;
      if (this.finished.has(key) || (this.notBefore.get(key) ?? 0) > this.now()) return 'idle';
      this.launch(uid, () => this.checkpoint(pod, key), { kind, pod });
    } else {
      if (pod.status?.phase !== 'Running') return 'idle';
      if (pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] !== undefined) return 'idle';
      this.launch(uid, () => this.restore(pod), { kind, pod });
    }
    return 'launched';
  }

  private launch(uid: string, op: () => Promise<void>, about: { kind: PodKind; pod: Pod }): void {
    this.busy.add(uid);
    const running = op().finally(() => {
      this.busy.delete(uid);
      this.opts.onDecision?.({ kind: about.kind, namespace: about.pod.metadata.namespace ?? 'default', pod: about.pod.metadata.name ?? '', decision: 'settled' });
    });
    this.track(running);
    const settled = running.catch(() => {});
    this.ops.add(settled);
    void settled.finally(() => this.ops.delete(settled));
  }

  // ---------------------------------------------------------------- checkpoint

  private async checkpoint(pod: Pod, key: string): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    const id = pod.metadata.labels?.[LABEL_CHECKPOINT_ID];
    // Kubernetes before 1.27 labels a Job's pods with `job-name` only.
    const jobName = pod.metadata.labels?.[LABEL_JOB_NAME] ?? pod.metadata.labels?.[LABEL_JOB_NAME_LEGACY];
    if (!id || !jobName) {
      await this.refuseCheckpoint(pod, key, `the pod lacks the ${!id ? LABEL_CHECKPOINT_ID : LABEL_JOB_NAME} label`);
      return;
    }
    let job: Job;
    try {
      job = withKind(await this.client.get<Job>(RESOURCES.jobs, ns, jobName), 'batch/v1', 'Job');
    } catch (err) {
      if (apiStatus(err) === 404) {
        await this.refuseCheckpoint(pod, key, `its Job ${ns}/${jobName} does not exist`);
      } else {
        this.log('warn', `could not read Job ${ns}/${jobName}: ${errorText(err)}; will retry`);
      }
      return;
    }
    // Labels are anyone's to write: the Job must own the pod (checked on the Job as the
    // API returns it) before anything is done to or on behalf of that Job.
    const refusal = checkpointPodRefusal(pod, job);
    if (refusal) {
      await this.refuseCheckpoint(pod, key, refusal);
      return;
    }
    if (job.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS] !== undefined) {
      this.finished.add(key);
      return;
    }
    const container = this.containerRef(pod);

    const version = artifactVersionOf(pod);
    const unsafe = unsafeIdReason(id) ?? unsafeVersionReason(version);
    if (unsafe) {
      this.finished.add(key);
      await this.failCheckpoint(job, container, `refused: ${unsafe}`);
      return;
    }
    if (this.faults.silent) return;

    const attempt = await tryAcquireLease({
      client: this.client,
      namespace: ns,
      name: jobName,
      holder: this.identity,
      durationMs: this.timing.leaseDurationMs,
      renewMs: this.timing.leaseRenewMs,
      owner: { apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '' },
      now: this.now,
      log: (m) => this.log('warn', m),
    }).catch((err: unknown) => {
      this.log('warn', `could not take lease ${ns}/${jobName}: ${errorText(err)}; will retry`);
      return undefined;
    });
    if (!attempt) return;
    if (!attempt.acquired) {
      if (!this.noted.has(`lease:${key}`)) this.log('info', `checkpoint ${id}: lease ${ns}/${jobName} is held by ${attempt.holder}; waiting`);
      this.noted.add(`lease:${key}`);
      this.notBefore.set(key, this.now() + this.timing.leaseRenewMs);
      return;
    }

    const lease = attempt.lease;
    const finalDir = artifactDir(this.opts.storageRoot, id, version);
    if (attempt.tookOverFrom !== undefined) {
      try {
        await this.finishInterrupted(pod, job, container, { id, version, finalDir }, attempt.tookOverFrom);
      } finally {
        this.finished.add(key);
        await lease.release();
      }
      return;
    }
    let staging: string | undefined;
    try {
      await this.record(
        job,
        'Normal',
        EVENT_CHECKPOINT_REQUESTED,
        `checkpoint ${id} of pod ${podName} started on node ${this.node} with the ${this.engineLabel()}`,
      );
      const injected = takeInjectedFailure(this.faults);
      if (injected) throw new Error(injected);

      const taken = (await this.existingRefusal(id, version, ns)) ?? (await this.writerRefusal(job, id, version, ns));
      if (taken) throw new Error(`refused: ${taken}`);
      // Stopped while looking: no dump is started (the engine would be handed an aborted signal).
      if (this.abort.signal.aborted) throw new Error('the agent is stopping');
      staging = await createStaging(this.opts.storageRoot, id, version, job.metadata.uid ?? '');
      const result = await this.engine.checkpoint({
        pod,
        container,
        checkpointId: id,
        nodeName: this.node,
        artifactDir: staging,
        log: (m) => this.log('info', m),
        signal: this.abort.signal,
      });
      const manifest: ArtifactManifest = {
        checkpointId: id,
        artifactVersion: version,
        createdAt: new Date(this.now()).toISOString(),
        nodeName: this.node,
        namespace: ns,
        pod: podName,
        podUid: pod.metadata.uid ?? '',
        container: container.containerName,
        simulated: this.engine.simulated,
        engine: {
          name: this.engine.name,
          simulated: this.engine.simulated,
          ...(result.details ? { details: result.details } : {}),
        },
      };
      if (container.containerId) manifest.containerId = container.containerId;
      const image = pod.spec.containers[0]?.image;
      if (image) manifest.image = image;
      if (result.bytes !== undefined) manifest.bytes = result.bytes;
      // Another agent may hold the Job now (this one could not renew through an API
      // outage) and fail it as interrupted: publish nothing under a Job that is not ours.
      if (lease.lost) throw new Error(`lost lease ${ns}/${jobName} while checkpointing; the dump was not published`);
      await publishArtifact(this.opts.storageRoot, staging, manifest);
      staging = undefined;
      if (this.stopped) throw new Error('the agent is stopping');
      if (lease.lost) throw new Error(`lost lease ${ns}/${jobName} while checkpointing`);

      await this.delayVerdict();
      // The worker exits on SIGUSR1 so that its Job completes (§4).
      await container.signal('SIGUSR1');
      await this.annotate(RESOURCES.jobs, ns, jobName, { [ANNOTATION_CHECKPOINT_STATUS]: CHECKPOINT_STATUS_COMPLETED });
      this.finished.add(key);
      await this.record(
        job,
        'Normal',
        EVENT_CHECKPOINT_SUCCEEDED,
        `checkpoint ${id} written to ${finalDir} by the ${this.engineLabel()}${result.bytes !== undefined ? ` (${result.bytes} bytes)` : ''}`,
      );
      this.log('info', `checkpoint ${id} of ${ns}/${podName} completed`);
    } catch (err) {
      if (staging) {
        await removeStaging(this.opts.storageRoot, id, staging).catch((e: unknown) =>
          this.log('warn', `checkpoint ${id}: left staging directory ${staging}: ${errorText(e)}`),
        );
      }
      if (this.stopped && this.abortReason === undefined) {
        // No verdict on shutdown: the Job stays pending and a restarted agent retries.
        this.log('warn', `checkpoint ${id} of ${ns}/${podName} interrupted by shutdown: ${errorText(err)}`);
        return;
      }
      if (this.stopped) {
        this.finished.add(key);
        await this.failCheckpoint(job, container, this.abortReason ?? '');
        return;
      }
      this.finished.add(key);
      await this.failCheckpoint(job, container, failureText(err));
    } finally {
      await lease.release();
    }
  }

  /** Why a checkpoint from `ns` may not replace the artifact already under `id`, if one is there. */
  /**
   * An artifact is written once: one already published under this ID and version is
   * never replaced (restored workers may run from it), whoever wrote it.
   */
  private async existingRefusal(id: string, version: string, ns: string): Promise<string | undefined> {
    if (!(await artifactExists(this.opts.storageRoot, id, version))) return undefined;
    const dir = artifactDir(this.opts.storageRoot, id, version);
    const manifest = await readArtifactManifest(dir).catch(() => undefined);
    const other = manifest
      ? replaceArtifactRefusal(manifest, { checkpointId: id, namespace: ns, allowCrossNamespace: false, manifestFile: join(dir, ARTIFACT_MANIFEST_FILE) })
      : undefined;
    if (other) return other;
    return (
      `checkpoint ID ${id} (version ${version}) already has an artifact (${await describeArtifactSource(dir)}), and an artifact is written once: ` +
      `choose another checkpoint ID, or delete that one first (\`snapshotctl delete ${id} --artifacts -n ${ns}\`)`
    );
  }

  /**
   * Another checkpoint Job of this namespace, started before this one, is writing the
   * same ID and version (no verdict yet): the later one gives way at once instead of
   * dumping for nothing. Best effort: without the list, publishing stays atomic.
   */
  private async writerRefusal(job: Job, id: string, version: string, ns: string): Promise<string | undefined> {
    const jobs = await this.client.list<Job>(RESOURCES.jobs, ns, { labelSelector: `${LABEL_CHECKPOINT_ID}=${id}` }).catch(() => undefined);
    const mine = job.metadata;
    const key = (j: Job): [string, string] => [j.metadata.creationTimestamp ?? '', j.metadata.name ?? ''];
    const earlier = (a: Job, b: Job): boolean => {
      const [ta, na] = key(a);
      const [tb, nb] = key(b);
      return ta !== tb ? ta < tb : na < nb;
    };
    const writer = jobs?.items.find(
      (j) =>
        j.metadata.uid !== mine.uid &&
        j.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS] === undefined &&
        (j.spec?.template?.metadata?.annotations?.[ANNOTATION_ARTIFACT_VERSION] ?? ARTIFACT_VERSION) === version &&
        earlier(j, job),
    );
    if (!writer) return undefined;
    return `checkpoint ID ${id} (version ${version}) is being written by job.batch/${writer.metadata.name ?? '?'}, started before this one; choose another checkpoint ID, or wait for that one`;
  }

  /** A pod that is not its Job's checkpoint source: a Warning on the pod, nothing on the Job. */
  private async refuseCheckpoint(pod: Pod, key: string, why: string): Promise<void> {
    this.finished.add(key);
    const ns = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    this.log('warn', `refused checkpoint source pod ${ns}/${podName}: ${why}`);
    await this.record(
      withKind(pod, 'v1', 'Pod'),
      'Warning',
      EVENT_CHECKPOINT_REFUSED,
      `refused to checkpoint pod ${podName}: ${why}; no Job was touched`,
    );
  }

  /**
   * The Job's Lease was held by another agent that stopped without releasing it (killed,
   * its pod deleted, its node lost) in the middle of this checkpoint. When the artifact
   * it was writing was published, and was taken from this very pod, only the verdict
   * was missing: it is written now. Otherwise the attempt's unfinished files are removed
   * and the Job fails: its pod may have been left half-dumped (criu cut off with its
   * parasite inside, or the tree stopped), so it is not dumped again.
   */
  private async finishInterrupted(pod: Pod, job: Job, container: ContainerRef, artifact: { id: string; version: string; finalDir: string }, holder: string): Promise<void> {
    const { id, version, finalDir } = artifact;
    const ns = pod.metadata.namespace ?? 'default';
    const jobName = job.metadata.name ?? '';
    const podUid = pod.metadata.uid ?? '';
    this.log('warn', `checkpoint ${id}: agent ${holder} held the lease of Job ${ns}/${jobName} and stopped without a verdict; taking over`);
    let published = false;
    try {
      if (podUid !== '' && (await artifactExists(this.opts.storageRoot, id, version))) {
        const manifest = await readArtifactManifest(finalDir).catch(() => undefined);
        published = manifest?.['podUid'] === podUid && manifest?.['namespace'] === ns;
      }
    } catch (err) {
      await this.failCheckpoint(job, container, failureText(err));
      return;
    }
    if (published) {
      await container.signal('SIGUSR1');
      await this.annotate(RESOURCES.jobs, ns, jobName, { [ANNOTATION_CHECKPOINT_STATUS]: CHECKPOINT_STATUS_COMPLETED });
      await this.record(job, 'Normal', EVENT_CHECKPOINT_SUCCEEDED, `checkpoint ${id} written to ${finalDir} (agent ${holder} published it and stopped before its verdict; completed by ${this.identity})`);
      this.log('info', `checkpoint ${id} of ${ns}/${pod.metadata.name}: completed what ${holder} published`);
      return;
    }
    const removed = await removeStagings(this.opts.storageRoot, id, version, job.metadata.uid ?? '').catch((err: unknown) => {
      this.log('warn', `checkpoint ${id}: could not remove what the interrupted attempt left: ${errorText(err)}`);
      return [] as string[];
    });
    await this.failCheckpoint(
      job,
      container,
      `interrupted: agent ${holder} stopped in the middle of it (its pod deleted or killed) and no artifact was published` +
        `${removed.length > 0 ? `; its unfinished files were removed (${removed.join(', ')})` : ''}. ` +
        'The source pod may have been left half-dumped, so it is not dumped again: delete the Job and run the checkpoint again',
    );
  }

  private async failCheckpoint(job: Job, container: ContainerRef, why: string): Promise<void> {
    const ns = job.metadata.namespace ?? 'default';
    const id = job.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? '?';
    this.log('warn', `checkpoint ${id} (Job ${ns}/${job.metadata.name}) failed: ${why}`);
    await container.signal('SIGKILL').catch((err: unknown) => this.log('warn', `could not kill ${ns}/${container.podName}: ${errorText(err)}`));
    await this.delayVerdict();
    await this.annotate(RESOURCES.jobs, ns, job.metadata.name ?? '', { [ANNOTATION_CHECKPOINT_STATUS]: CHECKPOINT_STATUS_FAILED }).catch(
      (err: unknown) => this.log('error', `could not mark Job ${ns}/${job.metadata.name} failed: ${errorText(err)}`),
    );
    await this.record(job, 'Warning', EVENT_CHECKPOINT_FAILED, `checkpoint ${id} failed: ${why}`);
  }

  // ------------------------------------------------------------------- restore

  private async restore(cached: Pod): Promise<void> {
    const uid = cached.metadata.uid ?? '';
    const id = cached.metadata.labels?.[LABEL_CHECKPOINT_ID];
    // Cheap check first: while the artifact is missing, a resync costs a stat, not an API call.
    const waitKey = `artifact:${uid}:${id ?? ''}`;
    const version = artifactVersionOf(cached);
    let refusal = id ? (unsafeIdReason(id) ?? unsafeVersionReason(version)) : undefined;
    if (id && !refusal) {
      try {
        if (!(await artifactExists(this.opts.storageRoot, id, version))) {
          if (!this.noted.has(waitKey)) {
            this.noted.add(waitKey);
            this.log('info', `restore ${id} into ${cached.metadata.namespace}/${cached.metadata.name}: waiting for ${artifactDir(this.opts.storageRoot, id, version)}`);
          }
          return;
        }
      } catch (err) {
        if (!(err instanceof UnsafeArtifactPathError)) {
          if (!this.noted.has(`${waitKey}:error`)) this.log('warn', `restore ${id}: cannot look for its artifact (${errorText(err)}); will retry`);
          this.noted.add(`${waitKey}:error`);
          return;
        }
        refusal = err.message;
      }
    }

    // Decide on the current object, not on the (possibly stale) watch event: this is
    // what makes a pod re-patched for a new restore be handled again, and a pod we just
    // finished not be handled twice.
    let pod: Pod;
    try {
      pod = withKind(await this.client.get<Pod>(RESOURCES.pods, cached.metadata.namespace, cached.metadata.name ?? ''), 'v1', 'Pod');
    } catch (err) {
      if (apiStatus(err) !== 404) this.log('warn', `could not read pod ${cached.metadata.namespace}/${cached.metadata.name}: ${errorText(err)}`);
      return;
    }
    if (
      pod.metadata.uid !== uid ||
      pod.spec.nodeName !== this.node ||
      pod.metadata.labels?.[LABEL_IS_RESTORE_TARGET] !== LABEL_TRUE ||
      pod.status?.phase !== 'Running' ||
      pod.metadata.deletionTimestamp ||
      pod.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] !== undefined ||
      pod.metadata.labels?.[LABEL_CHECKPOINT_ID] !== id ||
      artifactVersionOf(pod) !== version
    ) {
      return;
    }
    if (this.faults.silent) return;
    const ns = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    const placeholder = this.containerRef(pod);

    if (!id) {
      await this.failRestore(pod, placeholder, `the pod has no ${LABEL_CHECKPOINT_ID} label`, false);
      return;
    }
    if (refusal) {
      await this.failRestore(pod, placeholder, `refused: ${refusal}`, false);
      return;
    }
    const dir = artifactDir(this.opts.storageRoot, id, version);
    // The manifest says where the checkpoint was made: read (and judged) before the
    // restore starts, so a refusal leaves the placeholder as it was.
    let manifest: Record<string, unknown>;
    try {
      // Looked at again: the path may have changed since the look at the top.
      if (!(await artifactExists(this.opts.storageRoot, id, version))) return;
      manifest = await readArtifactManifest(dir);
    } catch (err) {
      await this.failRestore(pod, placeholder, `refused: ${errorText(err)}`, false);
      return;
    }
    const check = restoreArtifactCheck(manifest, {
      checkpointId: id,
      namespace: ns,
      allowCrossNamespace: this.opts.allowCrossNamespaceRestore ?? false,
      manifestFile: join(dir, ARTIFACT_MANIFEST_FILE),
    });
    if (check.refusal) {
      await this.failRestore(pod, placeholder, `refused: ${check.refusal}`, false);
      return;
    }

    const annotations: Record<string, string> = { [ANNOTATION_RESTORE_STATUS]: RESTORE_STATUS_IN_PROGRESS };
    if (placeholder.containerId) annotations[ANNOTATION_RESTORE_CONTAINER_ID] = placeholder.containerId;
    try {
      // Guarded by the version we decided on: a pod changed since is re-read next time.
      await this.client.patch(
        RESOURCES.pods,
        ns,
        podName,
        { metadata: { resourceVersion: pod.metadata.resourceVersion ?? '', annotations } },
        'merge',
      );
    } catch (err) {
      this.log('info', `restore ${id} into ${ns}/${podName}: could not mark in progress (${errorText(err)}); will retry`);
      return;
    }
    await this.record(
      pod,
      'Normal',
      EVENT_RESTORE_REQUESTED,
      `restore of checkpoint ${id} into pod ${podName} started on node ${this.node} with the ${this.engineLabel()}`,
    );
    if (check.warning) {
      this.log('warn', `restore ${id} into ${ns}/${podName}: ${check.warning}`);
      await this.record(pod, 'Warning', EVENT_RESTORE_NAMESPACE_UNVERIFIED, check.warning);
    }

    try {
      const injected = takeInjectedFailure(this.faults);
      if (injected) throw new Error(injected);
      await this.engine.restore({
        pod,
        placeholder,
        checkpointId: id,
        nodeName: this.node,
        artifactDir: dir,
        manifest,
        log: (m) => this.log('info', m),
        signal: this.abort.signal,
      });
      await this.waitReady(pod);
      await this.delayVerdict();
      if (this.stopped) throw new Error('the agent is stopping');
      await this.annotate(RESOURCES.pods, ns, podName, { [ANNOTATION_RESTORE_STATUS]: RESTORE_STATUS_COMPLETED });
      await this.record(
        pod,
        'Normal',
        EVENT_RESTORE_SUCCEEDED,
        `checkpoint ${id} restored into pod ${podName} by the ${this.engineLabel()}`,
      );
      this.log('info', `restore ${id} into ${ns}/${podName} completed`);
    } catch (err) {
      if (this.stopped && this.abortReason === undefined) {
        this.log('warn', `restore ${id} into ${ns}/${podName} interrupted by shutdown: ${errorText(err)}`);
        return;
      }
      if (this.stopped) {
        // The placeholder (and a tree already restored into it) is left running.
        await this.failRestore(pod, placeholder, this.abortReason ?? '', false);
        return;
      }
      await this.failRestore(pod, placeholder, failureText(err), true, true);
    }
  }

  private async failRestore(pod: Pod, placeholder: ContainerRef, why: string, kill: boolean, delayed = false): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    const id = pod.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? '?';
    this.log('warn', `restore ${id} into ${ns}/${podName} failed: ${why}`);
    if (delayed) await this.delayVerdict();
    await this.annotate(RESOURCES.pods, ns, podName, { [ANNOTATION_RESTORE_STATUS]: RESTORE_STATUS_FAILED }).catch((err: unknown) =>
      this.log('error', `could not mark pod ${ns}/${podName} failed: ${errorText(err)}`),
    );
    // A half-restored placeholder must not linger as if it were a worker.
    if (kill) {
      await placeholder.signal('SIGKILL').catch((err: unknown) => this.log('warn', `could not kill ${ns}/${podName}: ${errorText(err)}`));
    }
    await this.record(pod, 'Warning', EVENT_RESTORE_FAILED, `restore of checkpoint ${id} failed: ${why}`);
  }

  /** Resolves when the pod is Ready; throws when it is deleted, ends, or times out. */
  private waitReady(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    const cached = this.pods.restore.get(uid);
    if (cached && isPodReady(cached)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiters = this.readyWaiters.get(uid) ?? new Set();
      this.readyWaiters.set(uid, waiters);
      const timer = setTimeout(() => {
        waiters.delete(done);
        reject(new Error(`the pod did not become Ready within ${Math.round(this.timing.restoreReadyTimeoutMs / 1000)} s after the restore`));
      }, this.timing.restoreReadyTimeoutMs);
      function done(p: Pod | undefined) {
        clearTimeout(timer);
        waiters.delete(done);
        if (p) resolve();
        else reject(new Error('the pod was deleted or stopped before it became Ready'));
      }
      waiters.add(done);
    });
  }

  private notifyReady(uid: string, pod: Pod | undefined): void {
    const waiters = this.readyWaiters.get(uid);
    if (!waiters) return;
    for (const w of [...waiters]) w(pod);
    if (waiters.size === 0) this.readyWaiters.delete(uid);
  }

  // ------------------------------------------------------------------- helpers

  private containerRef(pod: Pod): ContainerRef {
    const ns = pod.metadata.namespace ?? 'default';
    const podName = pod.metadata.name ?? '';
    const containerName = pod.spec.containers[0]?.name ?? '';
    const statuses = pod.status?.containerStatuses ?? [];
    const raw = (statuses.find((s) => s.name === containerName) ?? statuses[0])?.containerID;
    const ref: ContainerRef = {
      namespace: ns,
      podName,
      podUid: pod.metadata.uid ?? '',
      containerName,
      signal: async (sig) => {
        await this.opts.signalContainer(ns, podName, sig);
      },
    };
    if (raw) ref.containerId = raw.startsWith(CONTAINERD_ID_PREFIX) ? raw.slice(CONTAINERD_ID_PREFIX.length) : raw;
    const pid = this.opts.lookupPid?.(ns, podName);
    if (pid !== undefined) ref.pid = pid;
    return ref;
  }

  /**
   * Merge-patch annotations (a verdict). Retried by the client's one policy
   * (`isTransient` for a write: what certainly did not reach the server), with the longer
   * patience of `VERDICT_ATTEMPTS` so a short API outage does not lose the verdict.
   * Anything else is final: the patch names no resourceVersion, so a 409 is not a
   * stale read that trying again would cure (the server already re-applies such a
   * patch to the latest object itself), and 400/422/403/404/500 are not retried.
   */
  private async annotate(res: typeof RESOURCES.jobs | typeof RESOURCES.pods, ns: string, name: string, annotations: Record<string, string>): Promise<void> {
    // A verdict written on the way out (stopped with a reason) gets the client's default
    // tries; one still being retried when the agent stops gives up with the stop.
    const opts = this.stopped ? {} : { attempts: VERDICT_ATTEMPTS, signal: this.abort.signal };
    await this.client.patch(res, ns, name, { metadata: { annotations } }, 'merge', opts);
  }

  private async delayVerdict(): Promise<void> {
    if (this.faults.delayMs > 0) await sleep(this.faults.delayMs, this.abort.signal);
  }

  private engineLabel(): string {
    return this.engine.simulated
      ? `simulated engine "${this.engine.name}" (no process state saved)`
      : `${this.engine.name} engine`;
  }
}

/** An error as a verdict's reason: what the agent would not do reads as a refusal. */
function failureText(err: unknown): string {
  return err instanceof UnsafeArtifactPathError ? `refused: ${err.message}` : errorText(err);
}

/**
 * The artifact version a checkpoint or restore pod asks for: its annotation (the CLI
 * always sends `1`), else `1`. Validated by the caller before it becomes a path.
 */
function artifactVersionOf(pod: Pod): string {
  return pod.metadata.annotations?.[ANNOTATION_ARTIFACT_VERSION] ?? ARTIFACT_VERSION;
}

/** List and watch items carry no kind; events need it on `involvedObject`. */
function withKind<T extends KubeObject>(obj: T, apiVersion: string, kind: string): T {
  return { ...obj, apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? kind };
}
