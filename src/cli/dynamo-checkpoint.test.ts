/**
 * `checkpoint --identity FILE|flags` through the real program with a fake cluster: the
 * test plays the DynamoCheckpoint controller (status patches) where one is needed.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { ApiError } from '../kube/errors.js';
import { RESOURCES } from '../kube/types.js';
import type { KubeObject } from '../protocol/index.js';
import { runCli, seedAgent } from './testing/run-cli.js';

const HASH = '96429b2725761a09'; // docs/protocol.md §8, first vector
const JOB = `checkpoint-job-${HASH}-1`;
const FLAGS = ['--model', 'meta-llama/Llama-2-7b-hf', '--backend-framework', 'vllm'];

const WORKER = `apiVersion: v1
kind: Pod
metadata:
  name: worker
  labels: {app: llm}
spec:
  containers:
    - name: main
      image: registry.example.com/vllm-placeholder:1.0.0
      command: [python3, -m, worker]
      readinessProbe:
        exec: {command: [cat, /tmp/ready-for-checkpoint]}
`;

const DCKPT_FILE = `apiVersion: nvidia.com/v1alpha1
kind: DynamoCheckpoint
metadata:
  name: llama-7b
  namespace: ml
spec:
  identity:
    model: meta-llama/Llama-2-7b-hf
    backendFramework: vllm
  gpuMemoryService: {enabled: true}
  job:
    activeDeadlineSeconds: 600
    podTemplateSpec:
      metadata: {labels: {app: llm}}
      spec:
        containers:
          - name: main
            image: registry.example.com/vllm-placeholder:1.0.0
            command: [python3, -m, worker]
            readinessProbe:
              exec: {command: [cat, /tmp/ready-for-checkpoint]}
`;

const DGD_TWO = `apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: g}
spec:
  services:
    A: {checkpoint: {identity: {model: a, backendFramework: vllm}}}
    B: {checkpoint: {identity: {model: b, backendFramework: sglang}}}
`;

const files = { 'worker.yaml': WORKER, 'dc.yaml': DCKPT_FILE, 'dgd.yaml': DGD_TWO };

function dc(name: string, phase: string | undefined, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoCheckpoint',
    metadata: { name, namespace: 'default' },
    spec: { identity: { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' }, job: { podTemplateSpec: { spec: { containers: [{ name: 'w', image: 'i' }] } } } },
    ...(phase ? { status: { phase, identityHash: HASH, jobName: JOB, ...extra } } : {}),
  };
}

/** Plays the controller: a new DynamoCheckpoint goes Pending → Creating → `end`. */
function controller(client: FakeKubeClient, end: { phase: 'Ready' | 'Failed'; message?: string } | 'silent'): void {
  client.onWrite = (verb, res, obj) => {
    if (res.plural !== 'dynamocheckpoints' || verb !== 'create' || end === 'silent') return;
    const name = obj.metadata?.name ?? '';
    for (const status of [
      { phase: 'Pending', identityHash: HASH },
      { phase: 'Creating', identityHash: HASH, jobName: JOB },
      { phase: end.phase, identityHash: HASH, jobName: JOB, ...(end.phase === 'Ready' ? { createdAt: '2026-11-23T12:00:00Z' } : { message: end.message ?? '' }) },
    ]) {
      client.update(RESOURCES.dynamocheckpoints, 'default', name, (o) => void (o['status'] = status));
    }
  };
}

function fake(): FakeKubeClient {
  const client = new FakeKubeClient();
  seedAgent(client);
  return client;
}

describe('checkpoint --identity / identity flags', () => {
  it('--dry-run prints the DynamoCheckpoint, offline, named ckpt-<hash>', async () => {
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml', '--dry-run', '-o', 'json'], { files });
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { items: KubeObject[] };
    expect(list.items).toEqual([
      {
        apiVersion: 'nvidia.com/v1alpha1',
        kind: 'DynamoCheckpoint',
        metadata: { name: `ckpt-${HASH}`, namespace: 'default', labels: { 'nvidia.com/snapshot-identity-hash': HASH } },
        spec: {
          identity: { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' },
          job: {
            activeDeadlineSeconds: 3600,
            podTemplateSpec: { metadata: { labels: { app: 'llm' } }, spec: parse(WORKER).spec },
          },
        },
      },
    ]);
  });

  it('--identity with a DynamoCheckpoint file keeps its name, namespace, template, deadline and gpuMemoryService', async () => {
    const r = await runCli(['checkpoint', '--identity', 'dc.yaml', '--dry-run', '-o', 'yaml'], { files });
    expect(r.code, r.stderr).toBe(0);
    const obj = (parse(r.stdout) as { items: Array<Record<string, any>> }).items[0]!;
    expect(obj['metadata']).toEqual({ name: 'llama-7b', namespace: 'ml', labels: { 'nvidia.com/snapshot-identity-hash': HASH } });
    expect(obj['spec'].gpuMemoryService).toEqual({ enabled: true });
    expect(obj['spec'].job.activeDeadlineSeconds).toBe(600);
    expect(obj['spec'].job.podTemplateSpec.spec.containers[0].name).toBe('main');
  });

  it('creates the DynamoCheckpoint and waits for Ready: kv lines and json fields', async () => {
    const client = fake();
    controller(client, { phase: 'Ready' });
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml'], { files, client });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [`status=completed`, `namespace=default`, `name=ckpt-${HASH}`, `checkpoint_job=${JOB}`, `checkpoint_id=${HASH}`, `checkpoint_location=/checkpoints/${HASH}/versions/1`, ''].join('\n'),
    );
    expect(client.writes().map((c) => `${c.verb} ${c.resource}/${c.name}`)).toEqual([`create dynamocheckpoints/ckpt-${HASH}`]);

    const again = fake();
    controller(again, { phase: 'Ready' });
    const j = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml', '-o', 'json'], { files, client: again });
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ status: 'completed', checkpointJob: JOB, checkpointId: HASH, dynamoCheckpoint: `ckpt-${HASH}`, identityHash: HASH, reused: false });
  });

  it('reuses a Ready one with the same identity hash at once: "reused" on stderr, nothing written', async () => {
    const client = fake();
    client.seed(RESOURCES.dynamocheckpoints, dc('someone-elses', 'Ready', { createdAt: '2026-11-01T00:00:00Z' }));
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml', '-o', 'json'], { files, client });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('reused dynamocheckpoint.nvidia.com/someone-elses');
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', name: 'someone-elses', dynamoCheckpoint: 'someone-elses', identityHash: HASH, reused: true, checkpointJob: JOB });
    expect(client.writes()).toEqual([]);
  });

  it('waits on an unfinished one (found by its spec\'s hash) instead of creating another; never deletes it', async () => {
    const client = fake();
    client.seed(RESOURCES.dynamocheckpoints, dc('pending-one', undefined));
    setTimeout(() => client.update(RESOURCES.dynamocheckpoints, 'default', 'pending-one', (o) => void (o['status'] = { phase: 'Failed', identityHash: HASH, jobName: JOB, message: 'agent said no' })), 30);
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml'], { files, client });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agent said no');
    expect(r.stderr).toContain('waiting on the existing dynamocheckpoint.nvidia.com/pending-one');
    expect(client.writes()).toEqual([]);
  });

  it('Failed → exit 1 with status.message; the DynamoCheckpoint this run created is deleted', async () => {
    const client = fake();
    controller(client, { phase: 'Failed', message: 'checkpoint Job failed: criu dump failed' });
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml'], { files, client });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('status=failed');
    expect(r.stdout).toContain('reason=checkpoint of default/ckpt-');
    expect(r.stderr).toContain('criu dump failed');
    expect(client.writes().map((c) => `${c.verb} ${c.resource}`)).toEqual(['create dynamocheckpoints', 'delete dynamocheckpoints']);
    expect(client.peek(RESOURCES.dynamocheckpoints, 'default', `ckpt-${HASH}`)).toBeUndefined();
  });

  it('an existing Failed one is reported (exit 1) with the command to delete it', async () => {
    const client = fake();
    client.seed(RESOURCES.dynamocheckpoints, dc('old', 'Failed', { message: 'boom' }));
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml'], { files, client });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dynamocheckpoint.nvidia.com/old with identity hash 96429b2725761a09 failed: boom');
    expect(r.stderr).toContain('kubectl delete dckpt old -n default');
    expect(client.writes()).toEqual([]);
  });

  it('timeout → exit 4 and the created DynamoCheckpoint is deleted', async () => {
    const client = fake();
    controller(client, 'silent');
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml', '--timeout', '1s'], { files, client });
    expect(r.code).toBe(4);
    expect(client.writes().map((c) => `${c.verb} ${c.resource}`)).toEqual(['create dynamocheckpoints', 'delete dynamocheckpoints']);
  });

  it('a cluster without the CRD: exit 3, says so and suggests checkpointing without --identity', async () => {
    const client = fake();
    client.failWith = (call) =>
      call.resource === 'dynamocheckpoints'
        ? new ApiError({ verb: call.verb, resource: RESOURCES.dynamocheckpoints, namespace: call.namespace, status: 404, reason: 'NotFound', message: 'the server could not find the requested resource' })
        : undefined;
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', 'worker.yaml'], { files, client });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('this cluster has no DynamoCheckpoint resource');
    expect(r.stderr).toContain(`snapshotctl checkpoint --manifest WORKER.yaml -n default --checkpoint-id ${HASH}`);
  });

  it.each([
    [['--checkpoint-id', 'x', '--manifest', 'worker.yaml', ...FLAGS], '--checkpoint-id does not go with --identity'],
    [[...FLAGS], 'checkpoint --identity needs the worker pod template'],
    [['--identity', 'dc.yaml', '--model', 'm'], '--identity and identity flags contradict each other'],
    [['--identity', 'dgd.yaml', '--manifest', 'worker.yaml'], 'has 2 services with a checkpoint identity (A, B)'],
    [['--model', 'm', '--backend-framework', 'tensorflow', '--manifest', 'worker.yaml'], 'the identity is not complete or not valid'],
  ])('usage error (exit 2, nothing sent): %j', async (args, message) => {
    const client = fake();
    const r = await runCli(['checkpoint', ...args], { files, client });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(client.calls).toEqual([]);
  });
});
