/**
 * `snapshotctl checkpoint --identity FILE|flags`: checkpoint through a `DynamoCheckpoint`
 * (docs/protocol.md §8) instead of a bare Job. The identity hash names the checkpoint: a
 * `Ready` object with the same hash is reused at once, an unfinished one is waited on,
 * otherwise one is created and its `status.phase` awaited (Ready → 0, Failed → 1).
 */
import { stringify } from 'yaml';
import { ClusterError, OperationFailed, UsageError } from '../errors.js';
import { isApiStatus, toClusterError } from '../kube/errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { waitForObject } from '../kube/wait.js';
import {
  buildDynamoCheckpoint,
  defaultDynamoCheckpointName,
  dynamoCheckpointHash,
  dynamoCheckpointJobName,
  podTemplateFromPod,
  type DynamoCheckpointObject,
  type PodTemplateSpec,
} from '../protocol/dynamo-checkpoint.js';
import {
  checkForCheckpoint,
  checkpointLocation,
  identityHash,
  parseYamlValue,
  LABEL_JOB_NAME,
  type CheckpointIdentity,
  type Pod,
  type StringMap,
  type Verdict,
} from '../protocol/index.js';
import { findStorage } from './cluster.js';
import { assertName, parseCommonOptions, resolveNamespace, type RawCommonOptions } from './common-options.js';
import type { CommandDeps, CommonOptions, DryRunResult, OperationResult } from './context.js';
import { complete as completeHash, type RawHashOptions } from './hash.js';
import { checkManifestOrThrow, readManifest } from './manifest-input.js';
import { createAndSupervise, superviseWait, timeoutOrNoLimit } from './operation.js';

export interface RawDynamoCheckpointOptions extends RawCommonOptions, Omit<RawHashOptions, 'file' | 'output'> {
  identity?: string;
  manifest?: string;
  checkpointId?: string;
  resume?: boolean;
  skipImageCheck?: boolean;
  config?: string;
}

export interface DynamoCheckpointOptions extends CommonOptions {
  namespace: string;
  hash: string;
  identity: CheckpointIdentity;
  /** Where the identity came from: `flags`, `DynamoCheckpoint/x`, `DynamoGraphDeployment/x/services/y`. */
  identitySource: string;
  /** The object this run would create. */
  object: DynamoCheckpointObject;
}

const IDENTITY_FLAGS = ['model', 'backendFramework', 'dynamoVersion', 'tp', 'pp', 'dtype', 'maxModelLen'] as const;

/** Does this checkpoint command line ask for a DynamoCheckpoint? */
export function usesIdentity(raw: Record<string, unknown>): boolean {
  return raw['identity'] !== undefined || IDENTITY_FLAGS.some((f) => raw[f] !== undefined) || ((raw['extra'] as unknown[] | undefined) ?? []).length > 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The DynamoCheckpoint document of an `--identity` file, if it holds one. */
function dynamoCheckpointDoc(text: string): Record<string, unknown> | undefined {
  try {
    const doc: unknown = parseYamlValue(text);
    return isRecord(doc) && doc['kind'] === 'DynamoCheckpoint' ? doc : undefined;
  } catch {
    return undefined; // several documents or not YAML: completeHash reports what is wrong
  }
}

/** Read the identity, the pod template and the names; every input problem before any request. */
export async function complete(raw: RawDynamoCheckpointOptions, deps: CommandDeps): Promise<DynamoCheckpointOptions> {
  const common = parseCommonOptions(raw);
  if (raw.checkpointId !== undefined) {
    throw new UsageError('--checkpoint-id does not go with --identity or identity flags', 'the checkpoint ID of a DynamoCheckpoint is its identity hash (snapshotctl hash prints it); leave --checkpoint-id out');
  }
  if (raw.resume === true) {
    throw new UsageError('--resume does not go with --identity or identity flags', 'an unfinished DynamoCheckpoint with the same identity is always waited on; leave --resume out');
  }
  if (raw.node !== undefined) {
    throw new UsageError('--node does not go with --identity or identity flags', 'the controller of the DynamoCheckpoint places the checkpoint Job; put a nodeSelector in the pod template instead');
  }
  const flagsGiven = IDENTITY_FLAGS.some((f) => raw[f] !== undefined) || (raw.extra ?? []).length > 0;
  if (raw.identity !== undefined && flagsGiven) {
    throw new UsageError('--identity and identity flags contradict each other', 'give either --identity FILE or --model/--backend-framework/... flags');
  }
  if (raw.service !== undefined && raw.identity === undefined) throw new UsageError('--service needs --identity with a DynamoGraphDeployment');
  if (raw.identity === '-' && raw.manifest === '-') throw new UsageError('--identity and --manifest cannot both read stdin', 'give one of them as a file');

  // Read the file once (stdin cannot be read twice) and let `hash` parse the identity.
  const text = raw.identity !== undefined ? await readManifest(raw.identity, deps, { flag: '--identity', noun: '--identity', holds: 'a DynamoCheckpoint or DynamoGraphDeployment file' }) : '';
  const hashed = await completeHash(
    { ...raw, ...(raw.identity !== undefined ? { file: raw.identity } : {}), output: 'text' },
    { readFile: async () => text, readStdin: async () => text },
  );
  if (hashed.identities.length > 1) {
    throw new UsageError(
      `${raw.identity} has ${hashed.identities.length} services with a checkpoint identity (${hashed.identities.map((i) => i.service ?? i.source).join(', ')})`,
      'pick one with --service NAME',
    );
  }
  const found = hashed.identities[0]!;
  const hash = identityHash(found.identity);
  const fileDoc = raw.identity !== undefined ? dynamoCheckpointDoc(text) : undefined;
  const fileMeta = isRecord(fileDoc?.['metadata']) ? fileDoc['metadata'] : {};
  const fileSpec = isRecord(fileDoc?.['spec']) ? fileDoc['spec'] : {};
  const fileJob = isRecord(fileSpec['job']) ? fileSpec['job'] : {};

  // The pod template: --manifest, else the DynamoCheckpoint file's own; checked by the same rules as a worker manifest.
  const skipImageCheck = raw.skipImageCheck === true;
  const ruleOptions = { purpose: 'checkpoint' as const, skipImageCheck, ...(raw.config !== undefined ? { config: raw.config } : {}) };
  const extra = (p: Pod) => checkForCheckpoint(p, { requireCommand: false, checkpointId: hash });
  let pod: Pod;
  let templateSource: string;
  if (raw.manifest !== undefined) {
    if (fileJob['podTemplateSpec'] !== undefined) deps.reporter.warn(`--manifest ${raw.manifest} replaces spec.job.podTemplateSpec of ${raw.identity}`);
    pod = await checkManifestOrThrow(await readManifest(raw.manifest, deps), raw.manifest, extra, ruleOptions, deps);
    templateSource = raw.manifest;
  } else if (isRecord(fileJob['podTemplateSpec'])) {
    const t = fileJob['podTemplateSpec'];
    const asPod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...(isRecord(t['metadata']) ? t['metadata'] : {}), name: String(fileMeta['name'] ?? defaultDynamoCheckpointName(hash)) }, spec: t['spec'] };
    templateSource = `${raw.identity} (spec.job.podTemplateSpec)`;
    pod = await checkManifestOrThrow(stringify(asPod), templateSource, extra, ruleOptions, deps);
  } else {
    throw new UsageError(
      'checkpoint --identity needs the worker pod template',
      'pass --manifest FILE with the worker Pod manifest (its labels, annotations and spec become spec.job.podTemplateSpec), or an --identity DynamoCheckpoint file that has spec.job.podTemplateSpec',
    );
  }
  const template: PodTemplateSpec = podTemplateFromPod(pod);

  const fileNs = typeof fileMeta['namespace'] === 'string' ? fileMeta['namespace'] : undefined;
  const manifestNs = raw.manifest !== undefined ? pod.metadata.namespace : undefined;
  const contextNs = common.namespace || fileNs || manifestNs ? undefined : await deps.contextNamespace(common);
  const namespace = resolveNamespace(common.namespace, fileNs ?? manifestNs, contextNs, fileNs !== undefined ? raw.identity : raw.manifest);
  const name = typeof fileMeta['name'] === 'string' && fileMeta['name'] !== '' ? fileMeta['name'] : defaultDynamoCheckpointName(hash);
  assertName('DynamoCheckpoint', name, `metadata.name of ${raw.identity ?? 'the DynamoCheckpoint'}`, 'name: qwen3-checkpoint');
  const stringMap = (v: unknown): StringMap | undefined =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as StringMap : undefined;
  const labels = stringMap(fileMeta['labels']);
  const annotations = stringMap(fileMeta['annotations']);
  const gms = isRecord(fileSpec['gpuMemoryService']) ? { enabled: fileSpec['gpuMemoryService']['enabled'] === true } : undefined;
  const deadline = fileJob['activeDeadlineSeconds'];
  if (deadline !== undefined && !(typeof deadline === 'number' && Number.isSafeInteger(deadline) && deadline > 0)) {
    throw new UsageError(`spec.job.activeDeadlineSeconds in ${raw.identity} must be a whole number of seconds > 0 (got ${JSON.stringify(deadline)})`);
  }
  const object = buildDynamoCheckpoint({
    name,
    namespace,
    identity: found.identity,
    podTemplateSpec: template,
    ...(typeof deadline === 'number' ? { activeDeadlineSeconds: deadline } : {}),
    ...(gms ? { gpuMemoryService: gms } : {}),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  });
  return { ...common, namespace, hash, identity: found.identity, identitySource: found.source, object };
}

/** Nothing left to check across options. */
export function validate(_opts: DynamoCheckpointOptions): void {}

const terminal = (d: DynamoCheckpointObject | undefined): boolean => d?.status?.phase === 'Ready' || d?.status?.phase === 'Failed';

function noCrdError(opts: DynamoCheckpointOptions): ClusterError {
  return new ClusterError(
    'this cluster has no DynamoCheckpoint resource (dynamocheckpoints.nvidia.com, nvidia.com/v1alpha1): Dynamo\'s operator (or its CRD) is not installed',
    `install Dynamo's operator, or checkpoint without --identity: \`snapshotctl checkpoint --manifest WORKER.yaml -n ${opts.namespace} --checkpoint-id ${opts.hash}\` creates the checkpoint Job directly`,
    404,
  );
}

/** Find, reuse, or create the DynamoCheckpoint, and wait for its phase. */
export async function run(opts: DynamoCheckpointOptions, deps: CommandDeps): Promise<OperationResult | DryRunResult> {
  const startedMs = deps.now();
  const obj = opts.object as unknown as Record<string, unknown>;
  if (opts.dryRun === 'client') return { dryRun: 'client', objects: [obj] };
  const client = await deps.kube(opts, deps.logger);
  const ns = opts.namespace;

  deps.reporter.phase(`looking for a DynamoCheckpoint with identity hash ${opts.hash} in namespace "${ns}"`);
  let existing: DynamoCheckpointObject[];
  try {
    existing = (await client.list<DynamoCheckpointObject>(RESOURCES.dynamocheckpoints, ns, { signal: deps.signal })).items.filter((d) => dynamoCheckpointHash(d) === opts.hash);
  } catch (err) {
    if (isApiStatus(err, 404)) throw noCrdError(opts);
    throw toClusterError(err);
  }
  const ready = existing.find((d) => d.status?.phase === 'Ready');
  const unfinished = existing.find((d) => !terminal(d));
  const failed = existing.find((d) => d.status?.phase === 'Failed');

  const location = await locate(client, opts, deps);
  const base = (d: DynamoCheckpointObject, reused: boolean) => ({
    kind: 'checkpoint' as const,
    namespace: ns,
    name: d.metadata.name ?? '',
    checkpointJob: d.status?.jobName ?? dynamoCheckpointJobName(opts.hash),
    checkpointId: opts.hash,
    checkpointLocation: location,
    startedAt: new Date(startedMs).toISOString(),
    dynamoCheckpoint: d.metadata.name ?? '',
    identityHash: opts.hash,
    reused,
  });

  if (ready && opts.dryRun === 'none') {
    const since = ready.status?.createdAt ? `, Ready since ${ready.status.createdAt}` : '';
    deps.reporter.info(`reused dynamocheckpoint.nvidia.com/${ready.metadata.name} (identity hash ${opts.hash}${since}); nothing was created`);
    const node = await jobNode(client, ns, ready.status?.jobName ?? dynamoCheckpointJobName(opts.hash));
    const now = deps.now();
    return {
      ...base(ready, true),
      status: 'completed',
      phase: 'Completed',
      ...(node ? { node } : {}),
      finishedAt: new Date(now).toISOString(),
      durationSeconds: Math.round(now - startedMs) / 1000,
      events: [],
    };
  }
  if (unfinished && opts.dryRun === 'none') {
    deps.reporter.info(
      `waiting on the existing dynamocheckpoint.nvidia.com/${unfinished.metadata.name} (identity hash ${opts.hash}, phase ${unfinished.status?.phase ?? 'none yet'}); it was not created by this run, so it is never deleted by it`,
    );
    const b = base(unfinished, true);
    return superviseWait({ client, deps, opts, base: b, startedMs, eventNames: eventNames(b), wait: () => waitForReady(client, opts, deps, b, unfinished) });
  }
  if (failed && !ready && !unfinished && opts.dryRun === 'none') {
    const name = failed.metadata.name ?? '';
    throw new OperationFailed(
      `dynamocheckpoint.nvidia.com/${name} with identity hash ${opts.hash} failed: ${failed.status?.message || 'no message'}`,
      `it holds this identity's checkpoint Job name (${dynamoCheckpointJobName(opts.hash)}); delete it and run again: \`kubectl delete dckpt ${name} -n ${ns}\``,
    );
  }

  const name = opts.object.metadata.name ?? '';
  return createAndSupervise({
    client,
    deps,
    opts,
    startedMs,
    resource: RESOURCES.dynamocheckpoints,
    kind: 'DynamoCheckpoint',
    object: opts.object,
    display: `dynamocheckpoint.nvidia.com/${name}`,
    createError: async (err) => {
      if (isApiStatus(err, 404)) return noCrdError(opts);
      if (!isApiStatus(err, 409)) return undefined;
      const other = await client.get<DynamoCheckpointObject>(RESOURCES.dynamocheckpoints, ns, name).catch(() => undefined);
      const otherHash = other ? dynamoCheckpointHash(other) : undefined;
      return new ClusterError(
        `dynamocheckpoint.nvidia.com "${name}" already exists in namespace "${ns}"${otherHash ? ` with identity hash ${otherHash}, not ${opts.hash}` : ''}`,
        `give the DynamoCheckpoint another metadata.name in the --identity file, or delete the old one: \`kubectl delete dckpt ${name} -n ${ns}\``,
        409,
      );
    },
    supervise: (created) => {
      const b = base(created, false);
      return { base: b, eventNames: eventNames(b), wait: () => waitForReady(client, opts, deps, b, created) };
    },
  });
}

type Base = Omit<OperationResult, 'status' | 'phase' | 'finishedAt' | 'durationSeconds' | 'events'>;

/** The names whose events go into json/yaml output: the checkpoint Job's and the DynamoCheckpoint's. */
function eventNames(base: Base): string[] {
  return [base.checkpointJob ?? '', base.name];
}

/** Wait on `status.phase` of `target` (for superviseWait); notes the Job the controller made in `base`. */
async function waitForReady(
  client: KubeClient,
  opts: DynamoCheckpointOptions,
  deps: CommandDeps,
  base: Base,
  target: DynamoCheckpointObject,
): Promise<{ verdict: Verdict; node?: string }> {
  const name = target.metadata.name ?? '';
  const uid = target.metadata.uid;
  deps.reporter.phase(`waiting for dynamocheckpoint.nvidia.com/${name} to become Ready`);
  const d = await waitForObject<DynamoCheckpointObject>(client, {
    resource: RESOURCES.dynamocheckpoints,
    namespace: opts.namespace,
    name,
    until: (o) => o === undefined || (uid !== undefined && o.metadata.uid !== uid) || terminal(o),
    signal: deps.signal,
    timeoutMs: timeoutOrNoLimit(opts.timeoutMs),
    pollIntervalMs: opts.pollIntervalMs,
    onProgress: (o) => {
      if (o) deps.reporter.phase(`dynamocheckpoint.nvidia.com/${name}: ${o.status?.phase ?? 'waiting for its controller'}${o.status?.message ? `: ${o.status.message}` : ''}`);
    },
    onNotice: (msg) => deps.reporter.warn(msg),
    description: `dynamocheckpoint.nvidia.com/${name} in namespace "${opts.namespace}" to become Ready`,
  });
  if (d?.status?.jobName) base.checkpointJob = d.status.jobName;
  let verdict: Verdict;
  if (!d || (uid !== undefined && d.metadata.uid !== uid)) verdict = { state: 'failed', reason: `dynamocheckpoint.nvidia.com/${name} was deleted while waiting` };
  else if (d.status?.phase === 'Ready') verdict = { state: 'completed' };
  else verdict = { state: 'failed', reason: d.status?.message || 'its phase is Failed' };
  const node = await jobNode(client, opts.namespace, base.checkpointJob ?? '');
  return { verdict, ...(node ? { node } : {}) };
}

/** The checkpoint location, when the agent's storage can be found; '' otherwise (with a note). */
async function locate(client: KubeClient, opts: DynamoCheckpointOptions, deps: CommandDeps): Promise<string> {
  if (opts.basePath !== undefined) return checkpointLocation(opts.basePath, opts.hash);
  try {
    return checkpointLocation((await findStorage(client, opts.namespace)).storage.basePath, opts.hash);
  } catch (err) {
    // Only the location line needs the storage here; the controller and agent do the work.
    deps.reporter.warn(`checkpoint location unknown (${(err as Error).message}); pass --pvc and --base-path to print it`);
    return '';
  }
}

/** Where the Job's pod ran, best effort. */
async function jobNode(client: KubeClient, namespace: string, jobName: string): Promise<string | undefined> {
  try {
    const pods = await client.list<Pod>(RESOURCES.pods, namespace, { labelSelector: `${LABEL_JOB_NAME}=${jobName}` });
    return pods.items.map((p) => p.spec?.nodeName).find((n): n is string => typeof n === 'string' && n !== '');
  } catch {
    return undefined;
  }
}
