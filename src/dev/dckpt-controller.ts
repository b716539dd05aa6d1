/**
 * A small stand-in for the part of Dynamo's operator that drives `DynamoCheckpoint`
 * objects (docs/protocol.md §8), for the dev cluster: for each object it computes the
 * identity hash, moves `status.phase` Pending → Creating, creates the checkpoint Job
 * `checkpoint-job-<hash>-1` (§4's Job with checkpoint ID = the hash, owned by the
 * DynamoCheckpoint), and turns the agent's verdict annotation on that Job into
 * `Ready` (with `createdAt`) or `Failed` (with `message`).
 *
 * It talks to the API only through a `KubeClient`, like the snapshot agent, rather
 * than reaching into the dev server's store like the built-in controllers do: it
 * plays a separate, out-of-process component (the operator), so its writes must go
 * through what a real operator's go through — validation, the status subresource,
 * ownerReferences and garbage collection, watches, the request log and injected API
 * faults — and it would run unchanged against a real cluster. It watches
 * DynamoCheckpoints and reads each unfinished one's Job with `get` on a short beat.
 */
import { isApiStatus } from '../kube/errors.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { EVENT_CHECKPOINT_FAILED } from '../protocol/constants.js';
import {
  buildDynamoCheckpointJob,
  dynamoCheckpointJobName,
  type DynamoCheckpointObject,
  type DynamoCheckpointStatus,
} from '../protocol/dynamo-checkpoint.js';
import { identityHash, parseIdentity } from '../protocol/identity.js';
import type { Job, KubeObject } from '../protocol/types.js';
import { jobVerdict } from '../protocol/verdict.js';
import { runInformer } from '../agent/informer.js';
import { errorText, kubeTime, sleep } from '../agent/util.js';

export interface DckptControllerOptions {
  client: KubeClient;
  /** Namespace to serve; undefined: all namespaces. */
  namespace?: string;
  /**
   * Wrap the worker's command in `cuda-checkpoint --launch-job` (§4's default). The dev
   * cluster turns it off for real processes, where no cuda-checkpoint binary exists.
   */
  wrapCudaCheckpoint?: boolean;
  /** Re-check of every unfinished object (its Job's verdict), ms; default 500. */
  resyncMs?: number;
  now?: () => number;
  log?: (message: string) => void;
}

export interface RunningDckptController {
  stop(): Promise<void>;
}

const key = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const rv = (o: KubeObject): number => Number(o.metadata?.resourceVersion ?? 0) || 0;

/** Start the controller; work begins at once. `stop()` ends every watch, timer and request. */
export function startDckptController(opts: DckptControllerOptions): RunningDckptController {
  const c = new Controller(opts);
  c.start();
  return { stop: () => c.stop() };
}

class Controller {
  private readonly client: KubeClient;
  private readonly abort = new AbortController();
  private readonly checkpoints = new Map<string, DynamoCheckpointObject>();
  private readonly tasks = new Set<Promise<void>>();
  /** Keys waiting for a reconcile, and the one loop that works them off in order. */
  private readonly dirty = new Set<string>();
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly log: (m: string) => void;

  constructor(private readonly opts: DckptControllerOptions) {
    this.client = opts.client;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  start(): void {
    const signal = this.abort.signal;
    this.track(
      runInformer<DynamoCheckpointObject>({
        client: this.client,
        resource: RESOURCES.dynamocheckpoints,
        namespace: this.opts.namespace,
        signal,
        log: (m) => this.log(m),
        onList: (items) => {
          this.checkpoints.clear();
          for (const d of items) this.checkpoints.set(key(d), d);
          for (const d of items) this.enqueue(key(d));
        },
        onEvent: (type, d) => {
          if (type === 'DELETED') this.checkpoints.delete(key(d));
          else {
            // Our own status writes land in the cache first: never go back to an older version.
            const cached = this.checkpoints.get(key(d));
            if (!cached || cached.metadata.uid !== d.metadata.uid || rv(d) >= rv(cached)) this.checkpoints.set(key(d), d);
            this.enqueue(key(d));
          }
        },
      }),
    );
    // Jobs are read with `get` on this beat, not watched: the dev server's request log
    // and its injected faults on Job list/watch then stay the CLI's own (tests count them).
    this.timer = setInterval(() => {
      for (const [k, d] of this.checkpoints) if (d.status?.phase !== 'Ready' && d.status?.phase !== 'Failed') this.enqueue(k);
    }, this.opts.resyncMs ?? 500);
  }

  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  private track(p: Promise<void>): void {
    const task = p.catch((err) => this.log(`unexpected: ${errorText(err)}`)).finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private enqueue(k: string): void {
    if (this.abort.signal.aborted) return;
    this.dirty.add(k);
    if (this.draining) return;
    this.draining = (async () => {
      try {
        while (this.dirty.size > 0 && !this.abort.signal.aborted) {
          const next = this.dirty.values().next().value as string;
          this.dirty.delete(next);
          const d = this.checkpoints.get(next);
          if (!d) continue;
          try {
            await this.reconcile(d);
          } catch (err) {
            if (!this.abort.signal.aborted) this.log(`dynamocheckpoint ${next}: ${errorText(err)}; retrying on the next resync`);
          }
        }
      } finally {
        this.draining = undefined;
      }
    })();
    this.track(this.draining);
  }

  /** One step towards the object's next phase. Terminal phases (Ready, Failed) stay. */
  private async reconcile(d: DynamoCheckpointObject): Promise<void> {
    if (d.metadata.deletionTimestamp) return;
    const phase = d.status?.phase;
    if (phase === 'Ready' || phase === 'Failed') return;
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name ?? '';

    const parsed = parseIdentity(d.spec?.identity, 'spec.identity');
    if (!parsed.identity) {
      await this.setStatus(d, { phase: 'Failed', message: `invalid identity: ${parsed.findings.map((f) => `${f.path}: ${f.message}`).join('; ')}` });
      return;
    }
    const hash = identityHash(parsed.identity);
    const containers = d.spec?.job?.podTemplateSpec?.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0) {
      await this.setStatus(d, { phase: 'Failed', identityHash: hash, message: 'spec.job.podTemplateSpec.spec.containers is empty: the first container is the worker to checkpoint' });
      return;
    }
    const jobName = dynamoCheckpointJobName(hash);

    if (phase !== 'Creating') {
      if (phase !== 'Pending' || d.status?.identityHash !== hash) {
        d = (await this.setStatus(d, { phase: 'Pending', identityHash: hash, message: 'creating the checkpoint Job' })) ?? d;
      }
      const job = buildDynamoCheckpointJob(d, { hash, wrapCudaCheckpoint: this.opts.wrapCudaCheckpoint !== false });
      try {
        await this.client.create<Job>(RESOURCES.jobs, ns, job, { signal: this.abort.signal });
        this.log(`dynamocheckpoint ${ns}/${name}: created job.batch/${jobName} (checkpoint ID ${hash})`);
      } catch (err) {
        // A Job of that name already exists (a restart, or another object of the same
        // identity in this namespace): follow its verdict rather than make a second one.
        if (!isApiStatus(err, 409)) throw err;
      }
      await this.setStatus(d, { phase: 'Creating', identityHash: hash, jobName, message: `waiting for the snapshot agent to checkpoint job.batch/${jobName}` });
      return;
    }

    let job: Job;
    try {
      job = await this.client.get<Job>(RESOURCES.jobs, ns, jobName, { signal: this.abort.signal });
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      await this.setStatus(d, { phase: 'Failed', message: `the checkpoint Job ${jobName} was deleted before the snapshot agent gave a verdict` });
      return;
    }
    const verdict = jobVerdict(job);
    if (verdict.state === 'completed') {
      await this.setStatus(d, { phase: 'Ready', identityHash: hash, jobName, createdAt: kubeTime(this.now()), message: '' });
      this.log(`dynamocheckpoint ${ns}/${name}: Ready (checkpoint ID ${hash})`);
    } else if (verdict.state === 'failed') {
      const agentSays = await this.agentFailure(ns, jobName);
      const message = `checkpoint Job ${jobName} failed: ${agentSays ?? verdict.reason}`;
      await this.setStatus(d, { phase: 'Failed', identityHash: hash, jobName, message });
      this.log(`dynamocheckpoint ${ns}/${name}: Failed: ${message}`);
    }
  }

  /** The agent's own words, from its newest CheckpointFailed event on the Job (it may trail the verdict). */
  private async agentFailure(ns: string, jobName: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 4 && !this.abort.signal.aborted; attempt++) {
      try {
        const events = await this.client.list(RESOURCES.events, ns, { fieldSelector: `involvedObject.name=${jobName}`, signal: this.abort.signal });
        const failed = events.items
          .filter((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)
          .sort((a, b) => Number(a.metadata?.resourceVersion ?? 0) - Number(b.metadata?.resourceVersion ?? 0))
          .at(-1);
        if (failed && typeof failed['message'] === 'string') return failed['message'];
      } catch {
        return undefined;
      }
      await sleep(250, this.abort.signal);
    }
    return undefined;
  }

  /** Merge `status` through the status subresource; a deleted object is not an error. */
  private async setStatus(d: DynamoCheckpointObject, status: DynamoCheckpointStatus): Promise<DynamoCheckpointObject | undefined> {
    try {
      const updated = await this.client.patch<DynamoCheckpointObject>(
        RESOURCES.dynamocheckpoints,
        d.metadata.namespace,
        d.metadata.name ?? '',
        { status },
        'merge',
        { subresource: 'status', signal: this.abort.signal },
      );
      this.checkpoints.set(key(updated), updated);
      return updated;
    } catch (err) {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    }
  }
}
