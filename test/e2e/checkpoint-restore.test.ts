/**
 * The happy paths through the built binary: checkpoint, restore from a manifest,
 * restore in place, and a v1.0.x command line, each on a fresh dev cluster.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPlaceholder, kvLines, leftovers, runCli, useCluster, WORKER_MANIFEST } from './harness.js';

const ID = 'e2e-ckpt-1';

/** The six v1.0.x lines of a completed checkpoint (docs/protocol.md §10). */
function checkpointLines(id: string): string[] {
  return [
    'status=completed',
    'namespace=default',
    'name=vllm-worker',
    'checkpoint_job=vllm-worker-checkpoint',
    `checkpoint_id=${id}`,
    `checkpoint_location=/checkpoints/${id}/versions/1`,
  ];
}

describe('checkpoint and restore, happy paths', () => {
  const cluster = useCluster();

  it('checkpoint: exit 0, the six v1.0.x lines, the Job marked completed, the artifact written', async () => {
    const c = cluster();
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(checkpointLines(ID).join('\n') + '\n');

    const job = c.api.store.get('jobs', 'default', 'vllm-worker-checkpoint');
    expect(job?.metadata.annotations?.['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
    expect(job?.metadata.labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': ID });

    const artifact = join(c.storageRoot, ID, 'versions', '1', 'manifest.yaml');
    expect(existsSync(artifact)).toBe(true);
    const written = parse(readFileSync(artifact, 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(written)).toContain(ID);
    // A completed checkpoint keeps its Job (as v1.0.x does); nothing else was created.
    expect(leftovers(c).filter((n) => !n.startsWith('pod/default/vllm-worker-checkpoint-'))).toEqual(['job.batch/default/vllm-worker-checkpoint']);
  });

  it('restore --manifest after a checkpoint: exit 0, six lines with restore_pod=', async () => {
    const c = cluster();
    const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c });
    expect(ck.code).toBe(0);

    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)).toEqual([
      'status=completed',
      'namespace=default',
      'name=vllm-worker',
      'restore_pod=vllm-worker',
      `checkpoint_id=${ID}`,
      `checkpoint_location=/checkpoints/${ID}/versions/1`,
    ]);
    const pod = c.api.store.get('pods', 'default', 'vllm-worker');
    expect(pod?.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(pod?.metadata.labels?.['nvidia.com/snapshot-is-restore-target']).toBe('true');
    expect(pod?.spec.containers[0].command).toEqual(['sleep', 'infinity']);
  });

  it('restore --pod into a Running placeholder: exit 0, the pod restored in place', async () => {
    const c = cluster();
    const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c });
    expect(ck.code).toBe(0);
    const before = await createPlaceholder(c);

    const r = await runCli(['restore', '--pod', 'vllm-placeholder', '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)).toEqual([
      'status=completed',
      'namespace=default',
      'name=vllm-placeholder',
      'restore_pod=vllm-placeholder',
      `checkpoint_id=${ID}`,
      `checkpoint_location=/checkpoints/${ID}/versions/1`,
    ]);
    const pod = c.api.store.get('pods', 'default', 'vllm-placeholder');
    expect(pod?.metadata.uid).toBe(before.metadata.uid);
    expect(pod?.metadata.labels?.['nvidia.com/snapshot-checkpoint-id']).toBe(ID);
    expect(pod?.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBe('completed');
  });

  it('accepts a v1.0.x command line (-flag spellings, Go duration, KUBECONFIG from the environment)', async () => {
    const c = cluster();
    const r = await runCli(['checkpoint', '-manifest', WORKER_MANIFEST, '-namespace', 'default', '-timeout', '1m30s', '-checkpoint-id', 'v1-style'], {
      kubeconfig: false,
      env: { KUBECONFIG: c.kubeconfigPath },
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(checkpointLines('v1-style').join('\n') + '\n');
    expect(c.api.store.get('jobs', 'default', 'vllm-worker-checkpoint')?.metadata.annotations?.['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
  });
});
