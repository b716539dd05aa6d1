/**
 * The agent against the real dev API server, through the real HTTP client: the same
 * path a node agent on a cluster takes. Also applies `manifests/` to that server, as
 * `dev up` and the demo do, and runs the CLI's own pure builders for the objects.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createKubeClient } from '../kube/client.js';
import { RESOURCES, type KubeClient, type ResourceType } from '../kube/types.js';
import { waitForObject } from '../kube/wait.js';
import { isApiStatus } from '../kube/errors.js';
import {
  AGENT_EVENT_COMPONENT,
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
  ANNOTATION_CHECKPOINT_STATUS,
  ANNOTATION_RESTORE_CONTAINER_ID,
  ANNOTATION_RESTORE_STATUS,
  ARTIFACT_MANIFEST_FILE,
  CONTAINERD_ID_PREFIX,
  EVENT_CHECKPOINT_FAILED,
  EVENT_CHECKPOINT_REQUESTED,
  EVENT_CHECKPOINT_SUCCEEDED,
  EVENT_RESTORE_REQUESTED,
  EVENT_RESTORE_SUCCEEDED,
  buildCheckpointJob,
  buildRestoreInPlacePatch,
  buildRestorePod,
  discoverStorage,
  parsePodManifest,
  type CheckpointStorage,
  type DaemonSet,
  type Job,
  type KubeObject,
  type Pod,
} from '../protocol/index.js';
import { startApiServer, type DevApiServer } from '../dev/api/index.js';
import { applyManifests } from '../dev/cluster.js';
import { startAgent, type RunningAgent } from './agent.js';
import { artifactDir } from './artifact.js';
import { createSimEngine } from './sim-engine.js';

const NS = 'default';
const manifestsDir = join(dirname(fileURLToPath(import.meta.url)), '../../manifests');

let api: DevApiServer;
let client: KubeClient;
let work: string;
let storageRoot: string;
let agents: RunningAgent[] = [];
let storage: CheckpointStorage;
const logs: string[] = [];

async function samplePod(file: string): Promise<Pod> {
  const parsed = parsePodManifest(await readFile(join(manifestsDir, 'samples', file), 'utf8'));
  if (!parsed.pod) throw new Error(`${file}: ${JSON.stringify(parsed.findings)}`);
  return parsed.pod;
}

async function eventsOf(name: string): Promise<Array<KubeObject & Record<string, any>>> {
  const list = await client.list<KubeObject & Record<string, any>>(RESOURCES.events, NS, {
    fieldSelector: `involvedObject.name=${name}`,
  });
  // Only the agent's: the Job controller and kubelet record their own.
  return list.items.filter((e) => e['involvedObject']?.name === name && e['source']?.component === AGENT_EVENT_COMPONENT);
}

async function waitForEvents(name: string, reason: string, count: number): Promise<Array<KubeObject & Record<string, any>>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const events = await eventsOf(name);
    if (events.filter((e) => e['reason'] === reason).length >= count) return events;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ${reason} on ${name}; have ${events.map((e) => e['reason']).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function until<T extends KubeObject>(resource: ResourceType, name: string, pred: (o: T | undefined) => boolean): Promise<T | undefined> {
  return waitForObject<T>(client, {
    resource,
    namespace: NS,
    name,
    until: pred,
    signal: new AbortController().signal,
    timeoutMs: 15_000,
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agent-it-'));
  storageRoot = join(work, 'pvc');
  const gpuNode = (name: string) => ({ name, gpus: 4, labels: { 'nvidia.com/gpu.present': 'true' } });
  api = await startApiServer({ nodes: [gpuNode('gpu-1'), gpuNode('gpu-2')], readyDelayMs: 100, pullDelayMs: 20 });
  const kubeconfig = join(work, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  client = await createKubeClient({ kubeconfig, env: {} });

  // Exactly what `dev up` and the demo apply: every file directly in manifests/.
  await applyManifests(client, manifestsDir, NS);

  // Storage discovery as the CLI does it, against what the server now holds.
  const byComponent = (await client.list<DaemonSet>(RESOURCES.daemonsets, NS, { labelSelector: AGENT_SELECTOR_COMPONENT })).items;
  const byName = (await client.list<DaemonSet>(RESOURCES.daemonsets, NS, { labelSelector: AGENT_SELECTOR_NAME })).items;
  const found = discoverStorage({ byComponent, byName });
  if (!found.found) throw new Error(`storage not found: ${found.reason}`);
  storage = found.storage;

  // One agent per node, all sharing one directory: a ReadWriteMany PVC.
  agents = ['gpu-1', 'gpu-2'].map((nodeName) =>
    startAgent({
      client,
      nodeName,
      storageRoot,
      engine: createSimEngine(),
      namespace: NS,
      log: (level, m) => logs.push(`${level} ${m}`),
      signalContainer: (ns, pod, sig) => {
        api.nodes.containerFor(ns, pod)?.signal(sig);
      },
      lookupPid: (ns, pod) => api.nodes.containerFor(ns, pod)?.pid,
      timing: { resyncMs: 100, watchBackoffMs: 100 },
    }),
  );
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await api?.close();
  await rm(work, { recursive: true, force: true });
});

describe('agent against the dev API server', () => {
  it('the dev cluster serves manifests/: the agent DaemonSet runs on both GPU nodes and names the PVC', async () => {
    expect(storage).toEqual({ pvcName: 'snapshot-pvc', basePath: '/checkpoints', daemonSet: 'snapshot-agent' });
    const deadline = Date.now() + 10_000;
    let nodes: string[] = [];
    while (Date.now() < deadline) {
      const pods = await client.list<Pod>(RESOURCES.pods, NS, { labelSelector: AGENT_SELECTOR_COMPONENT });
      nodes = pods.items.filter((p) => p.status?.phase === 'Running').map((p) => p.spec.nodeName ?? '').sort();
      if (nodes.length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(nodes).toEqual(['gpu-1', 'gpu-2']);
  });

  it('checkpoint, restore from a manifest, restore in place twice', async () => {
    const worker = await samplePod('worker.yaml');
    const id = 'it-ckpt-1';
    const job = buildCheckpointJob(worker, { namespace: NS, checkpointId: id, wrapCudaCheckpoint: true });
    await client.create(RESOURCES.jobs, NS, job);
    const jobName = job.metadata.name ?? '';

    const done = await until<Job>(RESOURCES.jobs, jobName, (j) => j?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS] !== undefined);
    expect(done?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS]).toBe('completed');

    // SIGUSR1 made the worker exit 0, so the Job completes.
    const complete = await until<Job>(RESOURCES.jobs, jobName, (j) => (j?.status?.succeeded ?? 0) > 0);
    expect(complete?.status?.succeeded).toBe(1);

    const events = await waitForEvents(jobName, EVENT_CHECKPOINT_SUCCEEDED, 1);
    expect(events.map((e) => e['reason'])).toEqual([EVENT_CHECKPOINT_REQUESTED, EVENT_CHECKPOINT_SUCCEEDED]);
    expect(events[0]!['source']['component']).toBe(AGENT_EVENT_COMPONENT);
    expect(events[0]!['involvedObject']).toMatchObject({ kind: 'Job', name: jobName, uid: done?.metadata.uid });
    await expect(client.get(RESOURCES.leases, NS, jobName)).rejects.toMatchObject({ status: 404 });

    const checkpointPod = (await client.list<Pod>(RESOURCES.pods, NS, { labelSelector: `batch.kubernetes.io/job-name=${jobName}` })).items[0]!;
    const manifest = parse(await readFile(join(artifactDir(storageRoot, id), ARTIFACT_MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      checkpointId: id,
      nodeName: checkpointPod.spec.nodeName,
      namespace: NS,
      pod: checkpointPod.metadata.name,
      container: 'worker',
      simulated: true,
    });

    // Restore from the manifest: a new pod built by the CLI's builder.
    const restorePod = buildRestorePod(worker, { namespace: NS, checkpointId: id, pvcName: storage.pvcName, basePath: storage.basePath });
    await client.create(RESOURCES.pods, NS, restorePod);
    const restored = await until<Pod>(RESOURCES.pods, restorePod.metadata.name ?? '', (p) =>
      ['completed', 'failed'].includes(p?.metadata.annotations?.[ANNOTATION_RESTORE_STATUS] ?? ''),
    );
    expect(restored?.metadata.annotations?.[ANNOTATION_RESTORE_STATUS]).toBe('completed');
    const containerId = restored?.status?.containerStatuses?.[0]?.containerID ?? '';
    expect(containerId.startsWith(CONTAINERD_ID_PREFIX)).toBe(true);
    expect(restored?.metadata.annotations?.[ANNOTATION_RESTORE_CONTAINER_ID]).toBe(containerId.slice(CONTAINERD_ID_PREFIX.length));
    await waitForEvents(restorePod.metadata.name ?? '', EVENT_RESTORE_SUCCEEDED, 1);

    // Restore in place into the sample placeholder, then again (stale keys removed by the patch).
    const placeholder = await samplePod('placeholder.yaml');
    await client.create(RESOURCES.pods, NS, placeholder);
    const name = placeholder.metadata.name ?? '';
    for (const round of [1, 2]) {
      // The patch carries the resourceVersion it was built from; the kubelet may still be
      // writing the pod's status (our client waits its turn under the rate limit): read again.
      for (let attempt = 1; ; attempt++) {
        const running = await until<Pod>(RESOURCES.pods, name, (p) => p?.status?.phase === 'Running');
        try {
          await client.patch(RESOURCES.pods, NS, name, buildRestoreInPlacePatch(running!, id), 'merge');
          break;
        } catch (err) {
          if (!isApiStatus(err, 409) || attempt >= 5) throw err;
        }
      }
      await waitForEvents(name, EVENT_RESTORE_SUCCEEDED, round);
      const after = await client.get<Pod>(RESOURCES.pods, NS, name);
      expect(after.metadata.annotations?.[ANNOTATION_RESTORE_STATUS]).toBe('completed');
    }
    const inPlace = await eventsOf(name);
    expect(inPlace.filter((e) => e['reason'] === EVENT_RESTORE_REQUESTED)).toHaveLength(2);
  });

  it('an injected failure: SIGKILL fails the Job, verdict failed, CheckpointFailed', async () => {
    for (const a of agents) a.faults.failNext = 1;
    const worker = await samplePod('worker.yaml');
    worker.metadata.name = 'worker-fails';
    const job = buildCheckpointJob(worker, { namespace: NS, checkpointId: 'it-fail-1', wrapCudaCheckpoint: false });
    await client.create(RESOURCES.jobs, NS, job);
    const jobName = job.metadata.name ?? '';
    const done = await until<Job>(RESOURCES.jobs, jobName, (j) => j?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS] !== undefined);
    expect(done?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS]).toBe('failed');
    const events = await waitForEvents(jobName, EVENT_CHECKPOINT_FAILED, 1);
    expect(events.find((e) => e['reason'] === EVENT_CHECKPOINT_FAILED)?.['type']).toBe('Warning');
    const failedJob = await until<Job>(RESOURCES.jobs, jobName, (j) => (j?.status?.failed ?? 0) > 0);
    expect(failedJob?.status?.failed).toBe(1);
    for (const a of agents) a.faults.failNext = 0;
  });

  it('survives dropped watch streams and 410 Gone', async () => {
    api.faults.add({ verb: 'watch', resource: 'pods', times: 2, effect: { kind: 'status', code: 410 } });
    api.faults.dropWatches({ resource: 'pods' });
    const worker = await samplePod('worker.yaml');
    worker.metadata.name = 'worker-after-drop';
    const job = buildCheckpointJob(worker, { namespace: NS, checkpointId: 'it-drop-1', wrapCudaCheckpoint: false });
    await client.create(RESOURCES.jobs, NS, job);
    const done = await until<Job>(RESOURCES.jobs, job.metadata.name ?? '', (j) => j?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS] !== undefined);
    expect(done?.metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS]).toBe('completed');
  });
});
