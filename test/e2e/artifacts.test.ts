/**
 * The artifacts on the checkpoint volume are the catalogue's source of truth: after
 * every way a checkpoint Job can disappear, its artifact is listed (as an orphan),
 * restorable and deletable, and `prune` removes it; a worker can be checkpointed again
 * while pods restored from its first checkpoint keep running.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPlaceholder, kvLines, leftovers, runCli, setAgentFaults, useCluster, waitFor, WORKER_MANIFEST } from './harness.js';
import type { DevCluster } from '../../src/dev/cluster.js';

interface Row {
  id: string;
  source: string;
  status: string;
  job: string | null;
  artifact: { state: string; versions: string[]; bytes: number | null } | null;
  restores: { total: number };
}

async function listRows(c: DevCluster): Promise<Row[]> {
  const r = await runCli(['list', '-o', 'json'], { cluster: c });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { items: Row[] }).items;
}

async function checkpoint(c: DevCluster, id: string, extra: string[] = []): Promise<void> {
  const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', id, '--timeout', '30s', ...extra], { cluster: c });
  expect(r.code, r.stderr).toBe(0);
}

/** The artifact is listed as an orphan, restores, and `delete` removes it from the volume. */
async function listedRestorableDeletable(c: DevCluster, id: string): Promise<void> {
  const row = (await listRows(c)).find((x) => x.id === id);
  expect(row).toMatchObject({ id, source: 'orphan', status: 'completed', job: null, artifact: { state: 'present', versions: ['1'] } });
  const restored = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', id, '--timeout', '30s'], { cluster: c });
  expect(restored.code, restored.stderr).toBe(0);
  expect(kvLines(restored.stdout)[0]).toBe('status=completed');
  // The restore pod runs from it now: delete explains instead of deleting it.
  const refused = await runCli(['delete', id, '-y'], { cluster: c });
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/runs from it; --keep-artifacts deletes only its Job .* --force deletes that pod and the artifact too/);
  expect(existsSync(join(c.storageRoot, id))).toBe(true);
  const gone = await runCli(['delete', id, '-y', '--force'], { cluster: c });
  expect(gone.code, gone.stderr).toBe(0);
  expect(gone.stdout).toMatch(new RegExp(`checkpoint "${id}" deleted \\(pod/vllm-worker, artifacts:/checkpoints/${id}\\)`));
  expect(existsSync(join(c.storageRoot, id))).toBe(false);
  expect((await listRows(c)).map((x) => x.id)).not.toContain(id);
}

describe('artifacts outlive their Jobs', () => {
  const cluster = useCluster();

  it('delete --keep-artifacts: the artifact stays listed, restorable and deletable', async () => {
    const c = cluster();
    await checkpoint(c, 'kept');
    const r = await runCli(['delete', 'kept', '-y', '--keep-artifacts'], { cluster: c });
    expect(r.stdout).toBe('checkpoint "kept" deleted (job.batch/vllm-worker-checkpoint)\n');
    await listedRestorableDeletable(c, 'kept');
  });

  it('kubectl delete job (or a TTL, which deletes through the same API): the artifact stays listed, restorable and deletable', async () => {
    const c = cluster();
    await checkpoint(c, 'by-hand');
    c.api.store.delete('jobs', 'default', 'vllm-worker-checkpoint');
    await waitFor('the Job gone', () => c.api.store.get('jobs', 'default', 'vllm-worker-checkpoint') === undefined);
    await listedRestorableDeletable(c, 'by-hand');
  });

  it('a checkpoint that timed out while its agent finished late: the CLI removed its Job, the artifact is an orphan', async () => {
    const c = cluster();
    setAgentFaults(c, { delayMs: 4000 });
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'late', '--timeout', '2s'], { cluster: c });
    expect(r.code).toBe(4);
    await waitFor('the late artifact published', () => existsSync(join(c.storageRoot, 'late', 'versions', '1', 'manifest.yaml')), 15_000);
    setAgentFaults(c, { delayMs: 0 });
    await waitFor('the Job gone', () => c.api.store.get('jobs', 'default', 'vllm-worker-checkpoint') === undefined, 15_000);
    await listedRestorableDeletable(c, 'late');
  }, 60_000);

  it('prune: orphans older than --older-than go (dry run first), younger ones and referenced ones stay; nothing is left behind', async () => {
    const c = cluster();
    await checkpoint(c, 'orphan-a');
    expect((await runCli(['delete', 'orphan-a', '-y', '--keep-artifacts'], { cluster: c })).code).toBe(0);
    await checkpoint(c, 'still-used');
    const before = leftovers(c);

    const young = await runCli(['prune', '--dry-run'], { cluster: c });
    expect(young.code).toBe(0);
    expect(young.stdout).toBe('no orphaned artifacts older than 1h in namespace "default"; nothing would be removed\nkept 1 younger orphan (orphan-a); --older-than 0 includes them\n');
    const dry = await runCli(['prune', '--dry-run', '--older-than', '0', '-o', 'json'], { cluster: c });
    const plan = JSON.parse(dry.stdout) as { dryRun: boolean; removed: Array<{ id: string; path: string }>; complete: boolean };
    expect(plan).toMatchObject({ dryRun: true, complete: true, removed: [{ id: 'orphan-a', path: '/checkpoints/orphan-a' }] });
    expect(existsSync(join(c.storageRoot, 'orphan-a'))).toBe(true);

    const noYes = await runCli(['prune', '--older-than', '0'], { cluster: c });
    expect(noYes.code).toBe(2);
    expect(existsSync(join(c.storageRoot, 'orphan-a'))).toBe(true);

    const r = await runCli(['prune', '--older-than', '0', '-y'], { cluster: c });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^removed \/checkpoints\/orphan-a \(version 1, [\d.]+Ki, from \S+\)\nfreed [\d.]+Ki in 1 artifact\n$/);
    expect(readdirSync(c.storageRoot).sort()).toEqual(['still-used']);
    expect(leftovers(c)).toEqual(before);
  }, 60_000);

  it('a worker is checkpointed again under a new ID while a pod restored from the first keeps running', async () => {
    const c = cluster();
    await checkpoint(c, 'gen-1');
    const placeholder = await createPlaceholder(c);
    const name = placeholder.metadata.name ?? '';
    const restored = await runCli(['restore', '--pod', name, '--checkpoint-id', 'gen-1', '--timeout', '30s'], { cluster: c });
    expect(restored.code, restored.stderr).toBe(0);
    const uid = c.api.store.mustGet('pods', 'default', name).metadata.uid;

    // The Job's name is the pod's: a second checkpoint says how to go on.
    const again = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'gen-2', '--timeout', '30s'], { cluster: c });
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/job\.batch "vllm-worker-checkpoint" already exists .*checkpoint ID "gen-1", completed/);
    expect(again.stderr).toContain('`snapshotctl delete gen-1 --keep-artifacts -y -n default`');

    expect((await runCli(['delete', 'gen-1', '--keep-artifacts', '-y'], { cluster: c })).code).toBe(0);
    await checkpoint(c, 'gen-2');
    const pod = c.api.store.mustGet('pods', 'default', name);
    expect(pod.metadata.uid).toBe(uid);
    expect((pod.status as { phase?: string }).phase).toBe('Running');
    const rows = await listRows(c);
    expect(rows.find((x) => x.id === 'gen-1')).toMatchObject({ source: 'restore', artifact: { state: 'present' }, restores: { total: 1 } });
    expect(rows.find((x) => x.id === 'gen-2')).toMatchObject({ source: 'job', status: 'completed', artifact: { state: 'present' } });
    // -l selects by the worker manifest's labels (on the Job's pod template); gen-1 has no Job now.
    expect((await runCli(['list', '-l', 'app=vllm-worker', '-o', 'name'], { cluster: c })).stdout).toBe('checkpoint/gen-2\n');
    expect((await runCli(['list', '-l', 'app=other', '-o', 'name'], { cluster: c })).stdout).toBe('');

    // The restored pod goes away: describe still tells of that restore, from the agent's event.
    c.api.store.delete('pods', 'default', name);
    await waitFor('the restored pod gone', () => c.api.store.get('pods', 'default', name) === undefined);
    const d = await runCli(['describe', 'gen-1', '-o', 'json'], { cluster: c });
    expect(d.code, d.stderr).toBe(0);
    const described = JSON.parse(d.stdout) as { checkpoint: Row; restores: Array<Record<string, unknown>> };
    expect(described.checkpoint).toMatchObject({ source: 'orphan', artifact: { state: 'present' } });
    expect(described.restores).toEqual([expect.objectContaining({ pod: name, status: 'completed', fromEvent: true, node: 'node-1' })]);
  }, 60_000);
});
