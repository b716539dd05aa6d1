/**
 * The criu engine on a real node: our agent (`--runtime containerd --engine criu`)
 * dumps the CPU sample worker (manifests/samples/cpu-worker-real.yaml) with CRIU run
 * inside its container's namespaces and restores it into placeholder pods, as
 * docs/agent.md describes ("CRIU on a real node"). What is checked goes through the restored process itself:
 * `kubectl exec` into the placeholder asks the worker's TCP server for its checksum
 * (recomputed over its memory), which must equal the one taken before the checkpoint,
 * with warmups still 1 and the same instance ID; `kubectl logs` of the placeholder
 * shows the restored worker's lines.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { agentLog, apply, CHECKPOINTS_DIR, cli, createPlaceholder, getJson, installNamespace, kubectl, kubectlOk, kv, removeNamespace, sampleManifest, waitFor, WORKER_IMAGE } from './harness.js';
import { explainRun } from './harness.js';

const NS = `criu-real-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-criu-'));
const PORT = 18080;

/** A sample manifest for this node; the worker holds a file in /dev/shm open (the restore needs the agent's copy). */
function sample(file: string, name: string): string {
  return sampleManifest(dir, file, name, (pod) => {
    if (file === 'cpu-worker-real.yaml') pod['spec'].containers[0].env.push({ name: 'CPU_WORKER_SHM', value: '1' });
  });
}

interface Answer {
  checksum: string;
  shm?: string;
  warmupChecksum: string;
  warmups: number;
  instance: string;
  pid: number;
}

/** Ask the worker in `pod` for its checksum, from inside the pod (busybox nc). */
async function ask(pod: string): Promise<Answer> {
  const out = await kubectlOk(['exec', '-n', NS, pod, '--', 'sh', '-c', `echo checksum | nc 127.0.0.1 ${PORT}`]);
  return JSON.parse(out.trim().split('\n').pop() ?? '') as Answer;
}

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run, true);

let worker = '';
let before: Answer | undefined;

beforeAll(async () => {
  await installNamespace(NS, { agentArgs: ['--engine=criu'] });
  worker = sample('cpu-worker-real.yaml', 'cpu-worker');
}, 300_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('the criu engine on a real node (containerd)', () => {
  it('checkpoint: CRIU dumps the worker inside its container; the Job completes after SIGUSR1', async () => {
    const run = cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'cpu-real-1', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '150s'], { timeoutMs: 170_000 });
    // The answer before the checkpoint, from the Job's pod while it runs.
    await waitFor(
      'the checkpoint pod to be Ready',
      async () => {
        const r = await kubectl(['get', 'pods', '-n', NS, '-l', 'job-name=cpu-worker-checkpoint', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}']);
        return r.stdout.trim() === 'True';
      },
      120_000,
      250,
    );
    const podName = (await kubectlOk(['get', 'pods', '-n', NS, '-l', 'job-name=cpu-worker-checkpoint', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    // The agent dumps as soon as the pod is Ready, so the source's own log (written
    // before the checkpoint) is the reference; an answer over TCP, when it comes in
    // time, must agree with it.
    const asked = await ask(podName).catch(() => undefined);
    const done = await run;
    expect(done.code, await explain(done)).toBe(0);
    expect(kv(done.stdout)['status']).toBe('completed');
    const sourceLog = (await kubectl(['logs', '-n', NS, podName])).stdout;
    const warm = /warm-up 1 \(instance ([0-9a-f]+), pid (\d+)\)/.exec(sourceLog);
    const sum = /warm-up done in [\d.]+ s, checksum ([0-9a-f]{64})/.exec(sourceLog);
    expect(warm && sum, sourceLog).toBeTruthy();
    before = { checksum: sum?.[1] ?? '', warmupChecksum: sum?.[1] ?? '', warmups: 1, instance: warm?.[1] ?? '', pid: Number(warm?.[2]) };
    if (asked) expect(asked).toMatchObject(before);
    expect(before.pid).toBeGreaterThanOrEqual(1000);

    const artifact = join(CHECKPOINTS_DIR, NS, 'cpu-real-1/versions/1');
    const manifest = parse(readFileSync(join(artifact, 'manifest.yaml'), 'utf8')) as Record<string, any>;
    expect(manifest['engine']).toMatchObject({ name: 'criu', simulated: false });
    expect(manifest['engine'].details).toMatchObject({ mode: 'container', leftRunning: true });
    expect(readFileSync(join(artifact, 'rootfs/tmp/ready-for-checkpoint'), 'utf8').trim()).toBe(before?.warmupChecksum);
    // worker-init passed SIGUSR1 on and exited with the worker: the Job completes.
    await waitFor('the Job to complete', async () => ((await getJson(NS, 'job', 'cpu-worker-checkpoint'))?.['status']?.succeeded ?? 0) >= 1, 60_000, 500);
    expect((await kubectl(['logs', '-n', NS, podName])).stdout).toMatch(/SIGUSR1: exiting/);
  }, 240_000);

  it('restore --manifest: the restored process answers with the same checksum, warmups 1, and logs to the new pod', async () => {
    await kubectl(['delete', 'job', 'cpu-worker-checkpoint', '-n', NS, '--cascade=foreground', '--wait=true']);
    // No Job left: restore finds the artifact through a reader pod of this node's image.
    const run = await cli(['restore', '--manifest', worker, '--checkpoint-id', 'cpu-real-1', '-n', NS, '--helper-image', WORKER_IMAGE, '--timeout', '120s'], { timeoutMs: 140_000 });
    expect(run.code, await explain(run)).toBe(0);
    const pod = await getJson(NS, 'pod', 'cpu-worker');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(pod?.['spec'].containers[0].command).toEqual(['sleep', 'infinity']);
    const now = await ask('cpu-worker');
    expect(now.checksum).toBe(before?.checksum);
    expect(now.warmups).toBe(1);
    expect(now.instance).toBe(before?.instance);
    expect(now.pid).toBe(before?.pid);
    // The /dev/shm file it held open came along (copied while the source was stopped).
    expect(now.shm).toBe(before?.checksum);
    const ps = await kubectlOk(['exec', '-n', NS, 'cpu-worker', '--', 'ps']);
    expect(ps).toMatch(/^\s*1 .*sleep infinity/m);
    expect(ps).toMatch(new RegExp(`^\\s*${before?.pid} .*worker\\.mjs`, 'm'));
    await waitFor('the restored worker in kubectl logs', async () => new RegExp(`served \\d+ \\(checksum\\) as instance ${before?.instance}`).test((await kubectl(['logs', '-n', NS, 'cpu-worker'])).stdout), 15_000, 250);
    await kubectlOk(['delete', 'pod', 'cpu-worker', '-n', NS, '--wait=true']);
  }, 240_000);

  it('restore --pod into a running placeholder: same checksum and warm-ups, Ready by its own probe, its log shows the worker', async () => {
    const ph = parse(readFileSync(sample('cpu-placeholder-real.yaml', 'cpu-placeholder'), 'utf8')) as Record<string, any>;
    await apply(NS, [ph]);
    await waitFor('the placeholder to run', async () => (await getJson(NS, 'pod', 'cpu-placeholder'))?.['status']?.phase === 'Running', 60_000, 250);
    const run = await cli(['restore', '--pod', 'cpu-placeholder', '--checkpoint-id', 'cpu-real-1', '-n', NS, '--timeout', '120s'], { timeoutMs: 140_000 });
    expect(run.code, await explain(run)).toBe(0);
    const pod = await getJson(NS, 'pod', 'cpu-placeholder');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(pod?.['status'].conditions.find((c: any) => c.type === 'Ready')?.status).toBe('True');
    const now = await ask('cpu-placeholder');
    expect(now.checksum).toBe(before?.checksum);
    expect(now.warmups).toBe(1);
    expect(now.instance).toBe(before?.instance);
    expect(now.shm).toBe(before?.checksum);
    await waitFor('the restored worker in kubectl logs', async () => new RegExp(`served \\d+ \\(checksum\\) as instance ${before?.instance}`).test((await kubectl(['logs', '-n', NS, 'cpu-placeholder'])).stdout), 15_000, 250);
    const events = await kubectlOk(['get', 'events', '-n', NS, '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
    expect(events).toMatch(/RestoreSucceeded/);
  }, 240_000);

  it('a placeholder whose image has no criu: RestoreFailed carries the reason and the placeholder is stopped', async () => {
    await createPlaceholder(NS, 'no-criu');
    const run = await cli(['restore', '--pod', 'no-criu', '--checkpoint-id', 'cpu-real-1', '-n', NS, '--timeout', '60s'], { timeoutMs: 80_000 });
    expect(run.code, await explain(run)).not.toBe(0);
    const pod = await getJson(NS, 'pod', 'no-criu');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('failed');
    const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=no-criu', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    expect(events).toMatch(/RestoreFailed: restore of checkpoint cpu-real-1 failed: criu restore failed .*no criu on its PATH/);
    // criu's (here nsenter's) own last lines come with it.
    expect(events).toMatch(/its output \(no log was written\):\nnsenter: (can't execute 'criu'|failed to execute criu)/);
  }, 180_000);

  it('a worker that is its container\'s PID 1: CheckpointFailed names why', async () => {
    const bad = parse(readFileSync(sample('cpu-worker-real.yaml', 'pid1-worker'), 'utf8')) as Record<string, any>;
    bad['spec'].containers[0].command = ['node', '/opt/snapshotctl/manifests/samples/cpu-worker/worker.mjs'];
    const path = join(dir, 'pid1-worker.yaml');
    writeFileSync(path, stringify(bad));
    const run = await cli(['checkpoint', '--manifest', path, '--checkpoint-id', 'cpu-real-pid1', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '120s'], { timeoutMs: 140_000 });
    expect(run.code, await explain(run)).not.toBe(0);
    const events = await kubectlOk(['get', 'events', '-n', NS, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    expect(events).toMatch(/CheckpointFailed: .*PID 1.*worker-init/);
  }, 180_000);
});
