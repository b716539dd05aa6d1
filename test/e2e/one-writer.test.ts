/**
 * One checkpoint ID, one artifact: a second checkpoint under a taken ID is refused up
 * front by the CLI, and checkpoints of different pods racing for one ID end with one
 * success and clear failures, never two "completed" for one surviving artifact.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, useCluster, writeManifest } from './harness.js';

describe('one checkpoint ID, one writer', () => {
  const cluster = useCluster({ nodes: 2 });

  it('a second pod checkpointed under a taken ID: exit 3 before anything is created, the first artifact untouched', async () => {
    const c = cluster();
    const a = await writeManifest(c, 'a.yaml', (p) => (p.metadata.name = 'worker-a'));
    const b = await writeManifest(c, 'b.yaml', (p) => (p.metadata.name = 'worker-b'));
    expect((await runCli(['checkpoint', '--manifest', a, '--checkpoint-id', 'taken', '--timeout', '30s'], { cluster: c })).code).toBe(0);
    const before = readFileSync(join(c.storageRoot, 'taken', 'versions', '1', 'manifest.yaml'), 'utf8');
    const r = await runCli(['checkpoint', '--manifest', b, '--checkpoint-id', 'taken', '--timeout', '30s'], { cluster: c });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/checkpoint ID "taken" is already used in namespace "default" by job\.batch\/worker-a-checkpoint \(checkpoint ID "taken", completed/);
    expect(r.stderr).toMatch(/choose another --checkpoint-id, or delete that checkpoint first: `snapshotctl delete taken --artifacts -n default`/);
    expect(c.api.store.get('jobs', 'default', 'worker-b-checkpoint')).toBeUndefined();
    expect(readFileSync(join(c.storageRoot, 'taken', 'versions', '1', 'manifest.yaml'), 'utf8')).toBe(before);
  });

  it('eight pods checkpointed under one ID at once: one completes and keeps the artifact, the others fail saying why', async () => {
    const c = cluster();
    const files = await Promise.all(Array.from({ length: 8 }, (_, i) => writeManifest(c, `r${i}.yaml`, (p) => (p.metadata.name = `racer-${i}`))));
    const runs = await Promise.all(files.map((f) => runCli(['checkpoint', '--manifest', f, '--checkpoint-id', 'contested', '--timeout', '60s', '-o', 'json'], { cluster: c, timeoutMs: 90_000 })));
    const winners = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.code === 0);
    const told = runs.map((r, i) => `racer-${i}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`).join('\n');
    expect(winners.map(({ r }) => JSON.parse(r.stdout).status), told).toEqual(['completed']);
    for (const r of runs.filter((x) => x.code !== 0)) {
      expect([1, 3]).toContain(r.code);
      expect(r.stderr).toMatch(/already used in namespace "default" by job\.batch\/racer-\d-checkpoint|is being written by job\.batch\/racer-\d-checkpoint|already has an artifact|was published by another checkpoint first/);
      expect(r.stderr).not.toMatch(/ENOTEMPTY|EEXIST|rename/);
    }
    // One artifact, from the winner's pod; no staging left.
    expect(readdirSync(join(c.storageRoot, 'contested', 'versions'))).toEqual(['1']);
    const manifest = parse(readFileSync(join(c.storageRoot, 'contested', 'versions', '1', 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
    expect(String(manifest["pod"])).toMatch(new RegExp(`^racer-${winners[0]!.i}-checkpoint-`));
    // Exactly one Job says completed.
    const verdicts = files.map((_, i) => c.api.store.get('jobs', 'default', `racer-${i}-checkpoint`)?.metadata.annotations?.['nvidia.com/snapshot-checkpoint-status']);
    expect(verdicts.filter((v) => v === 'completed')).toHaveLength(1);
  }, 120_000);
});
