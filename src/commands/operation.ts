/**
 * The part checkpoint and restore share after the first write: wait for the agent's
 * verdict, build the result, and on failure, timeout or interrupt delete what this run
 * created (docs/cli.md "Cleanup"), never anything else.
 */
import { deadlineSignal } from '../kube/deadline.js';
import { ClusterError, Interrupted, OperationFailed, SnapshotError, TimeoutError } from '../errors.js';
import { explainApiError, isApiStatus, isTransientCode, toClusterError } from '../kube/errors.js';
import { waitForObject } from '../kube/wait.js';
import { RESOURCES, type KubeClient, type ListOptions, type RequestOptions, type ResourceType } from '../kube/types.js';
import {
  AGENT_SELECTOR_COMPONENT,
  EVENT_CHECKPOINT_FAILED,
  EVENT_RESTORE_FAILED,
  jobVerdict,
  restoreVerdict,
  type Job,
  type KubeObject,
  type Pod,
  type Verdict,
} from '../protocol/index.js';
import type { CommandDeps, CommonOptions, CreatedObject, DryRunMode, DryRunResult, EventSummary, OperationResult } from './context.js';
import { deleteCommand, qualifiedName } from './leftovers.js';
import { formatDuration } from './duration.js';

/** Bound on waiting for a deleted object to disappear during cleanup. */
const CLEANUP_WAIT_MS = 30_000;
/** Reads and deletes of one object during cleanup: a delete that loses the race with a new verdict is read again. */
const CLEANUP_ROUNDS = 3;
/** With `--timeout 0` we wait without a limit (setTimeout's ceiling). */
const NO_LIMIT_MS = 2 ** 31 - 1;

export function timeoutOrNoLimit(ms: number): number {
  return ms > 0 ? Math.min(ms, NO_LIMIT_MS) : NO_LIMIT_MS;
}

export { qualifiedName } from './leftovers.js';

function resourceOf(obj: CreatedObject): ResourceType {
  return obj.kind === 'Job' ? RESOURCES.jobs : obj.kind === 'DynamoCheckpoint' ? RESOURCES.dynamocheckpoints : RESOURCES.pods;
}

/** True when the agent (or the operator) says the work is done: such an object is the result, never cleanup. */
export function isCompleted(kind: CreatedObject['kind'], obj: KubeObject): boolean {
  switch (kind) {
    case 'Job':
      return jobVerdict(obj as Job).state === 'completed';
    case 'Pod':
      return restoreVerdict(obj as Pod).state === 'completed';
    case 'DynamoCheckpoint':
      return (obj as { status?: { phase?: unknown } }).status?.phase === 'Ready';
  }
}

export interface CleanupOptions {
  /** Poll interval when the cleanup wait has to poll (`--poll-interval`). */
  pollIntervalMs?: number;
  /** The API server stopped answering: one try per call, no waiting for disappearance. */
  serverLost?: boolean;
}

/**
 * Delete what this run created, newest first, and wait (bounded) until it is gone.
 * Each object is read first: one whose verdict is `completed` is kept (it is the
 * result, whatever happened to the wait), and the delete carries the uid and the
 * resourceVersion read, so a verdict written in between makes it fail (409) and the
 * object is read again. Uses its own signal: cleanup must run even after Ctrl-C
 * aborted the wait. Returns what was deleted, as `kind/name`.
 */
export async function cleanupCreated(
  client: KubeClient,
  created: CreatedObject[],
  deps: Pick<CommandDeps, 'reporter' | 'leftovers'>,
  opts: CleanupOptions = {},
): Promise<string[]> {
  const deleted: string[] = [];
  const attempts = opts.serverLost ? 1 : undefined;
  for (const obj of [...created].reverse()) {
    const res = resourceOf(obj);
    const label = `${qualifiedName(obj)} in namespace "${obj.namespace}"`;
    const leaveIt = (why: string): void => deps.reporter.warn(`could not delete ${label}: ${why}; delete it with: ${deleteCommand(obj)}`);
    deps.reporter.phase(`cleaning up: deleting ${label}`);
    let outcome: 'deleted' | 'gone' | 'kept' | 'replaced' | 'left' = 'left';
    for (let round = 1; round <= CLEANUP_ROUNDS && outcome === 'left'; round++) {
      let current: KubeObject | undefined;
      try {
        current = await client.get(res, obj.namespace, obj.name, { ...(attempts ? { attempts } : {}) });
      } catch (err) {
        if (isApiStatus(err, 404)) {
          outcome = 'gone';
          break;
        }
        // Not readable (RBAC, a flaky server): delete by uid alone, as before reads were added.
        current = undefined;
      }
      if (current && obj.uid !== undefined && current.metadata?.uid !== obj.uid) {
        deps.reporter.info(`not deleting ${label}: it was replaced by another object of the same name, which this run did not create`);
        outcome = 'replaced';
        break;
      }
      if (current && isCompleted(obj.kind, current)) {
        deps.reporter.info(`kept ${label}: it is marked completed, so it is the result, not something to clean up`);
        outcome = 'kept';
        break;
      }
      const rv = current?.metadata?.resourceVersion;
      try {
        await client.delete(res, obj.namespace, obj.name, {
          propagationPolicy: obj.kind === 'Pod' ? 'Background' : 'Foreground',
          ...(obj.uid ? { uid: obj.uid } : {}),
          ...(rv ? { resourceVersion: rv } : {}),
          ...(attempts ? { attempts } : {}),
        });
        outcome = 'deleted';
      } catch (err) {
        if (isApiStatus(err, 404)) outcome = 'gone';
        else if (isApiStatus(err, 409) && rv && round < CLEANUP_ROUNDS) continue; // changed since read: read again
        else {
          leaveIt(explainApiError(err).message);
          break;
        }
      }
    }
    if (outcome === 'left') continue;
    deps.leftovers?.remove(obj);
    if (outcome === 'kept' || outcome === 'replaced') continue;
    deleted.push(qualifiedName(obj));
    if (outcome === 'gone') continue;
    if (opts.serverLost) {
      deps.reporter.info(`deletion of ${label} requested (created by this run); the API server could not confirm it is gone`);
      continue;
    }
    try {
      // Deletion is accepted; wait (bounded) until it is really gone, so a script that
      // looks right after we exit finds nothing.
      await waitForObject(client, {
        resource: res,
        namespace: obj.namespace,
        name: obj.name,
        until: (o: KubeObject | undefined) => o === undefined || (obj.uid !== undefined && o.metadata?.uid !== obj.uid),
        signal: new AbortController().signal,
        timeoutMs: CLEANUP_WAIT_MS,
        ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      });
      deps.reporter.info(`deleted ${label} (created by this run)`);
    } catch (err) {
      deps.reporter.info(
        `deletion of ${label} requested (created by this run); ${err instanceof ClusterError ? `could not confirm it is gone: ${err.message}` : 'it is still terminating'}`,
      );
    }
  }
  return deleted;
}

/** Events about the named objects, oldest first; best effort (never fails the run). */
export async function collectEvents(client: KubeClient, namespace: string, names: string[]): Promise<EventSummary[]> {
  return (await readEvents(client, namespace, names)).events;
}

/** The events of `names`, and whether a list failed (after the client's own retries). */
async function readEvents(client: KubeClient, namespace: string, names: string[]): Promise<{ events: EventSummary[]; failed: boolean }> {
  const events: Array<EventSummary & { sort: string; rv: number }> = [];
  let failed = false;
  for (const name of names) {
    try {
      const list = await client.list(RESOURCES.events, namespace, { fieldSelector: `involvedObject.name=${name}` });
      for (const e of list.items) {
        const time = String(e['lastTimestamp'] ?? e['eventTime'] ?? e['firstTimestamp'] ?? e.metadata?.creationTimestamp ?? '');
        events.push({
          type: String(e['type'] ?? 'Normal'),
          reason: String(e['reason'] ?? ''),
          message: String(e['message'] ?? ''),
          ...(time ? { time } : {}),
          sort: time,
          // Timestamps have one-second precision; the resourceVersion orders within a second.
          rv: Number(e.metadata?.resourceVersion ?? 0) || 0,
        });
      }
    } catch {
      // Events are a nicety; a cluster that refuses them still gets its result.
      failed = true;
    }
  }
  return { events: events.sort((a, b) => a.sort.localeCompare(b.sort) || a.rv - b.rv).map(({ sort: _sort, rv: _rv, ...e }) => e), failed };
}

/**
 * `--timeout` covers the whole run, not only the wait: the look-ups before the first
 * write (storage discovery, agent nodes, the pod to restore into) share it, so an API
 * server that keeps answering 503 with a long Retry-After, or never answers at all,
 * cannot hold the run past it. list, describe and delete run entirely under one.
 */
export interface RunBudget {
  /**
   * Client whose reads stop when the budget runs out or Ctrl-C comes. Writes are never
   * aborted (that could leave an object we never learn about); their answer limit is
   * cut to what is left instead.
   */
  client: KubeClient;
  /** What is left for the wait, ms (`0`: no limit). */
  remainingMs(): number;
  /** The error to throw for a failed look-up: a timeout or interrupt when that is what it was. */
  explain(err: unknown, what: string): unknown;
  /** Run look-ups with the budgeted client; failures go through `explain`. */
  guard<T>(what: string, lookups: (client: KubeClient) => Promise<T>): Promise<T>;
  /** Throws the timeout or interrupt when the budget ran out or Ctrl-C came (best-effort reads swallow both). */
  check(what: string): void;
  /** The budget ran out (or Ctrl-C came). */
  expired(): boolean;
}

export interface BudgetOptions {
  /** The message of an interrupt during `what`; default: before anything was created. */
  interrupted?: (what: string) => string;
}

/** Node codes of a try that got no answer in time. */
const NO_ANSWER_CODES = new Set(['ETIMEDOUT']);

export function startBudget(client: KubeClient, deps: Pick<CommandDeps, 'signal' | 'now'>, timeoutMs: number, opts: BudgetOptions = {}): RunBudget {
  const started = deps.now();
  const signal = timeoutMs > 0 ? deadlineSignal(deps.signal, timeoutOrNoLimit(timeoutMs)) : deps.signal;
  const interrupted = opts.interrupted ?? (() => 'interrupted before anything was created; nothing to clean up');
  const remainingMs = (): number => (timeoutMs > 0 ? Math.max(1, timeoutMs - (deps.now() - started)) : 0);
  // A read aborted while backing off from a failing server: report what the server said.
  const lastAnswer = (err: unknown): never => {
    throw (err as { lastFailure?: unknown }).lastFailure ?? err;
  };
  const writeLimit = <O extends RequestOptions>(o: O | undefined): O | undefined => {
    if (timeoutMs <= 0) return o;
    const left = remainingMs();
    return { ...o, timeoutMs: Math.min(o?.timeoutMs ?? left, left) } as O;
  };
  const budgeted: KubeClient = {
    contextNamespace: client.contextNamespace,
    contextName: client.contextName,
    ...(client.server !== undefined ? { server: client.server } : {}),
    get<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, name: string, o?: RequestOptions) {
      return client.get<T>(res, ns, name, { ...o, signal: o?.signal ?? signal }).catch(lastAnswer);
    },
    list<T extends KubeObject = KubeObject>(res: ResourceType, ns: string | undefined, o?: ListOptions) {
      return client.list<T>(res, ns, { ...o, signal: o?.signal ?? signal }).catch(lastAnswer);
    },
    create: (res, ns, body, o) => client.create(res, ns, body, writeLimit(o)),
    patch: (res, ns, name, body, type, o) => client.patch(res, ns, name, body, type, writeLimit(o)),
    delete: (res, ns, name, o) => client.delete(res, ns, name, writeLimit(o)),
    watch: (res, ns, o, sig) => client.watch(res, ns, o, sig),
  };
  const budget: RunBudget = {
    client: budgeted,
    remainingMs,
    async guard(what, lookups) {
      try {
        return await lookups(budgeted);
      } catch (err) {
        throw budget.explain(err, what);
      }
    },
    check(what) {
      if (signal.aborted) throw budget.explain(new Error('aborted'), what);
    },
    expired: () => signal.aborted,
    explain(err, what) {
      if (deps.signal.aborted) return new Interrupted(interrupted(what));
      if (!signal.aborted) return err;
      // The cluster kept failing for the whole --timeout: still a cluster error (exit 3),
      // with the last answer; a look-up that simply never came back is a timeout (exit 4).
      const noAnswer = err instanceof ClusterError && ((err.code !== undefined && NO_ANSWER_CODES.has(err.code)) || /aborted/i.test(err.message));
      if (err instanceof ClusterError && !noAnswer) {
        return new ClusterError(`gave up after ${formatDuration(timeoutMs)} (--timeout) while ${what}: the last error was ${err.message}`, err.hint, err.status, err.code);
      }
      const server = client.server ? ` at ${client.server}` : '';
      return new TimeoutError(
        `timed out after ${formatDuration(timeoutMs)} while ${what}`,
        `the API server${server} did not answer in time; check it is healthy (\`kubectl get --raw /readyz\`), or raise --timeout`,
      );
    },
  };
  return budget;
}

/** Stop before the first write when Ctrl-C came during the look-ups: nothing to clean up. */
export function throwIfInterrupted(signal: AbortSignal): void {
  if (signal.aborted) throw new Interrupted('interrupted before anything was created; nothing to clean up');
}

/** The result of a run that created its objects and did not wait (`--no-wait`). */
export function createdResult(
  base: Omit<OperationResult, 'status' | 'phase' | 'finishedAt' | 'durationSeconds' | 'events'>,
  startedMs: number,
  deps: Pick<CommandDeps, 'now'>,
): OperationResult {
  const now = deps.now();
  return {
    ...base,
    status: 'created',
    phase: 'Created',
    finishedAt: new Date(now).toISOString(),
    durationSeconds: Math.round(now - startedMs) / 1000,
    events: [],
  };
}

export interface SuperviseArgs {
  client: KubeClient;
  deps: CommandDeps;
  opts: Pick<CommonOptions, 'keepOnFailure' | 'output' | 'timeoutMs' | 'pollIntervalMs' | 'kubeconfig' | 'context'>;
  /** The result so far (identity fields); status and timing are filled in here. */
  base: Omit<OperationResult, 'status' | 'phase' | 'finishedAt' | 'durationSeconds' | 'events'>;
  startedMs: number;
  /** What this run created (createAndSupervise), deleted on failure; none when it waits on an object it found. */
  created?: CreatedObject[];
  /** Names whose events go into json/yaml output. */
  eventNames: string[];
  /** Waits for the agent's verdict; returns it with the node the work ran on. */
  wait: () => Promise<{ verdict: Verdict; node?: string }>;
  /**
   * A change this run made to an object it did not create (restore --pod marks the pod
   * as a restore target), undone like created objects are deleted: on failure, timeout
   * and interrupt, unless --keep-on-failure.
   */
  undo?: {
    /** What stays with --keep-on-failure, and how to undo it by hand. */
    kept: string;
    run: () => Promise<void>;
  };
}

export interface CreateArgs<T extends KubeObject> extends Pick<SuperviseArgs, 'client' | 'deps' | 'startedMs'> {
  opts: SuperviseArgs['opts'] & { namespace: string; dryRun: DryRunMode; wait: boolean };
  resource: ResourceType;
  kind: CreatedObject['kind'];
  object: T;
  /** How progress lines name it: `job.batch/NAME`. */
  display: string;
  /** This command's own error for a failed create (a 409, say); undefined: the API error, translated. */
  createError?: (err: unknown) => Promise<SnapshotError | undefined>;
  /** Once `created` exists: the result so far, the names whose events count, and the wait. */
  supervise: (created: T) => Pick<SuperviseArgs, 'base' | 'eventNames' | 'wait'>;
}

/**
 * The tail checkpoint, restore and dynamo-checkpoint share: create the object (or send it
 * with --dry-run=server), then with --no-wait say it was created, otherwise record it for
 * cleanup and supervise the wait (superviseWait).
 */
export async function createAndSupervise<T extends KubeObject>(args: CreateArgs<T>): Promise<OperationResult | DryRunResult> {
  const { client, deps, opts } = args;
  const ns = opts.namespace;
  throwIfInterrupted(deps.signal);
  deps.reporter.phase(sendPhase(`creating ${args.display} in namespace "${ns}"`, args.display, ns, opts.dryRun));
  let created: T;
  try {
    created = await client.create<T>(args.resource, ns, args.object, { dryRun: opts.dryRun === 'server' });
  } catch (err) {
    throw (await args.createError?.(err)) ?? toClusterError(err);
  }
  if (opts.dryRun === 'server') return { dryRun: 'server', objects: [created as unknown as Record<string, unknown>] };
  const { base, eventNames, wait } = args.supervise(created);
  if (!opts.wait) return createdResult(base, args.startedMs, deps);
  const uid = created.metadata?.uid;
  const object: CreatedObject = { kind: args.kind, namespace: ns, name: args.object.metadata?.name ?? '', ...(uid ? { uid } : {}) };
  return superviseWait({ client, deps, opts, base, startedMs: args.startedMs, created: [object], eventNames, wait });
}

/** Wait, then turn the verdict or the error into a result; clean up on any failure. */
export async function superviseWait(args: SuperviseArgs): Promise<OperationResult> {
  const { client, deps, opts, base, created = [] } = args;
  const finish = async (
    status: OperationResult['status'],
    phase: OperationResult['phase'],
    extra: Partial<OperationResult>,
  ): Promise<OperationResult> => {
    const events =
      opts.output === 'json' || opts.output === 'yaml' ? await collectEvents(client, base.namespace, args.eventNames) : [];
    const finishedMs = deps.now();
    return {
      ...base,
      ...extra,
      status,
      phase,
      startedAt: new Date(args.startedMs).toISOString(),
      finishedAt: new Date(finishedMs).toISOString(),
      durationSeconds: Math.round(finishedMs - args.startedMs) / 1000,
      events,
    };
  };

  let failure: SnapshotError;
  let phase: OperationResult['phase'];
  let node: string | undefined = base.node;
  const done = (): void => {
    for (const o of created) deps.leftovers?.remove(o);
  };
  for (const o of created) deps.leftovers?.add(o);
  try {
    const outcome = await args.wait();
    node = outcome.node ?? node;
    if (outcome.verdict.state === 'completed') {
      done();
      return await finish('completed', 'Completed', node ? { node } : {});
    }
    let reason = outcome.verdict.state === 'failed' ? outcome.verdict.reason : 'unknown';
    const agentSays = await agentFailureMessage(client, base.namespace, args.eventNames);
    if (agentSays && !reason.includes(agentSays)) reason = `${reason}: ${agentSays}`;
    failure = new OperationFailed(`${base.kind} of ${base.namespace}/${base.name} failed: ${reason}`, failureHint(base, await agentLogOf(deps, opts)));
    phase = 'Failed';
  } catch (err) {
    failure = err instanceof SnapshotError ? err : toClusterError(err, `wait for the ${base.kind} of ${base.namespace}/${base.name}`);
    if (failure instanceof TimeoutError) failure = new TimeoutError(failure.message, timeoutHint(base, await agentLogOf(deps, opts)));
    phase = err instanceof TimeoutError ? 'TimedOut' : err instanceof Interrupted ? 'Interrupted' : 'Failed';
  }
  let deleted: string[] = [];
  if (created.length > 0) {
    if (opts.keepOnFailure) {
      done();
      deps.reporter.info(`--keep-on-failure: left ${created.map(qualifiedName).join(', ')} in namespace "${base.namespace}"`);
    } else {
      deleted = await cleanupCreated(client, created, deps, { pollIntervalMs: opts.pollIntervalMs, serverLost: isServerLost(failure) });
    }
  }
  if (args.undo) {
    if (opts.keepOnFailure) deps.reporter.info(`--keep-on-failure: left ${args.undo.kept}`);
    else await args.undo.run();
  }
  const reason = failure.message;
  failure.result = await finish('failed', phase, { reason, deleted, ...(node ? { node } : {}) });
  throw failure;
}

/** The wait ended because the API server stopped answering: cleanup tries each call once. */
function isServerLost(err: SnapshotError): boolean {
  return err instanceof ClusterError && isTransientCode(err.code);
}

/** Event reasons under which the agent explains a failure (docs/protocol.md §7). */
const AGENT_FAILURE_REASONS = new Set([EVENT_CHECKPOINT_FAILED, EVENT_RESTORE_FAILED]);

/** Looks for the agent's failure event, which can trail its verdict: this often, this far apart. */
const AGENT_EVENT_LOOKS = 4;
const AGENT_EVENT_PAUSE_MS = 250;

/**
 * The agent's own words for a failure, from its newest *Failed event. The agent kills
 * the worker before it annotates, so the event can trail the verdict: look again
 * briefly while the lists answer. A list that failed has had the client's retries
 * (the one retry policy); it is not tried again here, so a failing events API costs
 * `DEFAULT_RETRY.maxAttempts` requests a name, not that many times the looks.
 */
export async function agentFailureMessage(client: KubeClient, namespace: string, names: string[]): Promise<string | undefined> {
  for (let look = 1; look <= AGENT_EVENT_LOOKS; look++) {
    const { events, failed } = await readEvents(client, namespace, names);
    const found = events.filter((e) => AGENT_FAILURE_REASONS.has(e.reason)).at(-1);
    if (found) return found.message;
    if (failed || look === AGENT_EVENT_LOOKS) return undefined;
    await new Promise((r) => setTimeout(r, AGENT_EVENT_PAUSE_MS));
  }
  return undefined;
}

/**
 * The progress line for sending `object`: `line` as it is, or, with --dry-run=server, a
 * line saying plainly that the API server only judges it and nothing is persisted.
 */
export function sendPhase(line: string, object: string, namespace: string, dryRun: DryRunMode): string {
  if (dryRun !== 'server') return line;
  return `server-side dry run: sending ${object} to namespace "${namespace}" with dryRun=All (the API server validates and admits it; nothing is persisted)`;
}

/** The dev cluster's agent log file, when the run talks to one (never fails a hint). */
async function agentLogOf(deps: CommandDeps, opts: SuperviseArgs['opts']): Promise<string | undefined> {
  const target = { ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}) };
  return deps.agentLogFile?.(target).catch(() => undefined);
}

/**
 * How to read the agent's log: `kubectl logs` on a cluster; on the dev cluster, whose
 * agents run inside its server process, the server's log file (`kubectl logs` finds
 * nothing there).
 */
export function agentLogCommand(namespace: string, agentLog: string | undefined): string {
  return agentLog !== undefined
    ? `grep -F '[agent ' ${agentLog} | tail -n 50`
    : `kubectl logs -n ${namespace} -l ${AGENT_SELECTOR_COMPONENT} --tail 100`;
}

function timeoutHint(base: SuperviseArgs['base'], agentLog: string | undefined): string {
  return `the snapshot agent gave no verdict in time: is the pod Ready (its readiness probe means "ready to checkpoint")? Look at \`kubectl describe ${target(base)} -n ${base.namespace}\` and the agent's log (\`${agentLogCommand(base.namespace, agentLog)}\`${agentLog !== undefined ? ', the dev cluster\'s log file' : ''}), or raise --timeout`;
}

function target(base: SuperviseArgs['base']): string {
  return base.checkpointJob ? `job/${base.checkpointJob}` : `pod/${base.restorePod ?? base.name}`;
}

function failureHint(base: SuperviseArgs['base'], agentLog: string | undefined): string {
  return `see the agent's events with \`kubectl describe ${target(base)} -n ${base.namespace}\` (rerun with --keep-on-failure to keep the objects) and the agent's log with \`${agentLogCommand(base.namespace, agentLog)}\`${agentLog !== undefined ? ' (the dev cluster\'s log file)' : ''}`;
}
