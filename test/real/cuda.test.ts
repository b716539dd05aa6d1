/**
 * The cuda engine on a real node (`--runtime containerd --engine cuda`), with a
 * SIMULATED GPU: this node has none, so the agent's CUDA helper is replaced by
 * stand-in-cuda-helper.mjs (mounted from a ConfigMap, run with the agent's node), which
 * speaks the helper's protocol and keeps each process's simulated CUDA state in its
 * container's /dev/shm. What runs for real is everything around the driver calls: the
 * kubelet, containerd, CRIU inside the containers, and the engine's choice of host PIDs
 * (the worker's in its checkpoint pod; the restored process's, another one, in the
 * placeholder), the order against the dump (locked before, given back once it runs
 * again), the GPU mapping read from the placeholder container's own environment, and
 * the free-memory refusal. The CUDA calls themselves run on a GPU in bench/gpu.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentLog, apply, CHECKPOINTS_DIR, cli, getJson, installNamespace, kubectl, kubectlOk, kv, removeNamespace, ROOT, sampleManifest, waitFor } from './harness.js';
import { explainRun } from './harness.js';

const NS = `cuda-real-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-cuda-'));
const PORT = 18080;
const GPU = (i: number): string => `GPU-5a5a5a5a-0000-4000-8000-00000000000${i}`;
const GiB = 2 ** 30;

interface Facts {
  pid: number;
  nsPid: number;
  state: string;
  cgroup: string;
  cuda: boolean;
  cudaState: string;
}
interface Call {
  op: string;
  before?: Facts[];
  pairs?: Array<[string, string]>;
  gpus?: string[];
  needBytes?: number | null;
  error?: string;
}

/** What the stand-in helper was asked, in order (the agent's /tmp). */
async function calls(): Promise<Call[]> {
  const out = (await kubectl(['exec', '-n', NS, 'daemonset/snapshot-agent', '--', 'cat', '/tmp/stand-in-cuda.log'])).stdout;
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Call);
}

async function ask(pod: string): Promise<{ checksum: string; warmups: number; instance: string }> {
  const out = await kubectlOk(['exec', '-n', NS, pod, '--', 'sh', '-c', `echo checksum | nc 127.0.0.1 ${PORT}`]);
  return JSON.parse(out.trim().split('\n').pop() ?? '') as { checksum: string; warmups: number; instance: string };
}

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run, true);

/** A cgroup line of a pod's container (cgroupfs keeps the UID's dashes, systemd makes them underscores). */
function inPod(cgroup: string, uid: string): boolean {
  return cgroup.includes(`pod${uid}`) || cgroup.includes(`pod${uid.replaceAll('-', '_')}`);
}

/** A placeholder for the sample worker whose container the "device plugin" gave GPU `gpu`. */
async function placeholder(name: string, gpu: string): Promise<string> {
  const ph = parse(readFileSync(sampleManifest(dir, 'cpu-placeholder-real.yaml', name), 'utf8')) as Record<string, any>;
  ph['spec'].containers[0].env.push({ name: 'NVIDIA_VISIBLE_DEVICES', value: gpu });
  await apply(NS, [ph]);
  await waitFor(`placeholder ${name} to run`, async () => (await getJson(NS, 'pod', name))?.['status']?.phase === 'Running', 60_000, 250);
  return String((await getJson(NS, 'pod', name))?.['metadata'].uid);
}

let before: { checksum: string; instance: string } | undefined;
let source: Facts | undefined;

beforeAll(async () => {
  await installNamespace(NS, {
    agentArgs: ['--engine=cuda'],
    extraObjects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'stand-in-cuda' },
        data: { 'helper.mjs': readFileSync(join(ROOT, 'test/real/stand-in-cuda-helper.mjs'), 'utf8') },
      },
    ],
    editAgent: (spec) => {
      const agent = spec['containers'][0];
      agent.env.push({ name: 'SNAPSHOTCTL_PYTHON', value: '/usr/local/bin/node' }, { name: 'SNAPSHOTCTL_CUDA_HELPER', value: '/opt/stand-in-cuda/helper.mjs' });
      agent.volumeMounts.push({ name: 'stand-in-cuda', mountPath: '/opt/stand-in-cuda', readOnly: true });
      spec['volumes'].push({ name: 'stand-in-cuda', configMap: { name: 'stand-in-cuda' } });
    },
  });
}, 300_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('the cuda engine on a real node (containerd; simulated GPU)', () => {
  it('checkpoint: the worker\'s host PID is locked and checkpointed before the dump, and given back once it runs again', async () => {
    const worker = sampleManifest(dir, 'cpu-worker-real.yaml', 'cuda-worker');
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'cuda-real-1', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '150s'], { timeoutMs: 170_000 });
    expect(run.code, await explain(run)).toBe(0);
    expect(kv(run.stdout)['status']).toBe('completed');
    const podName = (await kubectlOk(['get', 'pods', '-n', NS, '-l', 'job-name=cuda-worker-checkpoint', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const podUid = (await kubectlOk(['get', 'pod', podName, '-n', NS, '-o', 'jsonpath={.metadata.uid}'])).trim();
    const sourceLog = (await kubectl(['logs', '-n', NS, podName])).stdout;
    const warm = /warm-up 1 \(instance ([0-9a-f]+), pid (\d+)\)/.exec(sourceLog);
    const sum = /warm-up done in [\d.]+ s, checksum ([0-9a-f]{64})/.exec(sourceLog);
    expect(warm && sum, sourceLog).toBeTruthy();
    before = { checksum: sum?.[1] ?? '', instance: warm?.[1] ?? '' };

    const c = await calls();
    // (probe and gpus only read; the driver version is recorded after the dump.)
    expect(c.map((x) => x.op).filter((op) => op !== 'probe' && op !== 'gpus')).toEqual(['usage', 'suspend', 'resume']);
    const suspend = c.find((x) => x.op === 'suspend')!;
    // One process in the tree, the worker: by its host PID, in the checkpoint pod, running.
    expect(suspend.before).toHaveLength(1);
    source = suspend.before![0]!;
    expect(source.cuda).toBe(true);
    expect(source.nsPid).toBe(Number(warm?.[2]));
    expect(source.pid).not.toBe(source.nsPid);
    expect(inPod(source.cgroup, podUid), source.cgroup).toBe(true);
    expect(source.state).not.toBe('T');
    // Given back after the dump, to the same PID, once criu's stop was lifted (the driver's
    // restore runs on a thread of the process).
    const resume = c.find((x) => x.op === 'resume')!;
    expect(resume.before?.map((f) => [f.pid, f.cudaState])).toEqual([[source.pid, 'checkpointed']]);
    expect(resume.before?.[0]?.state).not.toBe('T');

    const artifact = join(CHECKPOINTS_DIR, NS, 'cuda-real-1/versions/1');
    const meta = JSON.parse(readFileSync(join(artifact, 'cuda.json'), 'utf8')) as Record<string, any>;
    expect(meta).toMatchObject({ engine: 'cuda', gpus: [GPU(0)], usedBytes: { [GPU(0)]: GiB }, pids: [source.pid] });
    const manifest = parse(readFileSync(join(artifact, 'manifest.yaml'), 'utf8')) as Record<string, any>;
    expect(manifest['engine']).toMatchObject({ name: 'cuda', simulated: false });
    expect(manifest['engine'].details).toMatchObject({ mode: 'container', cuda: { pids: [source.pid], gpus: [GPU(0)], gpuBytes: GiB } });
    await waitFor('the Job to complete', async () => ((await getJson(NS, 'job', 'cuda-worker-checkpoint'))?.['status']?.succeeded ?? 0) >= 1, 60_000, 500);
  }, 240_000);

  it('restore --pod: the CUDA restore goes to the restored process\'s own host PID, onto the GPU the placeholder container was given', async () => {
    expect(source).toBeDefined();
    const uid = await placeholder('gpu-placeholder', GPU(1));
    const seen = (await calls()).length;
    const run = await cli(['restore', '--pod', 'gpu-placeholder', '--checkpoint-id', 'cuda-real-1', '-n', NS, '--timeout', '120s'], { timeoutMs: 140_000 });
    expect(run.code, await explain(run)).toBe(0);
    const c = (await calls()).slice(seen);
    const resume = c.filter((x) => x.op === 'resume');
    expect(resume).toHaveLength(1);
    const restored = resume[0]!.before![0]!;
    // Another host PID, the same PID inside the container, in the placeholder pod, and
    // "checkpointed" as the dump left it.
    expect(restored.pid).not.toBe(source!.pid);
    expect(restored.nsPid).toBe(source!.nsPid);
    expect(inPod(restored.cgroup, uid), restored.cgroup).toBe(true);
    expect(restored.cudaState).toBe('checkpointed');
    expect(resume[0]!.pairs).toEqual([[GPU(0), GPU(1)]]);
    expect(resume[0]!.gpus).toEqual([GPU(1)]);
    expect(resume[0]!.needBytes).toBe(GiB + 512 * 2 ** 20);
    const now = await ask('gpu-placeholder');
    expect(now).toMatchObject({ checksum: before?.checksum, warmups: 1, instance: before?.instance });
    const pod = await getJson(NS, 'pod', 'gpu-placeholder');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('completed');
    await kubectlOk(['delete', 'pod', 'gpu-placeholder', '-n', NS, '--wait=true']);
  }, 240_000);

  it('a placeholder whose GPU has too little free memory: refused before CRIU runs, the reason in the event, nothing restored', async () => {
    await placeholder('full-gpu', GPU(2));
    const seen = (await calls()).length;
    const run = await cli(['restore', '--pod', 'full-gpu', '--checkpoint-id', 'cuda-real-1', '-n', NS, '--timeout', '60s'], { timeoutMs: 80_000 });
    expect(run.code, await explain(run)).toBe(1);
    const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=full-gpu', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    expect(events).toMatch(/RestoreFailed: .*GPU 2 \(GPU-5a5a5a5a-0000-4000-8000-000000000002\) has 0\.50 GiB free and the checkpoint needs 1\.50 GiB/);
    expect((await calls()).slice(seen).map((x) => x.op)).not.toContain('resume');
    const pod = await getJson(NS, 'pod', 'full-gpu');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('failed');
    // criu never ran for it.
    expect(await agentLog(NS)).not.toMatch(new RegExp(`restoring pid \\d+ into ${NS}/full-gpu`));
  }, 180_000);
});
