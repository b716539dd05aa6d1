/**
 * The Job controller: one pod at a time per Job (up to parallelism, until completions),
 * status counters, `Complete`/`Failed` conditions, backoffLimit and
 * activeDeadlineSeconds. Pods get the real controller's labels and an ownerReference
 * with controller=true and blockOwnerDeletion=true.
 */
import { recordEvent } from '../events.js';
import type { Store } from '../store.js';
import { clone, nowTimestamp, type KubeObject } from '../types.js';
import { isPodReady, isTerminal } from './nodematch.js';
import { keyOf, splitKey, WorkQueue } from './queue.js';

const COMPONENT = 'job-controller';

function hasCondition(job: KubeObject, type: string): boolean {
  return (job.status?.conditions ?? []).some((c: any) => c.type === type && c.status === 'True');
}

/** Start the Job controller; returns a stop function. */
export function startJobController(store: Store): () => void {
  // Terminal pods already counted, per job uid: the real controller uses a tracking
  // finalizer for this; in-process memory gives the same answer without one.
  const counted = new Map<string, { succeeded: Set<string>; failed: Set<string> }>();
  const queue = new WorkQueue((key) => reconcile(key));

  const podsOf = (job: KubeObject): KubeObject[] =>
    store.list('pods', { namespace: job.metadata.namespace ?? '' }).filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.uid === job.metadata.uid && o.controller));

  const createPod = (job: KubeObject): void => {
    const tmpl = clone(job.spec.template ?? {});
    const name = job.metadata.name ?? '';
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...(tmpl.metadata ?? {}),
        generateName: `${name}-`,
        namespace: job.metadata.namespace,
        labels: { ...(tmpl.metadata?.labels ?? {}), 'batch.kubernetes.io/controller-uid': job.metadata.uid ?? '', 'batch.kubernetes.io/job-name': name, 'controller-uid': job.metadata.uid ?? '', 'job-name': name },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: tmpl.spec ?? {},
    };
    delete pod.metadata.name;
    const created = store.create('pods', pod);
    recordEvent(store, job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, COMPONENT);
  };

  const finish = (job: KubeObject, active: KubeObject[], type: 'Complete' | 'Failed', reason: string, message: string): void => {
    for (const p of active) {
      try {
        store.delete('pods', p.metadata.namespace, p.metadata.name ?? '', {});
        recordEvent(store, job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, COMPONENT);
      } catch {
        // Already gone.
      }
    }
    store.mutate('jobs.batch', job.metadata.namespace, job.metadata.name ?? '', (j) => {
      const now = nowTimestamp();
      j.status ??= {};
      const conds = (j.status.conditions ?? []).filter((c: any) => c.type !== type);
      conds.push({ type, status: 'True', lastProbeTime: now, lastTransitionTime: now, reason, message });
      j.status.conditions = conds;
      if (type === 'Complete') j.status.completionTime = now;
      delete j.status.active;
      j.status.ready = 0;
    }, { subresource: 'status' });
    if (type === 'Complete') recordEvent(store, job, 'Normal', 'Completed', 'Job completed', COMPONENT);
    else recordEvent(store, job, 'Warning', reason, message, COMPONENT);
  };

  const reconcile = (key: string): void => {
    const [ns, name] = splitKey(key);
    const job = store.get('jobs.batch', ns, name);
    if (!job || job.metadata.deletionTimestamp) return;
    if (hasCondition(job, 'Complete') || hasCondition(job, 'Failed')) return;
    const uid = job.metadata.uid ?? '';
    let c = counted.get(uid);
    if (!c) {
      c = { succeeded: new Set(), failed: new Set() };
      counted.set(uid, c);
    }
    const pods = podsOf(job);
    for (const p of pods) {
      if (p.status?.phase === 'Succeeded') c.succeeded.add(p.metadata.uid ?? '');
      if (p.status?.phase === 'Failed') c.failed.add(p.metadata.uid ?? '');
    }
    const active = pods.filter((p) => !isTerminal(p) && !p.metadata.deletionTimestamp);
    const succeeded = Math.max(c.succeeded.size, job.status?.succeeded ?? 0);
    const failed = Math.max(c.failed.size, job.status?.failed ?? 0);
    const spec = job.spec ?? {};
    const completions: number = spec.completions ?? 1;
    const parallelism: number = spec.parallelism ?? 1;
    const backoffLimit: number = spec.backoffLimit ?? 6;
    const startTime: string = job.status?.startTime ?? nowTimestamp();

    const writeStatus = (activeCount: number): void => {
      store.mutate('jobs.batch', ns, name, (j) => {
        j.status ??= {};
        j.status.startTime ??= startTime;
        if (activeCount > 0) j.status.active = activeCount;
        else delete j.status.active;
        if (succeeded > 0) j.status.succeeded = succeeded;
        if (failed > 0) j.status.failed = failed;
        j.status.ready = active.filter(isPodReady).length;
        j.status.terminating = pods.filter((p) => p.metadata.deletionTimestamp && !isTerminal(p)).length;
        j.status.uncountedTerminatedPods ??= {};
      }, { subresource: 'status' });
    };

    if (spec.suspend === true) {
      writeStatus(active.length);
      return;
    }
    const deadline: number | undefined = spec.activeDeadlineSeconds;
    if (deadline !== undefined) {
      const left = Date.parse(startTime) + deadline * 1000 - Date.now();
      if (left <= 0) {
        writeStatus(active.length);
        finish(store.get('jobs.batch', ns, name) ?? job, active, 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');
        return;
      }
      queue.addAfter(key, left + 50);
    }
    if (failed > backoffLimit) {
      writeStatus(active.length);
      finish(store.get('jobs.batch', ns, name) ?? job, active, 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      return;
    }
    if (succeeded >= completions) {
      writeStatus(0);
      finish(store.get('jobs.batch', ns, name) ?? job, active, 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
      return;
    }
    const want = Math.min(parallelism, completions - succeeded) - active.length;
    for (let i = 0; i < want; i++) createPod(job);
    writeStatus(active.length + Math.max(0, want));
  };

  const unsubscribe = store.subscribe((ev) => {
    const r = ev.resource;
    if (r.group === 'batch' && r.plural === 'jobs') {
      if (ev.type === 'DELETED') counted.delete(ev.object.metadata.uid ?? '');
      else queue.add(keyOf(ev.object.metadata.namespace, ev.object.metadata.name));
    }
    if (r.group === '' && r.plural === 'pods') {
      const owner = (ev.object.metadata.ownerReferences ?? []).find((o) => o.kind === 'Job' && o.controller);
      if (owner) queue.add(keyOf(ev.object.metadata.namespace, owner.name));
    }
  });
  return () => {
    unsubscribe();
    queue.stop();
  };
}
