import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  AGENT_EVENT_COMPONENT,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
  ANNOTATION_RESTORE_STATUS,
  ARTIFACT_MANIFEST_FILE,
  EVENT_CHECKPOINT_FAILED,
  EVENT_CHECKPOINT_REQUESTED,
  EVENT_CHECKPOINT_SUCCEEDED,
  EVENT_RESTORE_FAILED,
  EVENT_RESTORE_REQUESTED,
  EVENT_RESTORE_SUCCEEDED,
  LABEL_CHECKPOINT_ID,
  LABEL_IS_CHECKPOINT_SOURCE,
  LABEL_IS_RESTORE_TARGET,
  LABEL_JOB_NAME,
} from '../protocol/constants.js';
import type { Job, KubeObject, Pod } from '../protocol/types.js';
import { RESOURCES } from '../kube/types.js';
import { startAgent, type AgentDecision, type RunningAgent, type StartAgentOptions } from './agent.js';
import { artifactDir } from './artifact.js';
import type { SnapshotEngine } from './engine.js';
import { createSimEngine, SIM_STATE_FILE } from './sim-engine.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

const NS = 'ml';
const NODE = 'node-a';

/** Poll until `fn` returns a truthy value (the agent works asynchronously). */
async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readyStatus(ready: boolean): Pod['status'] {
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ name: 'worker', containerID: 'containerd://abc123', ready }],
  };
}

let kube: FakeKubeClient;
let root: string;
let signals: Array<{ ns: string; pod: string; sig: string }>;
let logs: string[];
let agent: RunningAgent | undefined;
/** Every decision the agent reported (StartAgentOptions.onDecision), oldest first. */
let decisions: AgentDecision[];

beforeEach(async () => {
  kube = new FakeKubeClient();
  root = await mkdtemp(join(tmpdir(), 'agent-test-'));
  signals = [];
  logs = [];
  decisions = [];
  agent = undefined;
});

/**
 * Wait until the agent has looked at `pod` at least `looks` times since now and found
 * nothing to do (an `idle` decision: nothing running for it, nothing due). Then a
 * "nothing happened" assertion is about a pod the agent saw, not one it has not got to
 * yet (what a fixed pause gives under load).
 */
async function idleOn(pod: string, looks = 2): Promise<void> {
  const from = decisions.length;
  await waitFor(() => decisions.slice(from).filter((d) => d.pod === pod && d.decision === 'idle').length >= looks, `the agent to look at ${pod} and find nothing to do`);
}

/** The decisions about `pod` other than `idle` (what the agent started for it). */
const actedOn = (pod: string): string[] => decisions.filter((d) => d.pod === pod && d.decision !== 'idle').map((d) => d.decision);


afterEach(async () => {
  await agent?.stop();
  await rm(root, { recursive: true, force: true });
});

function start(extra: Partial<StartAgentOptions> = {}): RunningAgent {
  agent = startAgent({
    client: kube,
    nodeName: NODE,
    storageRoot: root,
    engine: createSimEngine(),
    identity: 'agent-a',
    log: (level, m) => logs.push(`${level} ${m}`),
    signalContainer: (ns, pod, sig) => {
      signals.push({ ns, pod, sig });
    },
    lookupPid: () => 4242,
    timing: { leaseRenewMs: 50, resyncMs: 20, watchBackoffMs: 20, restoreReadyTimeoutMs: 2000 },
    onDecision: (d) => decisions.push(d),
    ...extra,
  });
  return agent;
}

async function createCheckpoint(id: string, opts: { ready?: boolean; node?: string; jobAnnotations?: Record<string, string> } = {}) {
  const jobName = `worker-${id.replace(/[^a-z0-9-]/g, '')}-checkpoint`;
  const job = await kube.create<Job>(RESOURCES.jobs, NS, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { [LABEL_CHECKPOINT_ID]: id }, annotations: opts.jobAnnotations ?? {} },
    spec: { backoffLimit: 0, template: { spec: { containers: [] } } },
  });
  const podName = `${jobName}-x1`;
  const pod = await kube.create<Pod>(RESOURCES.pods, NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName,
      labels: { [LABEL_IS_CHECKPOINT_SOURCE]: 'true', [LABEL_CHECKPOINT_ID]: id, [LABEL_JOB_NAME]: jobName },
      // As the Job controller sets it; the agent refuses a pod its Job does not own.
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: job.metadata.uid ?? '', controller: true }],
    },
    spec: { nodeName: opts.node ?? NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
    status: readyStatus(opts.ready ?? true),
  });
  return { job, jobName, pod, podName };
}

async function createRestorePod(name: string, id: string, ready = false): Promise<Pod> {
  return kube.create<Pod>(RESOURCES.pods, NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { [LABEL_IS_RESTORE_TARGET]: 'true', [LABEL_CHECKPOINT_ID]: id } },
    spec: { nodeName: NODE, containers: [{ name: 'worker', image: 'placeholder:1' }] },
    status: readyStatus(ready),
  });
}

function jobStatus(jobName: string): string | undefined {
  return kube.peek<Job>(RESOURCES.jobs, NS, jobName)?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS];
}

function podAnnotations(name: string): Record<string, string> {
  return kube.peek<Pod>(RESOURCES.pods, NS, name)?.metadata.annotations ?? {};
}

function events(name?: string): Array<KubeObject & Record<string, any>> {
  return kube.all<KubeObject & Record<string, any>>(RESOURCES.events).filter((e) => name === undefined || e['involvedObject'].name === name);
}

function reasons(name: string): string[] {
  return events(name).map((e) => e['reason'] as string);
}

function setReady(name: string, ready: boolean): void {
  kube.update<Pod>(RESOURCES.pods, NS, name, (p) => {
    p.status = readyStatus(ready);
  });
}

describe('checkpoint', () => {
  it('happy path: lease, events, artifact with manifest.yaml, SIGUSR1, completed', async () => {
    const { jobName, podName, job } = await createCheckpoint('ckpt-1');
    start();
    await waitFor(() => jobStatus(jobName) === 'completed', 'completed verdict');
    await waitFor(() => reasons(jobName).length === 2, 'two events');

    expect(reasons(jobName)).toEqual([EVENT_CHECKPOINT_REQUESTED, EVENT_CHECKPOINT_SUCCEEDED]);
    const [requested, succeeded] = events(jobName);
    expect(requested!['involvedObject']).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job', name: jobName, namespace: NS, uid: job.metadata.uid });
    expect(requested!['source']).toEqual({ component: AGENT_EVENT_COMPONENT, host: NODE });
    expect(requested).toMatchObject({ type: 'Normal', count: 1 });
    expect(typeof requested!['firstTimestamp']).toBe('string');
    expect(succeeded!['message']).toContain('simulated');
    expect(succeeded!['message']).toContain('no process state saved');

    // SIGUSR1 to the worker, before the verdict (the patch comes after).
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGUSR1' }]);

    // The lease was taken by this agent, owned by the Job, and released afterwards.
    const leaseCreate = kube.calls.find((c) => c.verb === 'create' && c.resource === 'leases');
    expect(leaseCreate?.body).toMatchObject({
      metadata: { name: jobName, ownerReferences: [{ kind: 'Job', name: jobName, uid: job.metadata.uid }] },
      spec: { holderIdentity: 'agent-a', leaseDurationSeconds: 30 },
    });
    await waitFor(() => kube.peek(RESOURCES.leases, NS, jobName) === undefined, 'lease released');

    const dir = artifactDir(root, 'ckpt-1');
    expect(dir).toBe(join(root, 'ckpt-1', 'versions', '1'));
    const manifest = parse(await readFile(join(dir, ARTIFACT_MANIFEST_FILE), 'utf8')) as Record<string, any>;
    expect(manifest).toMatchObject({
      checkpointId: 'ckpt-1',
      artifactVersion: '1',
      nodeName: NODE,
      namespace: NS,
      pod: podName,
      container: 'worker',
      containerId: 'abc123',
      image: 'placeholder:1',
      simulated: true,
      engine: { name: 'sim', simulated: true },
    });
    expect(Date.parse(manifest['createdAt'])).not.toBeNaN();
    const state = JSON.parse(await readFile(join(dir, SIM_STATE_FILE), 'utf8'));
    expect(state).toMatchObject({ simulated: true, checkpointId: 'ckpt-1', pid: 4242 });
    // No staging directory is left behind.
    expect(await readdir(join(root, 'ckpt-1', 'versions'))).toEqual(['1']);
  });

  it('renews the lease while the engine works', async () => {
    const { jobName } = await createCheckpoint('slow-engine');
    const sim = createSimEngine();
    const engine: SnapshotEngine = { ...sim, checkpoint: async (ctx) => (await pause(200), sim.checkpoint(ctx)) };
    start({ engine });
    await waitFor(() => jobStatus(jobName) === 'completed', 'verdict');
    const renewals = kube.calls.filter((c) => c.verb === 'patch' && c.resource === 'leases');
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    expect(renewals[0]!.body).toMatchObject({ spec: { renewTime: expect.stringMatching(/\.\d{6}Z$/) } });
  });

  it('waits for the pod to be Ready', async () => {
    const { jobName, podName } = await createCheckpoint('not-yet', { ready: false });
    start();
    await idleOn(podName);
    expect(actedOn(podName)).toEqual([]);
    expect(jobStatus(jobName)).toBeUndefined();
    expect(events()).toEqual([]);
    setReady(podName, true);
    await waitFor(() => jobStatus(jobName) === 'completed', 'verdict after Ready');
  });

  it('skips a Job that already has a verdict, and pods on other nodes', async () => {
    const done = await createCheckpoint('done', { jobAnnotations: { [ANNOTATION_CHECKPOINT_STATUS]: 'failed' } });
    const other = await createCheckpoint('elsewhere', { node: 'node-b' });
    start();
    // Both pods were in the agent's first list; once it is idle on `done` (its one
    // look at the Job settled), every resync since covered `elsewhere` too.
    await idleOn(done.podName);
    expect(actedOn(other.podName)).toEqual([]);
    expect(jobStatus(done.jobName)).toBe('failed');
    expect(jobStatus(other.jobName)).toBeUndefined();
    expect(events()).toEqual([]);
    expect(signals).toEqual([]);
    expect(kube.calls.some((c) => c.resource === 'leases')).toBe(false);
  });

  it('leaves a Job alone while another agent holds a live lease; once it expires, takes over and fails the Job as interrupted', async () => {
    const { jobName } = await createCheckpoint('contended');
    await kube.create(RESOURCES.leases, NS, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: jobName },
      spec: { holderIdentity: 'agent-b', leaseDurationSeconds: 1, renewTime: new Date().toISOString() },
    });
    start();
    // The agent saw the Lease and said it waits (the lease lasts 1 s: asserted at once).
    await waitFor(() => logs.some((l) => l.includes(`lease ${NS}/${jobName} is held by agent-b; waiting`)), 'the agent to see the held lease');
    expect(jobStatus(jobName)).toBeUndefined();
    expect(events()).toEqual([]);
    // agent-b stopped renewing in the middle of the Job: the source is not dumped again.
    await waitFor(() => jobStatus(jobName) === 'failed', 'takeover after expiry', 4000);
    await waitFor(() => reasons(jobName).includes(EVENT_CHECKPOINT_FAILED), 'failure event');
    expect(events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!['message']).toMatch(/interrupted: agent agent-b stopped/);
    const takeover = kube.calls.find((c) => c.verb === 'patch' && c.resource === 'leases');
    expect(takeover?.body).toMatchObject({ spec: { holderIdentity: 'agent-a', leaseTransitions: 1 } });
  });

  it('failure: SIGKILL, failed verdict, CheckpointFailed with the error text, no artifact', async () => {
    const { jobName, podName } = await createCheckpoint('boom');
    const engine: SnapshotEngine = {
      ...createSimEngine(),
      checkpoint: async () => {
        throw new Error('criu dump: ptrace denied');
      },
    };
    start({ engine });
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => reasons(jobName).includes(EVENT_CHECKPOINT_FAILED), 'failure event');
    const failed = events(jobName).find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)!;
    expect(failed['type']).toBe('Warning');
    expect(failed['message']).toContain('criu dump: ptrace denied');
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGKILL' }]);
    expect(await readdir(join(root, 'boom', 'versions'))).toEqual([]);
    await waitFor(() => kube.peek(RESOURCES.leases, NS, jobName) === undefined, 'lease released');
  });

  it('refuses an ID that is not a safe path segment', async () => {
    const { jobName, podName } = await createCheckpoint('a..b');
    start();
    await waitFor(() => jobStatus(jobName) === 'failed', 'failed verdict');
    await waitFor(() => reasons(jobName).includes(EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(jobName)[0]!['message']).toContain('..');
    expect(signals).toEqual([{ ns: NS, pod: podName, sig: 'SIGKILL' }]);
    await expect(stat(join(root, 'a..b'))).rejects.toThrow();
  });
});

describe('restore', () => {
  async function checkpointFirst(id: string): Promise<void> {
    const { jobName } = await createCheckpoint(id);
    await waitFor(() => jobStatus(jobName) === 'completed', `checkpoint ${id}`);
    signals.length = 0;
  }

  it('waits for the artifact, marks in_progress with the container ID, completes once Ready', async () => {
    await createRestorePod('restore-1', 'r1');
    start();
    await waitFor(() => logs.some((l) => l.includes('restore r1 into ml/restore-1: waiting for')), 'the agent to wait for the artifact');
    expect(podAnnotations('restore-1')).toEqual({});

    await checkpointFirst('r1');
    await waitFor(() => podAnnotations('restore-1')[ANNOTATION_RESTORE_STATUS] === 'in_progress', 'in_progress');
    expect(podAnnotations('restore-1')[ANNOTATION_RESTORE_CONTAINER_ID]).toBe('abc123');
    // Two resyncs found the restore still running (waiting for Ready), and it stayed in_progress.
    const from = decisions.length;
    await waitFor(() => decisions.slice(from).filter((d) => d.pod === 'restore-1' && d.decision === 'busy').length >= 2, 'resyncs during the restore');
    expect(decisions.slice(from).filter((d) => d.pod === 'restore-1').map((d) => d.decision)).not.toContain('settled');
    expect(podAnnotations('restore-1')[ANNOTATION_RESTORE_STATUS]).toBe('in_progress');

    setReady('restore-1', true);
    await waitFor(() => podAnnotations('restore-1')[ANNOTATION_RESTORE_STATUS] === 'completed', 'completed');
    await waitFor(() => reasons('restore-1').length === 2, 'events');
    expect(reasons('restore-1')).toEqual([EVENT_RESTORE_REQUESTED, EVENT_RESTORE_SUCCEEDED]);
    expect(events('restore-1')[0]!['involvedObject']).toMatchObject({ kind: 'Pod', apiVersion: 'v1', name: 'restore-1' });
    expect(signals).toEqual([]);
  });

  it('refuses unsafe IDs without waiting for an artifact', async () => {
    await createRestorePod('restore-bad', 'x..y');
    start();
    await waitFor(() => podAnnotations('restore-bad')[ANNOTATION_RESTORE_STATUS] === 'failed', 'failed');
    await waitFor(() => reasons('restore-bad').includes(EVENT_RESTORE_FAILED), 'event');
    expect(events('restore-bad')[0]!['message']).toContain('refused');
  });

  it('engine failure: failed, placeholder killed, RestoreFailed', async () => {
    start({
      engine: {
        ...createSimEngine(),
        restore: async () => {
          throw new Error('nsrestore: not found');
        },
      },
    });
    await checkpointFirst('r-fail');
    await createRestorePod('restore-f', 'r-fail');
    await waitFor(() => podAnnotations('restore-f')[ANNOTATION_RESTORE_STATUS] === 'failed', 'failed');
    await waitFor(() => reasons('restore-f').includes(EVENT_RESTORE_FAILED), 'event');
    expect(reasons('restore-f')).toEqual([EVENT_RESTORE_REQUESTED, EVENT_RESTORE_FAILED]);
    expect(events('restore-f')[1]!['message']).toContain('nsrestore: not found');
    expect(signals).toEqual([{ ns: NS, pod: 'restore-f', sig: 'SIGKILL' }]);
  });

  it('fails when the pod never becomes Ready', async () => {
    start({ timing: { resyncMs: 20, leaseRenewMs: 50, restoreReadyTimeoutMs: 200 } });
    await checkpointFirst('r-slow');
    await createRestorePod('restore-s', 'r-slow');
    await waitFor(() => podAnnotations('restore-s')[ANNOTATION_RESTORE_STATUS] === 'failed', 'failed');
    await waitFor(() => reasons('restore-s').includes(EVENT_RESTORE_FAILED), 'event');
    expect(events('restore-s').at(-1)!['message']).toContain('did not become Ready');
  });

  it('handles a pod again after it is re-patched for a new restore, and only then', async () => {
    start();
    await checkpointFirst('r-a');
    await checkpointFirst('r-b');
    await createRestorePod('placeholder', 'r-a', true);
    await waitFor(() => podAnnotations('placeholder')[ANNOTATION_RESTORE_STATUS] === 'completed', 'first restore');
    await idleOn('placeholder');
    expect(reasons('placeholder').filter((r) => r === EVENT_RESTORE_REQUESTED)).toHaveLength(1);

    // What `restore --pod` sends: stale keys removed, the new ID set.
    const current = kube.peek<Pod>(RESOURCES.pods, NS, 'placeholder')!;
    await kube.patch(
      RESOURCES.pods,
      NS,
      'placeholder',
      {
        metadata: {
          resourceVersion: current.metadata.resourceVersion,
          labels: { [LABEL_CHECKPOINT_ID]: 'r-b' },
          annotations: { [ANNOTATION_RESTORE_STATUS]: null, [ANNOTATION_RESTORE_CONTAINER_ID]: null },
        },
      },
      'merge',
    );
    await waitFor(() => reasons('placeholder').filter((r) => r === EVENT_RESTORE_SUCCEEDED).length === 2, 'second restore');
    expect(podAnnotations('placeholder')[ANNOTATION_RESTORE_STATUS]).toBe('completed');
    const requested = events('placeholder').filter((e) => e['reason'] === EVENT_RESTORE_REQUESTED);
    expect(requested.map((e) => e['message'] as string).map((m) => m.match(/checkpoint (\S+)/)?.[1])).toEqual(['r-a', 'r-b']);

    // Same ID again, annotations stripped: handled a third time.
    const again = kube.peek<Pod>(RESOURCES.pods, NS, 'placeholder')!;
    await kube.patch(
      RESOURCES.pods,
      NS,
      'placeholder',
      { metadata: { resourceVersion: again.metadata.resourceVersion, annotations: { [ANNOTATION_RESTORE_STATUS]: null } } },
      'merge',
    );
    await waitFor(() => reasons('placeholder').filter((r) => r === EVENT_RESTORE_SUCCEEDED).length === 3, 'third restore');
    await idleOn('placeholder');
    expect(reasons('placeholder').filter((r) => r === EVENT_RESTORE_REQUESTED)).toHaveLength(3);
  });
});

describe('fault switches', () => {
  it('failNext fails the next N operations, then the agent works again', async () => {
    const a = start();
    a.faults.failNext = 1;
    const first = await createCheckpoint('f1');
    await waitFor(() => jobStatus(first.jobName) === 'failed', 'injected failure');
    await waitFor(() => reasons(first.jobName).includes(EVENT_CHECKPOINT_FAILED), 'event');
    expect(events(first.jobName).at(-1)!['message']).toContain('fault switch');
    expect(a.faults.failNext).toBe(0);
    const second = await createCheckpoint('f2');
    await waitFor(() => jobStatus(second.jobName) === 'completed', 'normal verdict');
  });

  it('failAll fails restores too', async () => {
    const a = start();
    await (async () => {
      const { jobName } = await createCheckpoint('fa');
      await waitFor(() => jobStatus(jobName) === 'completed', 'checkpoint');
    })();
    a.faults.failAll = true;
    await createRestorePod('restore-fa', 'fa', true);
    await waitFor(() => podAnnotations('restore-fa')[ANNOTATION_RESTORE_STATUS] === 'failed', 'failed');
  });

  it('silent never answers until switched off', async () => {
    const a = start();
    a.faults.silent = true;
    const { jobName, podName } = await createCheckpoint('quiet');
    await idleOn(podName);
    expect(actedOn(podName)).toEqual([]);
    expect(jobStatus(jobName)).toBeUndefined();
    expect(events()).toEqual([]);
    expect(kube.calls.some((c) => c.resource === 'leases' || c.resource === 'jobs' && c.verb === 'patch')).toBe(false);
    a.faults.silent = false;
    await waitFor(() => jobStatus(jobName) === 'completed', 'verdict after un-silencing');
  });

  it('delayMs holds the verdict back', async () => {
    const a = start();
    a.faults.delayMs = 300;
    const t0 = Date.now();
    const { jobName } = await createCheckpoint('slow');
    await waitFor(() => reasons(jobName).includes(EVENT_CHECKPOINT_REQUESTED), 'requested');
    expect(jobStatus(jobName)).toBeUndefined();
    await waitFor(() => jobStatus(jobName) === 'completed', 'verdict');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });
});

describe('watching', () => {
  it('resumes after a dropped stream and re-lists after 410 Gone', async () => {
    start();
    await waitFor(() => kube.calls.filter((c) => c.verb === 'watch').length >= 2, 'watches open');
    kube.dropWatches();
    const a = await createCheckpoint('after-drop');
    await waitFor(() => jobStatus(a.jobName) === 'completed', 'verdict after resume');
    const listsBefore = kube.calls.filter((c) => c.verb === 'list').length;

    kube.compact();
    kube.dropWatches();
    const b = await createCheckpoint('after-gone');
    await waitFor(() => jobStatus(b.jobName) === 'completed', 'verdict after re-list');
    expect(kube.calls.filter((c) => c.verb === 'list').length).toBeGreaterThan(listsBefore);
  });

  it('watches only its node, with both label selectors', async () => {
    start();
    await waitFor(() => kube.calls.filter((c) => c.verb === 'watch').length >= 2, 'watches open');
    const selectors = kube.calls.filter((c) => c.verb === 'list').map((c) => c);
    expect(selectors).toHaveLength(2);
    const watches = kube.calls.filter((c) => c.verb === 'watch').map((c) => c.options as Record<string, string>);
    expect(watches.map((w) => w['labelSelector']).sort()).toEqual([`${LABEL_IS_CHECKPOINT_SOURCE}=true`, `${LABEL_IS_RESTORE_TARGET}=true`]);
    for (const w of watches) expect(w['fieldSelector']).toBe(`spec.nodeName=${NODE}`);
  });

  it('retries after API errors on list', async () => {
    kube.failNext('list', 'pods', 500, 2);
    const { jobName } = await createCheckpoint('after-500');
    start();
    await waitFor(() => jobStatus(jobName) === 'completed', 'verdict');
  });

  it('stop() ends watches and timers, even with a restore waiting for Ready', async () => {
    const a = start();
    const { jobName } = await createCheckpoint('stopping');
    await waitFor(() => jobStatus(jobName) === 'completed', 'checkpoint');
    await createRestorePod('waiting', 'stopping');
    await waitFor(() => podAnnotations('waiting')[ANNOTATION_RESTORE_STATUS] === 'in_progress', 'in progress');
    await a.stop();
    const count = kube.calls.length;
    await createCheckpoint('after-stop');
    // No positive signal can come from a stopped agent. The pause is sufficient by timer
    // order, not by wall time: a timer the stop leaked (resync every 20 ms, lease renewal
    // every 50 ms) expires before this 150 ms one and Node fires timers in expiry order,
    // so however late they run under load, a leaked one has fired (and FakeKube recorded
    // its call) before this line returns.
    await pause(150);
    expect(kube.calls.length).toBe(count + 2); // only the two creates above
    // No verdict written on shutdown.
    expect(podAnnotations('waiting')[ANNOTATION_RESTORE_STATUS]).toBe('in_progress');
  });
});

describe('sim engine', () => {
  it('probes ok and refuses an artifact of another checkpoint', async () => {
    const sim = createSimEngine();
    expect(sim.simulated).toBe(true);
    expect(await sim.probe()).toEqual({ ok: true });
    const dir = await mkdtemp(join(root, 'x-'));
    const ref = { namespace: NS, podName: 'p', podUid: 'u', containerName: 'c', signal: async () => {} };
    const base = { nodeName: NODE, artifactDir: dir, log: () => {}, signal: new AbortController().signal };
    await sim.checkpoint({ ...base, pod: {} as Pod, container: ref, checkpointId: 'one' });
    await expect(sim.restore({ ...base, pod: {} as Pod, placeholder: ref, checkpointId: 'two', manifest: {} })).rejects.toThrow(/belongs to checkpoint "one"/);
    await expect(sim.restore({ ...base, pod: {} as Pod, placeholder: ref, checkpointId: 'one', manifest: {} })).resolves.toBeDefined();
  });
});
