/**
 * The DynamoCheckpoint controller against the dev API server through the real HTTP
 * client. The test plays the snapshot agent (it writes the Job's verdict annotation
 * and the CheckpointFailed event), so every phase change is driven step by step.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient } from '../kube/client.js';
import { RESOURCES, type KubeClient } from '../kube/types.js';
import { buildDynamoCheckpoint, dynamoCheckpointJobName, LABEL_IDENTITY_HASH, type DynamoCheckpointObject } from '../protocol/dynamo-checkpoint.js';
import { identityHash } from '../protocol/identity.js';
import type { KubeObject } from '../protocol/types.js';
import { startApiServer, type DevApiServer } from './api/index.js';
import { waitFor } from './api/testutil.js';
import { startDckptController, type RunningDckptController } from './dckpt-controller.js';
import { dynamoCheckpointCrd } from './dckpt-crd.js';

const NS = 'default';
let api: DevApiServer;
let client: KubeClient;
let controller: RunningDckptController;
let dir: string;
const phases = new Map<string, string[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dckpt-controller-'));
  api = await startApiServer({ nodes: 1 });
  await api.writeKubeconfig(join(dir, 'kubeconfig'));
  client = await createKubeClient({ kubeconfig: join(dir, 'kubeconfig') });
  api.store.create('customresourcedefinitions', dynamoCheckpointCrd() as Parameters<DevApiServer['store']['create']>[1]);
  // Every phase each object passes through, in order (from the API's own watch stream).
  api.store.subscribe((ev) => {
    if (ev.resource.plural === 'dynamocheckpoints') record(ev.object);
  });
  controller = startDckptController({ client: await createKubeClient({ kubeconfig: join(dir, 'kubeconfig') }), namespace: NS, resyncMs: 200 });
});
afterAll(async () => {
  await controller?.stop();
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

function record(o: KubeObject): void {
  const name = o.metadata?.name ?? '';
  const phase = (o['status'] as { phase?: string } | undefined)?.phase;
  if (!phase) return;
  const seen = phases.get(name) ?? [];
  if (seen.at(-1) !== phase) seen.push(phase);
  phases.set(name, seen);
}

const template = {
  metadata: { labels: { app: 'llm' } },
  spec: { containers: [{ name: 'worker', image: 'reg/vllm-placeholder:1', command: ['python3', '-m', 'dynamo.vllm'], args: ['--model', 'Qwen/Qwen3-0.6B'] }] },
};

async function createDc(name: string, model: string, extra: Partial<DynamoCheckpointObject['spec']> = {}): Promise<{ hash: string; job: string }> {
  const identity = { model, backendFramework: 'vllm', tensorParallelSize: 1 };
  const dc = buildDynamoCheckpoint({ name, namespace: NS, identity, podTemplateSpec: template });
  await client.create(RESOURCES.dynamocheckpoints, NS, { ...dc, spec: { ...dc.spec, ...extra } });
  const hash = identityHash(identity);
  return { hash, job: dynamoCheckpointJobName(hash) };
}

const dcOf = (name: string) => api.store.get('dynamocheckpoints.nvidia.com', NS, name) as DynamoCheckpointObject | undefined;

async function waitPhase(name: string, phase: string): Promise<DynamoCheckpointObject> {
  return waitFor(() => {
    const d = dcOf(name);
    record(d ?? {});
    return d?.status?.phase === phase ? d : undefined;
  }, 15_000, `dynamocheckpoint ${name} ${phase}`);
}

function annotateJob(name: string, verdict: 'completed' | 'failed'): void {
  api.store.patch('jobs.batch', NS, name, 'application/merge-patch+json', { metadata: { annotations: { 'nvidia.com/snapshot-checkpoint-status': verdict } } });
}

describe('DynamoCheckpoint controller', () => {
  it('Pending → Creating with the §4 Job (ID = hash, owner, deadline) → Ready with createdAt', async () => {
    const { hash, job } = await createDc('ok', 'Qwen/Qwen3-0.6B');
    const creating = await waitPhase('ok', 'Creating');
    expect(creating.status).toMatchObject({ identityHash: hash, jobName: job });
    const j = api.store.mustGet('jobs.batch', NS, job) as any;
    expect(j.metadata.labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': hash });
    expect(j.metadata.ownerReferences).toEqual([{ apiVersion: 'nvidia.com/v1alpha1', kind: 'DynamoCheckpoint', name: 'ok', uid: creating.metadata.uid, controller: true }]);
    expect(j.spec.backoffLimit).toBe(0);
    expect(j.spec.activeDeadlineSeconds).toBe(3600);
    const t = j.spec.template;
    expect(t.metadata.labels).toMatchObject({ app: 'llm', 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': hash });
    expect(t.metadata.annotations).toEqual({ 'nvidia.com/snapshot-artifact-version': '1' });
    expect(t.spec.restartPolicy).toBe('Never');
    expect(t.spec.securityContext.seccompProfile).toEqual({ type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' });
    expect(t.spec.containers[0].command).toEqual(['cuda-checkpoint']);
    expect(t.spec.containers[0].args).toEqual(['--launch-job', 'python3', '-m', 'dynamo.vllm', '--model', 'Qwen/Qwen3-0.6B']);

    annotateJob(job, 'completed');
    const ready = await waitPhase('ok', 'Ready');
    expect(ready.status?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(ready.metadata.labels?.[LABEL_IDENTITY_HASH]).toBe(hash);
    expect(phases.get('ok')).toEqual(['Pending', 'Creating', 'Ready']);
  });

  it('a failed verdict → Failed with the agent\'s message; activeDeadlineSeconds is taken from the spec', async () => {
    const { job } = await createDc('bad', 'model-bad', { job: { podTemplateSpec: template, activeDeadlineSeconds: 120 } });
    await waitPhase('bad', 'Creating');
    expect((api.store.mustGet('jobs.batch', NS, job) as any).spec.activeDeadlineSeconds).toBe(120);
    api.store.create('events', {
      metadata: { name: `${job}.x`, namespace: NS },
      involvedObject: { kind: 'Job', name: job, namespace: NS },
      reason: 'CheckpointFailed',
      message: 'criu dump failed: boom',
      type: 'Warning',
    });
    annotateJob(job, 'failed');
    const failed = await waitPhase('bad', 'Failed');
    expect(failed.status?.message).toBe(`checkpoint Job ${job} failed: criu dump failed: boom`);
  });

  it('an identity the CRD schema refuses is a 422; one it lets through but the hash cannot take, or an empty pod template → Failed at once, no Job', async () => {
    const refused = await client
      .create(RESOURCES.dynamocheckpoints, NS, {
        apiVersion: 'nvidia.com/v1alpha1',
        kind: 'DynamoCheckpoint',
        metadata: { name: 'badfw' },
        spec: { identity: { model: 'm', backendFramework: 'tensorflow' }, job: { podTemplateSpec: template } },
      })
      .then(() => undefined, (err: unknown) => err as Error);
    expect(refused?.message).toContain('spec.identity.backendFramework: Unsupported value: "tensorflow": supported values: "vllm", "sglang", "trtllm"');
    // The schema has no minLength: an empty model gets through to the controller.
    await client.create(RESOURCES.dynamocheckpoints, NS, {
      apiVersion: 'nvidia.com/v1alpha1',
      kind: 'DynamoCheckpoint',
      metadata: { name: 'noid' },
      spec: { identity: { model: '', backendFramework: 'vllm' }, job: { podTemplateSpec: template } },
    });
    const f = await waitPhase('noid', 'Failed');
    expect(f.status?.message).toContain('model is required');
    const { job } = await createDc('empty', 'model-empty', { job: { podTemplateSpec: { spec: { containers: [] } } } });
    expect((await waitPhase('empty', 'Failed')).status?.message).toContain('containers is empty');
    expect(api.store.get('jobs.batch', NS, job)).toBeUndefined();
  });

  it('the Job deleted before a verdict → Failed; deleting the DynamoCheckpoint deletes its Job', async () => {
    const gone = await createDc('gone', 'model-gone');
    await waitPhase('gone', 'Creating');
    api.store.delete('jobs.batch', NS, gone.job, { propagationPolicy: 'Background' });
    expect((await waitPhase('gone', 'Failed')).status?.message).toContain('was deleted before the snapshot agent gave a verdict');

    const owned = await createDc('owned', 'model-owned');
    await waitPhase('owned', 'Creating');
    api.store.delete('dynamocheckpoints.nvidia.com', NS, 'owned', { propagationPolicy: 'Background' });
    await waitFor(() => api.store.get('jobs.batch', NS, owned.job) === undefined, 10_000, 'the owned Job to be collected');
  });
});
