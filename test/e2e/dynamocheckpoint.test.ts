/**
 * `checkpoint --identity` through the built binary on the dev cluster, whose
 * DynamoCheckpoint controller and snapshot agents do the work: created → Ready; a
 * second run reuses it; a failing agent → Failed (exit 1); Ctrl-C deletes what the run
 * created; `list` shows the dckpt row.
 */
import { describe, expect, it } from 'vitest';
import type { DevCluster } from '../../src/dev/cluster.js';
import { kv, runCli, setAgentFaults, useCluster, waitFor, writeManifest } from './harness.js';

const FLAGS = ['--model', 'Qwen/Qwen3-0.6B', '--backend-framework', 'vllm', '--dtype', 'bfloat16', '--max-model-len', '2048'];
/** `snapshotctl hash` of FLAGS. */
async function hashOf(): Promise<string> {
  const r = await runCli(['hash', ...FLAGS]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split(/\s+/)[0]!;
}

const dckpt = (c: DevCluster, name: string) => c.api.store.get('dynamocheckpoints.nvidia.com', c.namespace, name) as { status?: { phase?: string; message?: string } } | undefined;

describe('checkpoint --identity (DynamoCheckpoint)', () => {
  const cluster = useCluster();

  it('creates a DynamoCheckpoint that becomes Ready; a second run reuses it; list shows the dckpt row', async () => {
    const c = cluster();
    const hash = await hashOf();
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    const manifest = await writeManifest(c, 'w.yaml', () => {});

    const first = await runCli(['checkpoint', ...FLAGS, '--manifest', manifest, '--timeout', '30s'], { cluster: c, timeoutMs: 40_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(kv(first.stdout)).toEqual({
      status: 'completed',
      namespace: 'default',
      name: `ckpt-${hash}`,
      checkpoint_job: `checkpoint-job-${hash}-1`,
      checkpoint_id: hash,
      checkpoint_location: `/checkpoints/${hash}/versions/1`,
    });
    expect(dckpt(c, `ckpt-${hash}`)?.status?.phase).toBe('Ready');

    const second = await runCli(['checkpoint', ...FLAGS, '--manifest', manifest, '-o', 'json'], { cluster: c });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`reused dynamocheckpoint.nvidia.com/ckpt-${hash}`);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'completed', checkpointId: hash, dynamoCheckpoint: `ckpt-${hash}`, identityHash: hash, reused: true, checkpointJob: `checkpoint-job-${hash}-1` });
    expect(c.api.store.list('dynamocheckpoints.nvidia.com')).toHaveLength(1);

    const list = await runCli(['list', '-o', 'json'], { cluster: c });
    expect(list.code, list.stderr).toBe(0);
    const items = (JSON.parse(list.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(items.map((i) => [i['id'], i['source'], i['status'], i['phase'], i['dynamoCheckpoint'], i['identityHash'], i['job']])).toEqual([
      [hash, 'dckpt', 'completed', 'Ready', `ckpt-${hash}`, hash, `checkpoint-job-${hash}-1`],
    ]);
    const table = await runCli(['list'], { cluster: c });
    expect(table.stdout).toMatch(new RegExp(`^${hash}\\s+dckpt\\s+completed\\s`, 'm'));
  }, 120_000);

  it('a failing agent → Failed, exit 1 with the message; the DynamoCheckpoint and its Job are removed', async () => {
    const c = cluster();
    const hash = await hashOf();
    setAgentFaults(c, { failAll: true, failMessage: 'injected: criu dump failed' });
    const manifest = await writeManifest(c, 'w.yaml', () => {});
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', manifest, '--timeout', '30s'], { cluster: c, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(kv(r.stdout)['status']).toBe('failed');
    expect(r.stderr).toContain('injected: criu dump failed');
    await waitFor('the DynamoCheckpoint and its Job to be gone', () => dckpt(c, `ckpt-${hash}`) === undefined && c.api.store.get('jobs.batch', c.namespace, `checkpoint-job-${hash}-1`) === undefined, 15_000);
  }, 120_000);

  it('Ctrl-C while waiting → 130 and the DynamoCheckpoint this run created is deleted', async () => {
    const c = cluster();
    const hash = await hashOf();
    setAgentFaults(c, { silent: true });
    const manifest = await writeManifest(c, 'w.yaml', () => {});
    const r = await runCli(['checkpoint', ...FLAGS, '--manifest', manifest, '--timeout', '60s'], {
      cluster: c,
      timeoutMs: 60_000,
      signalAfter: { signal: 'SIGINT', when: () => dckpt(c, `ckpt-${hash}`)?.status?.phase === 'Creating' },
    });
    expect(r.code).toBe(130);
    expect(dckpt(c, `ckpt-${hash}`)).toBeUndefined();
  }, 120_000);
});
