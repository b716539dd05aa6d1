/**
 * `checkpoint --identity` (a DynamoCheckpoint, docs/protocol.md §8) against a real API server
 * with the CRD of manifests/crds/dynamocheckpoint.yaml installed, whose schema the real
 * server enforces (validation, pruning, defaults, the status subresource).
 *
 * There is no Dynamo operator on this cluster, so nothing moves a DynamoCheckpoint's
 * phase by itself. What is real here: the CRD and its schema, what the CLI stores, its
 * watch on a custom resource, its cleanup, and its reading of a status written through
 * the status subresource, which is how the operator writes it; kubectl writes that status
 * here in the operator's place. The operator's own work (the Job it makes) is not tested.
 *
 * The CRD is cluster-scoped: it is created only when absent and then removed afterwards;
 * one that was already there (another engineer's) is used and left alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, agentLog, cli, getJson, installNamespace, kubectl, kubectlOk, kv, removeNamespace, waitFor, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `rt-identity-${process.pid}`;
const CRD = 'dynamocheckpoints.nvidia.com';
const CRD_FILE = join(ROOT, 'manifests/crds/dynamocheckpoint.yaml');
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-identity-'));
// docs/protocol.md §8's vectors, spelt out so a broken hash fails this lane too.
const HASH = '96429b2725761a09';
const IDENTITY = ['--model', 'meta-llama/Llama-2-7b-hf', '--backend-framework', 'vllm'];
const HASH2 = 'f4ba65bccbb8e4fb';
const IDENTITY2 = ['--model', 'meta-llama/Llama-2-13b-hf', '--backend-framework', 'sglang', '--dynamo-version', '0.4.2', '--tp', '2', '--pp', '1', '--dtype', 'float16', '--max-model-len', '4096', '--extra', 'gpu_memory_utilization=0.9'];
let worker = '';
/** The CRD existed before this file ran: not ours to create or delete. */
let crdPreexisting = false;
let crdCreated = false;

beforeAll(async () => {
  crdPreexisting = (await kubectl(['get', 'crd', CRD])).code === 0;
  await installNamespace(NS);
  worker = await writeWorker(dir, 'w-id');
}, 180_000);

afterAll(async () => {
  await removeNamespace(NS);
  if (crdCreated && process.env['SNAPSHOTCTL_REAL_KEEP'] !== '1') await kubectl(['delete', 'crd', CRD, '--wait=true', '--timeout=60s']);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run);

const common = ['--manifest', '', '-n', NS, '--disable-cuda-checkpoint-job-file'];
function args(identity: string[], ...rest: string[]): string[] {
  return ['checkpoint', ...identity, ...common.map((a) => (a === '' ? worker : a)), ...rest];
}

/** Write a DynamoCheckpoint's status the way its operator does: through the status subresource. */
async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await kubectlOk(['patch', 'dckpt', name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

/** `kubectl create --validate=false` of one object, so the server alone judges it. */
function createRaw(object: Record<string, unknown>): ReturnType<typeof kubectl> {
  return kubectl(['create', '--validate=false', '-n', NS, '-f', '-', '-o', 'json'], { stdin: JSON.stringify(object) });
}

describe('checkpoint --identity on a real API server', () => {
  it('without the CRD: exit 3, saying the operator is missing and giving the plain-Job command', async (ctx) => {
    if (crdPreexisting) ctx.skip();
    const run = await cli(args(IDENTITY));
    expect(run.code, await explain(run)).toBe(3);
    expect(run.stderr).toContain('this cluster has no DynamoCheckpoint resource (dynamocheckpoints.nvidia.com, nvidia.com/v1alpha1)');
    expect(run.stderr).toContain(`snapshotctl checkpoint --manifest WORKER.yaml -n ${NS} --checkpoint-id ${HASH}`);
  }, 60_000);

  it('the real server accepts manifests/crds/dynamocheckpoint.yaml: Established, served under its short name', async () => {
    if (!crdPreexisting) {
      await kubectlOk(['create', '-f', CRD_FILE]);
      crdCreated = true;
    }
    await kubectlOk(['wait', `crd/${CRD}`, '--for=condition=Established', '--timeout=60s'], { timeoutMs: 70_000 });
    const crd = await getJson('', 'crd', CRD);
    expect(crd?.['status'].acceptedNames).toMatchObject({ kind: 'DynamoCheckpoint', shortNames: ['dckpt'] });
    await waitFor('dckpt served', async () => (await kubectl(['get', 'dckpt', '-n', NS])).code === 0, 30_000, 500);
  }, 90_000);

  it('the real server enforces the schema: an invalid DynamoCheckpoint is refused naming each field; unknown fields are pruned, defaults filled in', async () => {
    const bad = await createRaw({
      apiVersion: 'nvidia.com/v1alpha1',
      kind: 'DynamoCheckpoint',
      metadata: { name: 'rt-bad' },
      spec: { identity: { model: 'm', backendFramework: 'onnx', tensorParallelSize: -1 } },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('DynamoCheckpoint "rt-bad" is invalid');
    expect(bad.stderr).toMatch(/spec\.identity\.backendFramework: Unsupported value: "onnx": supported values: "vllm", "sglang", "trtllm"/);
    expect(bad.stderr).toMatch(/spec\.identity\.tensorParallelSize: Invalid value: -1: spec\.identity\.tensorParallelSize in body should be greater than or equal to 0/);
    expect(bad.stderr).toMatch(/spec\.job: Required value/);

    const ok = await createRaw({
      apiVersion: 'nvidia.com/v1alpha1',
      kind: 'DynamoCheckpoint',
      metadata: { name: 'rt-pruned' },
      spec: { identity: { model: 'm', backendFramework: 'vllm', bogus: 1 }, job: { podTemplateSpec: { spec: { containers: [] } } }, stray: true },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const stored = await getJson(NS, 'dckpt', 'rt-pruned');
    expect(stored?.['spec']).toEqual({
      identity: { model: 'm', backendFramework: 'vllm', tensorParallelSize: 1, pipelineParallelSize: 1 },
      job: { activeDeadlineSeconds: 3600, podTemplateSpec: { spec: { containers: [] } } },
    });
    // The status is the operator's, through its subresource: a phase outside the enum is refused there too.
    const badStatus = await kubectl(['patch', 'dckpt', 'rt-pruned', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Done"}}']);
    expect(badStatus.code).not.toBe(0);
    expect(badStatus.stderr).toMatch(/status\.phase: Unsupported value: "Done": supported values: "Pending", "Creating", "Ready", "Failed"/);
    await kubectlOk(['delete', 'dckpt', 'rt-pruned', '-n', NS]);
  }, 60_000);

  it('--dry-run=server: the real server validates and defaults the DynamoCheckpoint and stores nothing', async () => {
    const run = await cli(args(IDENTITY, '--dry-run=server', '-o', 'json'));
    expect(run.code, await explain(run)).toBe(0);
    const list = JSON.parse(run.stdout) as { items: Array<Record<string, any>> };
    expect(list.items[0]?.['metadata'].name).toBe(`ckpt-${HASH}`);
    expect(list.items[0]?.['spec'].identity).toMatchObject({ tensorParallelSize: 1, pipelineParallelSize: 1 });
    expect(await getJson(NS, 'dckpt', `ckpt-${HASH}`)).toBeUndefined();
  }, 60_000);

  it('--no-wait: what the CLI sent is what the real server stored, nothing pruned (only the schema\'s defaults added)', async () => {
    const offline = await cli(args(IDENTITY, '--dry-run', '-o', 'json'));
    expect(offline.code, await explain(offline)).toBe(0);
    const sent = (JSON.parse(offline.stdout) as { items: Array<Record<string, any>> }).items[0]!;
    const run = await cli(args(IDENTITY, '--no-wait'));
    expect(run.code, await explain(run)).toBe(0);
    expect(kv(run.stdout)).toMatchObject({ status: 'created', name: `ckpt-${HASH}`, checkpoint_id: HASH });
    const stored = await getJson(NS, 'dckpt', `ckpt-${HASH}`);
    expect(stored?.['metadata'].labels).toEqual(sent['metadata'].labels);
    expect(stored?.['metadata'].labels['nvidia.com/snapshot-identity-hash']).toBe(HASH);
    expect(stored?.['spec']).toEqual({ ...sent['spec'], identity: { ...sent['spec'].identity, tensorParallelSize: 1, pipelineParallelSize: 1 } });
    expect(stored?.['status']).toBeUndefined();
  }, 60_000);

  it('an unfinished DynamoCheckpoint is waited on: the phase written through the status subresource ends the wait (exit 0), and it is kept', async () => {
    const name = `ckpt-${HASH}`;
    const uid = (await getJson(NS, 'dckpt', name))?.['metadata'].uid;
    const run = await cli(args(IDENTITY, '--timeout', '60s'), {
      timeoutMs: 90_000,
      onSpawn: () => {
        void (async () => {
          await new Promise((r) => setTimeout(r, 3000));
          await setStatus(name, { phase: 'Creating', identityHash: HASH, jobName: `checkpoint-job-${HASH}-1` });
          await new Promise((r) => setTimeout(r, 1000));
          await setStatus(name, { phase: 'Ready', createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
        })();
      },
    });
    expect(run.code, await explain(run)).toBe(0);
    expect(run.stderr).toContain(`waiting on the existing dynamocheckpoint.nvidia.com/${name}`);
    expect(kv(run.stdout)).toMatchObject({ status: 'completed', name, checkpoint_job: `checkpoint-job-${HASH}-1`, checkpoint_id: HASH, checkpoint_location: `/checkpoints/${HASH}/versions/1` });
    expect((await getJson(NS, 'dckpt', name))?.['metadata'].uid).toBe(uid);
  }, 120_000);

  it('a Ready DynamoCheckpoint is reused at once: exit 0, reused, nothing created', async () => {
    const run = await cli(args(IDENTITY, '-o', 'json'));
    expect(run.code, await explain(run)).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', reused: true, identityHash: HASH, dynamoCheckpoint: `ckpt-${HASH}`, checkpointJob: `checkpoint-job-${HASH}-1` });
    expect(run.stderr).toMatch(/reused dynamocheckpoint\.nvidia\.com\/ckpt-96429b2725761a09/);
    const all = parse(await kubectlOk(['get', 'dckpt', '-n', NS, '-o', 'yaml'])) as { items: unknown[] };
    expect(all.items).toHaveLength(1);
  }, 60_000);

  it('a Failed one: exit 1 with its message and the kubectl delete command', async () => {
    await setStatus(`ckpt-${HASH}`, { phase: 'Failed', message: 'CUDA checkpoint failed: out of host memory' });
    const run = await cli(args(IDENTITY));
    expect(run.code, await explain(run)).toBe(1);
    expect(run.stderr).toContain(`dynamocheckpoint.nvidia.com/ckpt-${HASH} with identity hash ${HASH} failed: CUDA checkpoint failed: out of host memory`);
    expect(run.stderr).toContain(`kubectl delete dckpt ckpt-${HASH} -n ${NS}`);
    await kubectlOk(['delete', 'dckpt', `ckpt-${HASH}`, '-n', NS]);
  }, 60_000);

  it('no operator moves the phase: --timeout exits 4 and the DynamoCheckpoint this run created is deleted from the real server', async () => {
    const run = await cli(args(IDENTITY2, '--timeout', '5s'), { timeoutMs: 60_000 });
    expect(run.code, await explain(run)).toBe(4);
    expect(run.stderr).toContain(`dynamocheckpoint.nvidia.com/ckpt-${HASH2}`);
    // The delete is foreground (the operator's Job is owned by it), so on a CRD installed
    // moments ago it waits for the real garbage collector's next discovery resync (up to
    // 30 s in 1.20) to take the finalizer off: the CLI's exit may lag its --timeout.
    await waitFor('the DynamoCheckpoint gone', async () => (await getJson(NS, 'dckpt', `ckpt-${HASH2}`)) === undefined, 30_000, 300);
  }, 90_000);

  it('Ctrl-C while waiting: exit 130 and the DynamoCheckpoint this run created is deleted', async () => {
    let next = 0;
    const run = await cli(args(IDENTITY2, '--timeout', '5m'), {
      timeoutMs: 90_000,
      signalAfter: {
        signal: 'SIGINT',
        when: async () => {
          if (Date.now() < next) return false;
          next = Date.now() + 300;
          return (await getJson(NS, 'dckpt', `ckpt-${HASH2}`)) !== undefined;
        },
      },
    });
    expect(run.code, await explain(run)).toBe(130);
    await waitFor('the DynamoCheckpoint gone', async () => (await getJson(NS, 'dckpt', `ckpt-${HASH2}`)) === undefined, 30_000, 300);
  }, 120_000);
});
