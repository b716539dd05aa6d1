/**
 * The catalogue commands through the built binary on a dev cluster: after two
 * checkpoints and three restores, `list` shows exactly the right rows and counts,
 * `describe` shows the agent's events and the artifact manifest (read by a reader pod
 * that is gone afterwards), and `delete` removes only what it should.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DevCluster } from '../../src/dev/cluster.js';
import type { KubeObject } from '../../src/protocol/types.js';
import { leftovers, runCli, sleep, useCluster, writeManifest } from './harness.js';

/** Name the pod and drop its GPU request: restored workers keep running and the dev nodes have one GPU each. */
function named(name: string) {
  return (p: KubeObject) => {
    p.metadata = { ...p.metadata, name };
    const spec = p['spec'] as { containers?: Array<Record<string, unknown>> } | undefined;
    for (const ctr of spec?.containers ?? []) delete ctr['resources'];
  };
}

/** Two checkpoints (ck-one of w1, ck-two of w2), then restores r1, r2 of ck-one and r3 of ck-two. */
async function twoCheckpointsThreeRestores(c: DevCluster): Promise<void> {
  for (const [id, pod] of [['ck-one', 'w1'], ['ck-two', 'w2']] as const) {
    const manifest = await writeManifest(c, `${pod}.yaml`, named(pod));
    const r = await runCli(['checkpoint', '--manifest', manifest, '--checkpoint-id', id, '--timeout', '20s'], { cluster: c });
    expect(r.code, r.stderr).toBe(0);
    // Creation times have whole seconds: the next one in another second, so "newest first" decides the order.
    await sleep(1020 - (Date.now() % 1000));
  }
  for (const [id, pod] of [['ck-one', 'r1'], ['ck-one', 'r2'], ['ck-two', 'r3']] as const) {
    const manifest = await writeManifest(c, `${pod}.yaml`, named(pod));
    const r = await runCli(['restore', '--manifest', manifest, '--checkpoint-id', id, '--timeout', '20s'], { cluster: c });
    expect(r.code, r.stderr).toBe(0);
  }
}

interface Item {
  id: string;
  source: string;
  status: string;
  node: string | null;
  job: string | null;
  location: string | null;
  restores: { total: number; completed: number; failed: number; inProgress: number; last: { pod: string; status: string } | null };
}

describe('catalogue: list, describe, delete', () => {
  const cluster = useCluster();

  it('list shows exactly two rows with the right restore counts; describe shows events and the artifact manifest', async () => {
    const c = cluster();
    await twoCheckpointsThreeRestores(c);

    const json = await runCli(['list', '-o', 'json'], { cluster: c });
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { apiVersion: string; kind: string; items: Item[] };
    expect(doc.apiVersion).toBe('snapshotctl/v1');
    expect(doc.kind).toBe('CheckpointList');
    expect(doc.items.map((i) => [i.id, i.source, i.status, i.job, i.location, i.restores.total, i.restores.completed, i.restores.last?.pod])).toEqual([
      ['ck-two', 'job', 'completed', 'w2-checkpoint', '/checkpoints/ck-two/versions/1', 1, 1, 'r3'],
      ['ck-one', 'job', 'completed', 'w1-checkpoint', '/checkpoints/ck-one/versions/1', 2, 2, 'r2'],
    ]);
    for (const i of doc.items) expect(i.node).toMatch(/^node-\d$/);

    const table = await runCli(['list'], { cluster: c });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+SOURCE\s+STATUS\s+NODE\s+AGE\s+RESTORES$/);
    expect(lines[1]).toMatch(/^ck-two\s+job\s+completed\s+node-\d\s+\d+s\s+1 \(last completed\)$/);
    expect(lines[2]).toMatch(/^ck-one\s+job\s+completed\s+node-\d\s+\d+s\s+2 \(last completed\)$/);

    const d = await runCli(['describe', 'ck-one'], { cluster: c });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('Status:           completed');
    expect(d.stdout).toMatch(/CheckpointRequested\s+job\/w1-checkpoint/);
    expect(d.stdout).toMatch(/CheckpointSucceeded\s+job\/w1-checkpoint/);
    expect(d.stdout).toMatch(/RestoreSucceeded\s+pod\/r1/);
    expect(d.stdout).toContain('Artifact manifest: /checkpoints/ck-one/versions/1/manifest.yaml (read by pod/snapshotctl-reader-');
    expect(d.stdout).toContain('  checkpointId: ck-one');
    expect(d.stdout).toContain('Restores:         2 (2 completed, 0 failed, 0 in progress)');
    expect(d.stdout).toContain('snapshotctl restore --manifest worker.yaml --checkpoint-id ck-one -n default');

    const dj = await runCli(['describe', 'ck-two', '-o', 'json'], { cluster: c });
    expect(dj.code, dj.stderr).toBe(0);
    const desc = JSON.parse(dj.stdout) as { artifact: { state: string; manifest: { checkpointId: string } }; events: Array<{ reason: string }> };
    expect(desc.artifact.state).toBe('read');
    expect(desc.artifact.manifest.checkpointId).toBe('ck-two');
    expect(desc.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['CheckpointRequested', 'CheckpointSucceeded', 'RestoreRequested', 'RestoreSucceeded']));
    // The reader pods are gone: only the checkpoint Jobs, their pods and the restore pods remain.
    expect(leftovers(c).filter((n) => n.includes('snapshotctl-'))).toEqual([]);
  }, 120_000);

  it('delete removes only what it should: running restores block without --force or --keep-artifacts; the artifact directory goes with its checkpoint', async () => {
    const c = cluster();
    await twoCheckpointsThreeRestores(c);
    const before = leftovers(c);

    const refused = await runCli(['delete', 'ck-two', '--yes'], { cluster: c });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(
      'checkpoint "ck-two" not deleted: restore pod r3 runs from it; --keep-artifacts deletes only its Job and leaves that pod and the artifact alone (it stays listed and restorable), --force deletes that pod and the artifact too\n',
    );
    expect(leftovers(c)).toEqual(before);

    const noYes = await runCli(['delete', 'ck-one'], { cluster: c });
    expect(noYes.code).toBe(2);
    expect(leftovers(c)).toEqual(before);

    const del = await runCli(['delete', 'ck-one', '--yes', '--force', '-o', 'json'], { cluster: c });
    expect(del.code, del.stderr).toBe(0);
    const result = JSON.parse(del.stdout) as { items: Array<{ id: string; status: string; deleted: string[] }> };
    expect(result.items).toEqual([
      { id: 'ck-one', namespace: 'default', status: 'deleted', deleted: ['pod/r1', 'pod/r2', 'job.batch/w1-checkpoint', 'artifacts:/checkpoints/ck-one'], reason: null },
    ]);
    expect(existsSync(join(c.storageRoot, 'ck-one'))).toBe(false);
    expect(existsSync(join(c.storageRoot, 'ck-two', 'versions', '1', 'manifest.yaml'))).toBe(true);
    // ck-two's Job, its pod and r3 are untouched; nothing of ck-one and no helper pod is left.
    expect(leftovers(c)).toEqual(before.filter((n) => !/\/(w1-checkpoint|r1|r2)(-|$)/.test(n)));
    expect(leftovers(c)).toContain('job.batch/default/w2-checkpoint');
    expect(leftovers(c)).toContain('pod/default/r3');

    const list = await runCli(['list', '-o', 'name'], { cluster: c });
    expect(list.stdout).toBe('checkpoint/ck-two\n');
  }, 120_000);
});
