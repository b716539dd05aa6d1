/**
 * The agent's verdict patch through the real HTTP client against the dev API server:
 * retried by the client's one retry policy only (no loop of the agent's own around it),
 * so the PATCH requests a verdict makes are counted on the wire. The agent's client
 * backs off instantly, so a persistent outage costs no test time.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient } from '../kube/client.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { ANNOTATION_CHECKPOINT_STATUS, buildCheckpointJob, parsePodManifest, type Job, type Pod } from '../protocol/index.js';
import { startApiServer, type DevApiServer } from '../dev/api/index.js';
import { applyManifests } from '../dev/cluster.js';
import { startAgent, VERDICT_ATTEMPTS, type RunningAgent } from './agent.js';
import { createSimEngine } from './sim-engine.js';

const NS = 'default';
const manifestsDir = join(dirname(fileURLToPath(import.meta.url)), '../../manifests');

let api: DevApiServer;
let client: KubeClient;
let work: string;
let agent: RunningAgent;
const logs: string[] = [];

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A checkpoint Job for a copy of the sample worker named `name` (not created yet). */
async function checkpointJob(name: string): Promise<Job> {
  const parsed = parsePodManifest(await readFile(join(manifestsDir, 'samples', 'worker.yaml'), 'utf8'));
  if (!parsed.pod) throw new Error(JSON.stringify(parsed.findings));
  const worker: Pod = { ...parsed.pod, metadata: { ...parsed.pod.metadata, name } };
  return buildCheckpointJob(worker, { namespace: NS, checkpointId: `verdict-${name}`, wrapCudaCheckpoint: false });
}

const verdictOf = async (jobName: string): Promise<string | undefined> =>
  (await client.get<Job>(RESOURCES.jobs, NS, jobName)).metadata.annotations?.[ANNOTATION_CHECKPOINT_STATUS];

const patches = (jobName: string): number => api.requestLog.count({ verb: 'patch', resource: 'jobs', name: jobName });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agent-verdict-'));
  api = await startApiServer({ nodes: [{ name: 'gpu-1', gpus: 4, labels: { 'nvidia.com/gpu.present': 'true' } }], readyDelayMs: 50, pullDelayMs: 10 });
  const kubeconfig = join(work, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  client = await createKubeClient({ kubeconfig, env: {} });
  await applyManifests(client, manifestsDir, NS);
  // The agent's own client: the default policy's attempts, back-off made instant.
  const agentClient = await createKubeClient({ kubeconfig, env: {}, retry: { sleep: () => Promise.resolve() }, rateLimit: false });
  agent = startAgent({
    client: agentClient,
    nodeName: 'gpu-1',
    storageRoot: join(work, 'pvc'),
    engine: createSimEngine(),
    namespace: NS,
    log: (level, m) => logs.push(`${level} ${m}`),
    signalContainer: (ns, pod, sig) => {
      api.nodes.containerFor(ns, pod)?.signal(sig);
    },
    lookupPid: (ns, pod) => api.nodes.containerFor(ns, pod)?.pid,
    timing: { resyncMs: 100, watchBackoffMs: 100 },
  });
});

afterAll(async () => {
  await agent?.stop();
  await api?.close();
  await rm(work, { recursive: true, force: true });
});

describe('the verdict patch and the one retry policy', () => {
  it('a short outage (503 three times): the completed verdict lands on the fourth PATCH', async () => {
    const job = await checkpointJob('w-blip');
    const jobName = job.metadata.name ?? '';
    api.faults.add({ verb: 'patch', resource: 'jobs', name: jobName, times: 3, effect: { kind: 'status', code: 503 } });
    await client.create(RESOURCES.jobs, NS, job);
    expect(await waitFor(() => verdictOf(jobName), 'the verdict')).toBe('completed');
    expect(patches(jobName)).toBe(4);
  });

  it('a persistent 503: each verdict makes VERDICT_ATTEMPTS PATCHes, not attempts times an outer loop', async () => {
    const job = await checkpointJob('w-down');
    const jobName = job.metadata.name ?? '';
    const fault = api.faults.add({ verb: 'patch', resource: 'jobs', name: jobName, effect: { kind: 'status', code: 503 } });
    await client.create(RESOURCES.jobs, NS, job);
    // The completed verdict gives up, then the failed verdict does too; the agent says so.
    await waitFor(() => logs.find((l) => l.startsWith('error ') && l.includes(`could not mark Job ${NS}/${jobName} failed`)), 'the agent to give up');
    expect(patches(jobName)).toBe(2 * VERDICT_ATTEMPTS);
    expect(fault.hits).toBe(2 * VERDICT_ATTEMPTS);
    fault.remove();
    expect(await verdictOf(jobName)).toBeUndefined();
  });

  it('a 400 is not retried: one PATCH for the completed verdict, then the failed verdict', async () => {
    const job = await checkpointJob('w-bad');
    const jobName = job.metadata.name ?? '';
    api.faults.add({ verb: 'patch', resource: 'jobs', name: jobName, times: 1, effect: { kind: 'status', code: 400, message: 'bad patch' } });
    await client.create(RESOURCES.jobs, NS, job);
    expect(await waitFor(() => verdictOf(jobName), 'the verdict')).toBe('failed');
    expect(patches(jobName)).toBe(2);
  });
});
