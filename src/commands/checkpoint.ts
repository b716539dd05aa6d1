/**
 * `snapshotctl checkpoint`: create the checkpoint Job of docs/protocol.md §4 from a worker
 * Pod manifest and wait for the agent's verdict on it.
 */
import { ClusterError, UsageError } from '../errors.js';
import { isApiStatus, toClusterError } from '../kube/errors.js';
import { waitForObject } from '../kube/wait.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import {
  buildCheckpointJob,
  checkForCheckpoint,
  checkpointLocation,
  generateCheckpointId,
  jobVerdict,
  withAgentAffinity,
  LABEL_CHECKPOINT_ID,
  LABEL_JOB_NAME,
  type Job,
  type Pod,
} from '../protocol/index.js';
import { findStorage, placementNodes } from './cluster.js';
import { formatDuration } from './duration.js';
import { parseCommonOptions, resolveNamespace, type RawCommonOptions } from './common-options.js';
import type { CommandDeps, CommonOptions, DryRunResult, OperationResult } from './context.js';
import { checkManifestOrThrow, readManifest } from './manifest-input.js';
import { createAndSupervise, startBudget, superviseWait, throwIfInterrupted, timeoutOrNoLimit, type SuperviseArgs } from './operation.js';
import { describePodProgress } from './progress.js';

export interface RawCheckpointOptions extends RawCommonOptions {
  manifest?: string;
  checkpointId?: string;
  disableCudaCheckpointJobFile?: boolean;
  skipImageCheck?: boolean;
  config?: string;
  resume?: boolean;
}

export interface CheckpointOptions extends CommonOptions {
  manifestSource: string;
  pod: Pod;
  namespace: string;
  checkpointId: string;
  idGenerated: boolean;
  wrapCudaCheckpoint: boolean;
  /** --skip-image-check: the placeholder-image policy was not applied. */
  skipImageCheck: boolean;
  /** --resume: wait on the Job an earlier, interrupted run created instead of creating one. */
  resume: boolean;
}

/** Read inputs and fill defaults (kubeconfig namespace, generated ID). */
export async function complete(raw: RawCheckpointOptions, deps: CommandDeps): Promise<CheckpointOptions> {
  const common = parseCommonOptions(raw);
  if (!raw.manifest) {
    throw new UsageError('checkpoint needs --manifest', 'pass --manifest FILE with the worker Pod manifest (or - for stdin)');
  }
  const wrap = raw.disableCudaCheckpointJobFile !== true;
  const text = await readManifest(raw.manifest, deps);
  const id = raw.checkpointId ?? generateCheckpointId(deps.nowNanos());
  const skipImageCheck = raw.skipImageCheck === true;
  const pod = await checkManifestOrThrow(
    text,
    raw.manifest,
    (p) => checkForCheckpoint(p, { requireCommand: wrap }),
    { purpose: 'checkpoint', skipImageCheck, checkpointId: id, ...(raw.config !== undefined ? { config: raw.config } : {}) },
    deps,
  );
  const contextNs = common.namespace || pod.metadata.namespace ? undefined : await deps.contextNamespace(common);
  return {
    ...common,
    manifestSource: raw.manifest,
    pod,
    namespace: resolveNamespace(common.namespace, pod.metadata.namespace, contextNs, raw.manifest),
    checkpointId: id,
    idGenerated: raw.checkpointId === undefined,
    wrapCudaCheckpoint: wrap,
    skipImageCheck,
    resume: raw.resume === true,
  };
}

/** Pure checks across options (manifest rules ran in complete). */
export function validate(opts: CheckpointOptions): void {
  if (opts.resume && opts.dryRun !== 'none') {
    throw new UsageError('--resume and --dry-run contradict each other', '--resume waits on an existing Job; leave --dry-run out');
  }
  // Every rule needs the manifest text or the ID, both checked while completing;
  // the seam stays so later rules (image policy) have one place to go.
}

function jobOf(opts: CheckpointOptions): Job {
  return buildCheckpointJob(opts.pod, {
    namespace: opts.namespace,
    checkpointId: opts.checkpointId,
    wrapCudaCheckpoint: opts.wrapCudaCheckpoint,
  });
}

/** Create the Job and wait. Returns the result, or a dry-run listing. */
export async function run(opts: CheckpointOptions, deps: CommandDeps): Promise<OperationResult | DryRunResult> {
  const startedMs = deps.now();
  let job = jobOf(opts);
  if (opts.dryRun === 'client' && opts.pvc !== undefined) {
    // Offline: nothing from the cluster is needed to print the exact Job, and without
    // the cluster there is no agent placement to add (docs/protocol.md §11).
    return { dryRun: 'client', objects: [job as unknown as Record<string, unknown>] };
  }
  const client = await deps.kube(opts, deps.logger);
  const budget = startBudget(client, deps, opts.timeoutMs);
  let basePath = opts.basePath;
  if (basePath === undefined || opts.agentAffinity) {
    const what = `looking for the snapshot agent in namespace "${opts.namespace}"`;
    deps.reporter.phase(what);
    basePath = await budget.guard(what, async (look) => {
      const found = await findStorage(look, opts.namespace);
      if (opts.agentAffinity) {
        const nodes = await placementNodes(look, opts.namespace, found.daemonSet, opts.node, deps.reporter);
        if (nodes) job = { ...job, spec: { ...job.spec, template: { ...job.spec.template, spec: withAgentAffinity(job.spec.template.spec, nodes) } } };
      }
      return opts.basePath ?? found.storage.basePath;
    });
  }
  if (opts.dryRun === 'client') return { dryRun: 'client', objects: [job as unknown as Record<string, unknown>] };

  const jobName = job.metadata.name ?? '';
  if (opts.resume) return resumeJob(client, opts, jobName, basePath, startedMs, deps);
  const location = checkpointLocation(basePath, opts.checkpointId);
  throwIfInterrupted(deps.signal);
  const taken = await budget.guard(`looking for other checkpoints with ID "${opts.checkpointId}"`, (look) => idTakenError(look, opts, jobName, deps));
  if (taken) throw taken;
  return createAndSupervise({
    client,
    deps,
    opts,
    startedMs,
    resource: RESOURCES.jobs,
    kind: 'Job',
    object: job,
    display: `job.batch/${jobName}`,
    createError: async (err) => (isApiStatus(err, 409) ? jobExistsError(client, opts, jobName, deps) : undefined),
    supervise: (created) => ({
      base: resultBase(opts, jobName, opts.checkpointId, location, startedMs),
      eventNames: [jobName],
      wait: () => waitForJob(client, opts, jobName, created.metadata.uid, deps),
    }),
  });
}

/** Wait on the Job's verdict while following its pod for the progress line and node. */
async function waitForJob(
  client: KubeClient,
  opts: CheckpointOptions,
  jobName: string,
  uid: string | undefined,
  deps: CommandDeps,
): Promise<{ verdict: ReturnType<typeof jobVerdict>; node?: string }> {
  const follow = new AbortController();
  const onAbort = () => follow.abort();
  deps.signal.addEventListener('abort', onAbort, { once: true });
  let node: string | undefined;
  let finished = false;
  // Not awaited: best effort, it never rejects.
  void followJobPod(client, opts.namespace, jobName, follow.signal, (pod) => {
    if (finished) return;
    node = pod.spec.nodeName ?? node;
    deps.reporter.phase(describePodProgress(pod, 'waiting for the snapshot agent to checkpoint it'));
  });
  try {
    deps.reporter.phase(`waiting for the snapshot agent's verdict on job.batch/${jobName}`);
    const job = await waitForObject<Job>(client, {
      resource: RESOURCES.jobs,
      namespace: opts.namespace,
      name: jobName,
      // A Job recreated under the same name by someone else is not ours to judge.
      until: (j) => (j !== undefined && uid !== undefined && j.metadata.uid !== uid) || jobVerdict(j).state !== 'pending',
      signal: deps.signal,
      timeoutMs: timeoutOrNoLimit(opts.timeoutMs),
      pollIntervalMs: opts.pollIntervalMs,
      onNotice: (msg) => deps.reporter.warn(msg),
    });
    if (job && uid !== undefined && job.metadata.uid !== uid) {
      return { verdict: { state: 'failed', reason: `job.batch/${jobName} was replaced by another Job of the same name` } };
    }
    return { verdict: jobVerdict(job), ...(node ? { node } : {}) };
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
    // Not on the way to the exit: the progress watch reports nothing more, and is closed
    // in the next turn of the event loop, after the result is out.
    finished = true;
    setImmediate(() => follow.abort());
  }
}

/** Best effort: report the Job pod's progress; never fails the run. */
async function followJobPod(
  client: KubeClient,
  namespace: string,
  jobName: string,
  signal: AbortSignal,
  onPod: (pod: Pod) => void,
): Promise<void> {
  try {
    for await (const event of client.watch<Pod>(RESOURCES.pods, namespace, { labelSelector: `${LABEL_JOB_NAME}=${jobName}` }, signal)) {
      if (event.type === 'ADDED' || event.type === 'MODIFIED') onPod(event.object);
    }
  } catch {
    // Progress only: the verdict wait has its own retries and error handling.
  }
}

/**
 * One ID, one artifact: another checkpoint Job of the namespace with this ID that
 * completed or is still running means the ID is taken (the agent would refuse to
 * write it again). A failed one does not count. Jobs of the same name are left to the
 * create's own "already exists"; a CLI without `list` on Jobs leaves it to the agent.
 */
async function idTakenError(client: KubeClient, opts: CheckpointOptions, jobName: string, deps: CommandDeps): Promise<ClusterError | undefined> {
  let jobs: Job[];
  try {
    jobs = (await client.list<Job>(RESOURCES.jobs, opts.namespace, { labelSelector: `${LABEL_CHECKPOINT_ID}=${opts.checkpointId}` })).items;
  } catch (err) {
    if (isApiStatus(err, 403)) return undefined;
    throw toClusterError(err);
  }
  const other = jobs.find((j) => j.metadata.name !== jobName && jobVerdict(j).state !== 'failed');
  if (!other) return undefined;
  const ns = opts.namespace;
  const id = opts.checkpointId;
  return new ClusterError(
    `checkpoint ID "${id}" is already used in namespace "${ns}" by job.batch/${other.metadata.name ?? '?'}${describeExistingJob(other, deps.now())}; a checkpoint ID names one artifact`,
    `choose another --checkpoint-id, or delete that checkpoint first: \`snapshotctl delete ${id} --artifacts -n ${ns}\``,
    409,
  );
}

/** What an existing Job of the same name is, for the "already exists" message. */
function describeExistingJob(job: Job | undefined, now: number): string {
  if (!job) return '';
  const id = job.metadata.labels?.[LABEL_CHECKPOINT_ID];
  const verdict = jobVerdict(job);
  const state = verdict.state === 'pending' ? 'still waiting for a verdict' : verdict.state;
  const created = job.metadata.creationTimestamp ? Date.parse(job.metadata.creationTimestamp) : NaN;
  const age = Number.isNaN(created) ? '' : `, created ${formatDuration(Math.max(0, now - created))} ago`;
  return ` (${id ? `checkpoint ID "${id}", ` : ''}${state}${age})`;
}

/**
 * A Job of this name exists: usually an earlier run that was killed (kill -9, lost
 * terminal) before it could clean up. Say what it is and give both ways on.
 */
async function jobExistsError(client: KubeClient, opts: CheckpointOptions, jobName: string, deps: CommandDeps): Promise<ClusterError> {
  const existing = await client.get<Job>(RESOURCES.jobs, opts.namespace, jobName).catch(() => undefined);
  const verdict = existing !== undefined ? jobVerdict(existing).state : undefined;
  const ns = opts.namespace;
  const resume = `snapshotctl checkpoint --manifest ${opts.manifestSource} -n ${ns} --resume`;
  const remove = `kubectl delete job ${jobName} -n ${ns} --cascade=foreground`;
  const oldId = existing?.metadata.labels?.[LABEL_CHECKPOINT_ID];
  // A finished checkpoint keeps its artifact when only its Job goes (restored pods are not touched).
  const hint =
    verdict === 'pending'
      ? `wait for it: \`${resume}\`, or delete it and start again: \`${remove}\``
      : verdict === 'completed' && oldId
        ? `its checkpoint stays on the volume (listed and restorable) when only the Job goes: \`snapshotctl delete ${oldId} --keep-artifacts -y -n ${ns}\`, then checkpoint again`
        : `delete it to checkpoint again: \`${remove}\``;
  return new ClusterError(
    `job.batch "${jobName}" already exists in namespace "${ns}"${describeExistingJob(existing, deps.now())}; an earlier checkpoint of pod "${opts.pod.metadata.name}" ran or was interrupted`,
    hint,
    409,
  );
}

/** --resume: wait on the Job an earlier run left, without creating anything. */
async function resumeJob(
  client: KubeClient,
  opts: CheckpointOptions,
  jobName: string,
  basePath: string,
  startedMs: number,
  deps: CommandDeps,
): Promise<OperationResult> {
  let job: Job;
  try {
    job = await client.get<Job>(RESOURCES.jobs, opts.namespace, jobName);
  } catch (err) {
    if (isApiStatus(err, 404)) {
      throw new ClusterError(`no job.batch "${jobName}" in namespace "${opts.namespace}" to resume`, 'run the same command without --resume to start a checkpoint', 404);
    }
    throw toClusterError(err);
  }
  const id = job.metadata.labels?.[LABEL_CHECKPOINT_ID] ?? opts.checkpointId;
  if (!opts.idGenerated && id !== opts.checkpointId) {
    throw new UsageError(
      `job.batch "${jobName}" is for checkpoint ID "${id}", not "${opts.checkpointId}"`,
      `resume with --checkpoint-id ${id}, or leave --checkpoint-id out`,
    );
  }
  deps.reporter.info(`resuming the wait on job.batch/${jobName} (checkpoint ID "${id}"); it was not created by this run, so it is never deleted by it`);
  return superviseWait({
    client,
    deps,
    opts,
    base: resultBase(opts, jobName, id, checkpointLocation(basePath, id), startedMs),
    startedMs,
    eventNames: [jobName],
    wait: () => waitForJob(client, opts, jobName, job.metadata.uid, deps),
  });
}

/** The result's identity fields, for a new Job and a resumed one alike. */
function resultBase(opts: CheckpointOptions, jobName: string, checkpointId: string, location: string, startedMs: number): SuperviseArgs['base'] {
  return {
    kind: 'checkpoint',
    namespace: opts.namespace,
    name: opts.pod.metadata.name ?? '',
    checkpointJob: jobName,
    checkpointId,
    checkpointLocation: location,
    startedAt: new Date(startedMs).toISOString(),
  };
}
