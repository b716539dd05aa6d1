/**
 * The CLI's flows against a real Kubernetes (kube-apiserver, scheduler, controller-manager,
 * a kubelet node on containerd) with our agent as a DaemonSet on that node. The engine
 * is `sim` (SIMULATED: it saves no process state); the objects, the wire contract, the
 * scheduling, the probes and the containers are real.
 *
 * Wire keys are spelt out here as docs/protocol.md writes them, not taken from src/protocol,
 * so a broken constant fails this lane even though the CLI and the agent would agree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentLog, CHECKPOINTS_DIR, TEST_IMAGE, cli, createPlaceholder, getJson, installNamespace, kubectl, kubectlOk, kv, names, removeNamespace, waitFor, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `real-flows-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-'));
let worker = '';

beforeAll(async () => {
  await installNamespace(NS);
  worker = await writeWorker(dir, 'w1');
}, 180_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const common = ['-n', NS, '--disable-cuda-checkpoint-job-file'];

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run);

describe('on a real cluster with our agent as a DaemonSet', () => {
  it('checkpoint: exit 0, the real Job carries the wire labels, the agent marked it completed, the artifact is on the node, the worker got SIGUSR1', async () => {
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'real-1', ...common, '--timeout', '90s']);
    expect(run.code, await explain(run)).toBe(0);
    const out = kv(run.stdout);
    expect(out).toMatchObject({ status: 'completed', namespace: NS, name: 'w1', checkpoint_job: 'w1-checkpoint', checkpoint_id: 'real-1' });
    expect(out['checkpoint_location']).toBe('/checkpoints/real-1/versions/1');

    const job = await getJson(NS, 'job', 'w1-checkpoint');
    expect(job?.['metadata'].labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': 'real-1' });
    expect(job?.['metadata'].annotations['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
    expect(job?.['spec'].backoffLimit).toBe(0);
    const tpl = job?.['spec'].template;
    expect(tpl.metadata.labels['nvidia.com/snapshot-is-checkpoint-source']).toBe('true');
    expect(tpl.metadata.annotations['nvidia.com/snapshot-artifact-version']).toBe('1');
    expect(tpl.spec.securityContext.seccompProfile).toEqual({ type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' });

    const manifest = parse(readFileSync(join(CHECKPOINTS_DIR, NS, 'real-1/versions/1/manifest.yaml'), 'utf8')) as Record<string, any>;
    expect(JSON.stringify(manifest)).toContain('real-1');
    // The agent's SIGUSR1 went through containerd to the real container's process.
    await waitFor('the worker to log its SIGUSR1', async () => /got SIGUSR1/.test((await kubectl(['logs', '-n', NS, '-l', 'job-name=w1-checkpoint'])).stdout), 30_000, 500);
    const events = await kubectlOk(['get', 'events', '-n', NS, '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
    expect(events).toMatch(/CheckpointRequested/);
    expect(events).toMatch(/CheckpointSucceeded/);
  }, 180_000);

  it('list and describe see it on the real server', async () => {
    const list = await cli(['list', '-n', NS, '-o', 'json']);
    expect(list.code, await explain(list)).toBe(0);
    expect(list.stdout).toContain('real-1');
    // The reader pod runs an image the node has (no registry here).
    const describe = await cli(['describe', 'real-1', '-n', NS, '--helper-image', TEST_IMAGE]);
    expect(describe.code, await explain(describe)).toBe(0);
    expect(describe.stdout).toMatch(/completed/);
  }, 120_000);

  it('restore --manifest: a new pod on the agent node, Ready through its own probe, marked completed', async () => {
    const run = await cli(['restore', '--manifest', worker, '--checkpoint-id', 'real-1', '-n', NS, '--timeout', '90s']);
    expect(run.code, await explain(run)).toBe(0);
    expect(kv(run.stdout)['status']).toBe('completed');
    const pod = await getJson(NS, 'pod', 'w1');
    expect(pod?.['metadata'].labels['nvidia.com/snapshot-is-restore-target']).toBe('true');
    expect(pod?.['metadata'].labels['nvidia.com/snapshot-checkpoint-id']).toBe('real-1');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(pod?.['spec'].containers[0].command).toEqual(['sleep', 'infinity']);
    expect(pod?.['spec'].volumes.some((v: any) => v.name === 'checkpoint-storage' && v.persistentVolumeClaim?.claimName === 'snapshot-pvc')).toBe(true);
    expect(pod?.['status'].conditions.find((c: any) => c.type === 'Ready')?.status).toBe('True');
    await kubectlOk(['delete', 'pod', 'w1', '-n', NS, '--wait=true']);
  }, 180_000);

  it('restore --pod into a running placeholder, then again: the stale verdict is removed and a new one awaited', async () => {
    await createPlaceholder(NS, 'ph1');
    const first = await cli(['restore', '--pod', 'ph1', '--checkpoint-id', 'real-1', '-n', NS, '--timeout', '90s']);
    expect(first.code, await explain(first)).toBe(0);
    const pod = await getJson(NS, 'pod', 'ph1');
    expect(pod?.['metadata'].annotations['nvidia.com/snapshot-restore-status']).toBe('completed');
    // A second restore must not take the first one's `completed` as its own: the CLI
    // removes the stale verdict, and only the agent's second restore completes it.
    const succeeded = async () =>
      (await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=ph1,reason=RestoreSucceeded', '-o', 'jsonpath={range .items[*]}{.count}{"\\n"}{end}']))
        .split('\n')
        .filter(Boolean)
        .reduce((n, c) => n + Number(c), 0);
    expect(await succeeded()).toBe(1);
    const again = await cli(['restore', '--pod', 'ph1', '--checkpoint-id', 'real-1', '-n', NS, '--timeout', '90s']);
    expect(again.code, await explain(again)).toBe(0);
    expect(await succeeded()).toBe(2);
  }, 180_000);

  it('--dry-run=server: the real server validates the Job and stores nothing', async () => {
    const w2 = await writeWorker(dir, 'w2');
    const run = await cli(['checkpoint', '--manifest', w2, '--checkpoint-id', 'real-dry', ...common, '--dry-run=server']);
    expect(run.code, await explain(run)).toBe(0);
    expect(await names(NS, 'jobs')).not.toContain('w2-checkpoint');
  }, 120_000);

  it('a worker that never gets Ready: --timeout exits 4 and the Job and its pod are gone from the real server', async () => {
    const w3 = await writeWorker(dir, 'w3', (pod) => {
      pod['spec'].containers[0].command = ['sh', '-c', 'while :; do sleep 1; done'];
    });
    const run = await cli(['checkpoint', '--manifest', w3, '--checkpoint-id', 'real-never', ...common, '--timeout', '8s']);
    expect(run.code, await explain(run)).toBe(4);
    await waitFor('the Job and its pod gone', async () => !(await names(NS, 'jobs')).includes('w3-checkpoint') && !(await names(NS, 'pods')).some((n) => n.startsWith('w3-checkpoint')), 60_000, 500);
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'real-never'))).toBe(false);
  }, 180_000);

  it('delete refuses while a restored pod runs from the checkpoint, then removes it', async () => {
    const refused = await cli(['delete', 'real-1', '-n', NS, '-y']);
    expect(refused.code, await explain(refused)).toBe(1);
    expect(refused.stdout).toMatch(/ph1 runs from it; --keep-artifacts deletes only its Job/);
    await kubectlOk(['delete', 'pod', 'ph1', '-n', NS, '--wait=true']);
    const run = await cli(['delete', 'real-1', '-n', NS, '-y', '--artifacts', '--helper-image', TEST_IMAGE]);
    expect(run.code, await explain(run)).toBe(0);
    expect(await names(NS, 'jobs')).not.toContain('w1-checkpoint');
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'real-1'))).toBe(false);
    const list = await cli(['list', '-n', NS, '-o', 'json']);
    expect(list.stdout).not.toContain('"real-1"');
  }, 120_000);
});
