/**
 * How the agent stops: `synced` once both informers listed, then `stop({ graceMs,
 * reason })` as the `snapshotctl agent` program calls it on SIGTERM: no new work,
 * operations in flight finish within the grace period, the rest are aborted with a
 * `failed` verdict naming the reason, leases released, restore targets left alone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_STATUS,
  EVENT_CHECKPOINT_FAILED,
  EVENT_RESTORE_FAILED,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_JOB_NAME,
} from '../protocol/constants.js';
import type { Job, KubeObject, Pod } from '../protocol/types.js';
import { RESOURCES } from '../kube/types.js';
import { tempDir } from '../testing/temp-dir.js';
import { startAgent, type RunningAgent, type StartAgentOptions } from './agent.js';
import type { CheckpointContext, SnapshotEngine } from './engine.js';
import { createSimEngine } from './sim-engine.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

const NS = 'ml';
const NODE = 'node-a';
const REASON = 'the snapshot agent on node node-a was stopped (SIGTERM) before this finished';

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function podStatus(ready: boolean): Pod['status'] {
  return { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'worker', containerID: 'containerd://c1', ready }] };
}

/** A sim engine whose checkpoint takes `ms` (or until the agent aborts it). */
function slowEngine(ms: number): SnapshotEngine {
  const sim = createSimEngine();
  return {
    ...sim,
    checkpoint: async (ctx: CheckpointContext) => {
      await new Promise<void>((resolve, reject) => {
        if (ctx.signal.aborted) return reject(new Error('checkpoint aborted'));
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('checkpoint aborted'))), { once: true });
      });
      return sim.checkpoint(ctx);
    },
  };
}

let kube: FakeKubeClient;
let root: string;
let signals: string[];
let agent: RunningAgent | undefined;

beforeEach(() => {
  kube = new FakeKubeClient();
  root = tempDir('agent-stop-');
  signals = [];
  agent = undefined;
});

afterEach(async () => {
  await agent?.stop();
});

function start(extra: Partial<StartAgentOptions> = {}): RunningAgent {
  agent = startAgent({
    client: kube,
    nodeName: NODE,
    storageRoot: root,
    engine: createSimEngine(),
    identity: 'agent-a',
    signalContainer: (ns, pod, sig) => void signals.push(`${sig} ${ns}/${pod}`),
    timing: { leaseRenewMs: 50, resyncMs: 20, watchBackoffMs: 20, restoreReadyTimeoutMs: 60_000 },
    ...extra,
  });
  return agent;
}

async function createCheckpoint(id: string): Promise<string> {
  const jobName = `w-${id}-checkpoint`;
  const job = await kube.create<Job>(RESOURCES.jobs, NS, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { [LABEL_CHECKPOINT_ID]: id } },
    spec: { backoffLimit: 0, template: { spec: { containers: [] } } },
  });
  await kube.create<Pod>(RESOURCES.pods, NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${jobName}-x`,
      labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: id, [LABEL_JOB_NAME]: jobName },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '', controller: true }],
    },
    spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
    status: podStatus(true),
  });
  return jobName;
}

const jobStatus = (job: string) => kube.peek<Job>(RESOURCES.jobs, NS, job)?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS];
const restoreStatus = (pod: string) => kube.peek<Pod>(RESOURCES.pods, NS, pod)?.metadata.annotations?.[ANNOTATION_RESTORE_STATUS];
const leaseOf = (job: string) => kube.peek(RESOURCES.leases, NS, job);
const eventsOf = (name: string) =>
  kube.all<KubeObject & Record<string, any>>(RESOURCES.events).filter((e) => e['involvedObject'].name === name);

describe('synced', () => {
  it('turns true once both informers have listed', async () => {
    const a = start();
    expect(a.synced).toBe(false);
    await waitFor('synced', () => a.synced);
  });

  it('stays false while the pod list fails', async () => {
    kube.failNext('list', 'pods', 500, 1000);
    const a = start();
    // Both informers (checkpoint and restore pods) have listed, failed and tried again:
    // `synced` is read after failures the agent saw, not after a pause it may have slept through.
    await waitFor('two failed pod lists of each informer', () => kube.calls.filter((c) => c.verb === 'list' && c.resource === 'pods').length >= 4);
    expect(a.synced).toBe(false);
  });
});

describe('stop({ graceMs, reason })', () => {
  it('lets an operation in flight finish within the grace period, starts nothing new, releases the lease', async () => {
    const first = await createCheckpoint('one');
    const a = start({ engine: slowEngine(300) });
    await waitFor('lease taken', () => leaseOf(first) !== undefined);
    const stopped = a.stop({ graceMs: 5000, reason: REASON });
    const second = await createCheckpoint('two');
    await stopped;
    expect(jobStatus(first)).toBe('completed');
    expect(leaseOf(first)).toBeUndefined();
    // Seen while draining, never started: no lease, no verdict, no event.
    expect(jobStatus(second)).toBeUndefined();
    expect(kube.calls.some((c) => c.resource === 'leases' && c.name === second)).toBe(false);
    expect(eventsOf(second)).toEqual([]);
  });

  it('fails a checkpoint that outlasts the grace period with the reason, and releases its lease', async () => {
    const job = await createCheckpoint('long');
    const a = start({ engine: slowEngine(60_000) });
    await waitFor('lease taken', () => leaseOf(job) !== undefined);
    const t0 = Date.now();
    await a.stop({ graceMs: 200, reason: REASON });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(jobStatus(job)).toBe('failed');
    const failed = eventsOf(job).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED);
    expect(failed?.['message']).toBe(`checkpoint long failed: ${REASON}`);
    expect(leaseOf(job)).toBeUndefined();
    // Protocol §4: a failed checkpoint's worker is killed (its Job then fails).
    expect(signals).toEqual([`SIGKILL ${NS}/${job}-x`]);
  });

  it('fails a restore still waiting for Ready with the reason, and leaves the placeholder running', async () => {
    const job = await createCheckpoint('r1');
    start();
    await waitFor('checkpoint', () => jobStatus(job) === 'completed');
    signals.length = 0;
    await kube.create<Pod>(RESOURCES.pods, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'placeholder', labels: { [LABEL_IS_RESTORE_TARGET]: 'true', [LABEL_CHECKPOINT_ID]: 'r1' } },
      spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
      status: podStatus(false),
    });
    await waitFor('in_progress', () => restoreStatus('placeholder') === 'in_progress');
    await agent!.stop({ graceMs: 100, reason: REASON });
    expect(restoreStatus('placeholder')).toBe('failed');
    const failed = eventsOf('placeholder').find((e) => e['reason'] === EVENT_RESTORE_FAILED);
    expect(failed?.['message']).toBe(`restore of checkpoint r1 failed: ${REASON}`);
    expect(signals).toEqual([]);
  });

  it('without a reason leaves an aborted checkpoint without a verdict (the dev cluster closing)', async () => {
    const job = await createCheckpoint('quiet');
    const a = start({ engine: slowEngine(60_000) });
    await waitFor('lease taken', () => leaseOf(job) !== undefined);
    await a.stop();
    expect(jobStatus(job)).toBeUndefined();
    expect(leaseOf(job)).toBeUndefined();
    expect(signals).toEqual([]);
  });
});
