/**
 * The checkpoint volume as the catalogue's source of truth, on a real cluster: the
 * storage scan runs as a real reader pod (busybox's sh, sed, du, stat in the node's
 * test image) on the real PVC, its listing comes back through the real pods/log; a
 * checkpoint whose Job was deleted with kubectl is listed, described, restored, and
 * `prune` removes it from the node's disk. The engine is `sim` (SIMULATED: it saves no
 * process state); the objects, pods and volume are real.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, CHECKPOINTS_DIR, TEST_IMAGE, cli, createPlaceholder, getJson, installNamespace, kubectlOk, kv, names, removeNamespace, waitFor, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `real-artifacts-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-'));
let worker = '';

beforeAll(async () => {
  await installNamespace(NS);
  worker = await writeWorker(dir, 'wa');
}, 180_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const helper = ['--helper-image', TEST_IMAGE];

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run);

interface Row {
  id: string;
  source: string;
  status: string;
  job: string | null;
  node: string | null;
  artifact: { state: string; versions: string[]; bytes: number | null } | null;
}

async function rows(): Promise<Row[]> {
  const r = await cli(['list', '-n', NS, '-o', 'json', ...helper]);
  expect(r.code, await explain(r)).toBe(0);
  expect(r.stderr).not.toMatch(/warning/);
  return (JSON.parse(r.stdout) as { items: Row[] }).items;
}

describe('artifacts outlive their Jobs, on a real cluster', () => {
  it('kubectl delete job: the artifact is listed as an orphan with its size, described, restorable; prune removes it from the node', async () => {
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'kept-real', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(run.code, await explain(run)).toBe(0);
    const listed = (await rows()).find((x) => x.id === 'kept-real');
    expect(listed).toMatchObject({ source: 'job', status: 'completed', artifact: { state: 'present', versions: ['1'] } });

    await kubectlOk(['delete', 'job', 'wa-checkpoint', '-n', NS, '--cascade=foreground', '--wait=true']);
    const orphan = (await rows()).find((x) => x.id === 'kept-real');
    expect(orphan).toMatchObject({ source: 'orphan', status: 'completed', job: null, artifact: { state: 'present', versions: ['1'] } });
    expect(orphan?.artifact?.bytes).toBeGreaterThan(0);
    expect(orphan?.node).toBeTruthy();

    const described = await cli(['describe', 'kept-real', '-n', NS, ...helper]);
    expect(described.code, await explain(described)).toBe(0);
    expect(described.stdout).toMatch(/Source:\s+orphan/);
    expect(described.stdout).toMatch(/checkpointId: kept-real/);

    const restored = await cli(['restore', '--manifest', worker, '--checkpoint-id', 'kept-real', '-n', NS, ...helper, '--timeout', '90s']);
    expect(restored.code, await explain(restored)).toBe(0);
    expect(kv(restored.stdout)['status']).toBe('completed');

    // Referenced by a running restore pod: prune keeps it, delete explains.
    const kept = await cli(['prune', '-n', NS, '--older-than', '0', '-y', ...helper]);
    expect(kept.code, await explain(kept)).toBe(0);
    expect(kept.stdout).toMatch(/^no orphaned artifacts in namespace/);
    const refused = await cli(['delete', 'kept-real', '-n', NS, '-y', ...helper]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/restore pod wa runs from it; --keep-artifacts deletes only its Job/);

    await kubectlOk(['delete', 'pod', 'wa', '-n', NS, '--wait=true']);
    const dry = await cli(['prune', '-n', NS, '--older-than', '0', '--dry-run', ...helper]);
    expect(dry.stdout).toMatch(/^would remove \/checkpoints\/kept-real \(version 1, /);
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'kept-real'))).toBe(true);
    const pruned = await cli(['prune', '-n', NS, '--older-than', '0', '-y', ...helper]);
    expect(pruned.code, await explain(pruned)).toBe(0);
    expect(pruned.stdout).toMatch(/^removed \/checkpoints\/kept-real /);
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'kept-real'))).toBe(false);
    expect((await rows()).map((x) => x.id)).not.toContain('kept-real');
    // No reader or remover pod is left on the real server.
    await waitFor('helper pods gone', async () => !(await names(NS, 'pods')).some((n) => n.startsWith('snapshotctl-')), 30_000, 500);
  }, 300_000);

  it('a reader image the node does not have: list still answers from the cluster objects, with a warning naming --helper-image', async () => {
    const r = await cli(['list', '-n', NS, '-o', 'name', '--helper-image', 'registry.invalid/none:1', '--timeout', '60s']);
    expect(r.code, await explain(r)).toBe(0);
    expect(r.stderr).toMatch(/did not list the checkpoint volume .*--helper-image/s);
    await waitFor('the reader pod gone', async () => !(await names(NS, 'pods')).some((n) => n.startsWith('snapshotctl-reader-')), 30_000, 500);
  }, 120_000);

  it('a mistyped restore ID fails in seconds naming the closest ID, with nothing created', async () => {
    const w = await writeWorker(dir, 'wt');
    const run = await cli(['checkpoint', '--manifest', w, '--checkpoint-id', 'typo-base', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(run.code, await explain(run)).toBe(0);
    const before = (await names(NS, 'pods')).sort();
    const started = Date.now();
    const r = await cli(['restore', '--manifest', w, '--checkpoint-id', 'typo-bsae', '-n', NS, ...helper, '--timeout', '5m']);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, await explain(r)).toBe(1);
    expect(r.stderr).toMatch(/no checkpoint "typo-bsae" to restore .*did you mean "typo-base"\?/s);
    expect(seconds).toBeLessThan(20);
    await waitFor('no new pod left', async () => JSON.stringify((await names(NS, 'pods')).sort()) === JSON.stringify(before), 30_000, 500);
  }, 180_000);

  it('a worker is checkpointed again under a new ID while the pod restored from its first checkpoint keeps running', async () => {
    const w = await writeWorker(dir, 'wg');
    const first = await cli(['checkpoint', '--manifest', w, '--checkpoint-id', 'gen-a', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(first.code, await explain(first)).toBe(0);
    await createPlaceholder(NS, 'phg');
    const restored = await cli(['restore', '--pod', 'phg', '--checkpoint-id', 'gen-a', '-n', NS, ...helper, '--timeout', '90s']);
    expect(restored.code, await explain(restored)).toBe(0);
    const uid = (await getJson(NS, 'pod', 'phg'))?.['metadata'].uid;

    const blocked = await cli(['checkpoint', '--manifest', w, '--checkpoint-id', 'gen-b', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain(`snapshotctl delete gen-a --keep-artifacts -y -n ${NS}`);
    const kept = await cli(['delete', 'gen-a', '--keep-artifacts', '-y', '-n', NS]);
    expect(kept.code, await explain(kept)).toBe(0);
    const second = await cli(['checkpoint', '--manifest', w, '--checkpoint-id', 'gen-b', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(second.code, await explain(second)).toBe(0);

    const pod = await getJson(NS, 'pod', 'phg');
    expect(pod?.['metadata'].uid).toBe(uid);
    expect(pod?.['status'].phase).toBe('Running');
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'gen-a', 'versions', '1', 'manifest.yaml'))).toBe(true);
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'gen-b', 'versions', '1', 'manifest.yaml'))).toBe(true);
    const listed = await rows();
    expect(listed.find((x) => x.id === 'gen-a')).toMatchObject({ source: 'restore', artifact: { state: 'present' } });
    expect(listed.find((x) => x.id === 'gen-b')).toMatchObject({ source: 'job', status: 'completed', artifact: { state: 'present' } });
    await kubectlOk(['delete', 'pod', 'phg', '-n', NS, '--wait=true']);
  }, 300_000);

  it('three pods checkpointed under one ID at once: one completes, the others fail saying why, one artifact', async () => {
    const files = await Promise.all([0, 1, 2].map((i) => writeWorker(dir, `race-${i}`)));
    const runs = await Promise.all(files.map((f) => cli(['checkpoint', '--manifest', f, '--checkpoint-id', 'contested-real', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '120s', '-o', 'json'])));
    const told = runs.map((r, i) => `race-${i}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`).join('\n');
    const winners = runs.filter((r) => r.code === 0);
    expect(winners.length, told).toBe(1);
    expect(JSON.parse(winners[0]!.stdout).status).toBe('completed');
    for (const r of runs.filter((x) => x.code !== 0)) {
      expect([1, 3], told).toContain(r.code);
      expect(r.stderr).toMatch(/already used in namespace .* by job\.batch\/race-\d-checkpoint|is being written by job\.batch\/race-\d-checkpoint|already has an artifact|was published by another checkpoint first/);
    }
    expect(existsSync(join(CHECKPOINTS_DIR, NS, 'contested-real', 'versions', '1', 'manifest.yaml'))).toBe(true);
  }, 300_000);
});
