/**
 * `restore` checks first that there is a checkpoint to restore: a mistyped ID fails at
 * once with the closest IDs and nothing created; a checkpoint whose Job was deleted is
 * found on the volume and restored; --no-verify restores without looking.
 */
import { describe, expect, it } from 'vitest';
import { kvLines, leftovers, runCli, useCluster, WORKER_MANIFEST } from './harness.js';

describe('restore checks that the checkpoint exists', () => {
  const cluster = useCluster();

  it('a mistyped ID: exit 1 in seconds, the closest ID named, nothing created or left', async () => {
    const c = cluster();
    expect((await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'llama-8b', '--timeout', '20s'], { cluster: c })).code).toBe(0);
    const before = leftovers(c);
    const started = Date.now();
    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'llama-8c', '--timeout', '5m'], { cluster: c });
    const seconds = (Date.now() - started) / 1000;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no checkpoint "llama-8c" to restore in namespace "default": no checkpoint Job has that ID, and there is no artifact at \/checkpoints\/llama-8c\/versions\/1\/manifest\.yaml; did you mean "llama-8b"\?/);
    expect(r.stderr).toContain('--no-verify restores without this check');
    // Long before the 5 minute timeout the old behaviour waited out.
    expect(seconds).toBeLessThan(30);
    expect(leftovers(c)).toEqual(before);
  });

  it('the checkpoint Job deleted: the artifact is found on the volume and restored', async () => {
    const c = cluster();
    expect((await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'orphaned', '--timeout', '20s'], { cluster: c })).code).toBe(0);
    c.api.store.delete('jobs', 'default', 'vllm-worker-checkpoint');
    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'orphaned', '--timeout', '30s'], { cluster: c });
    expect(r.code, r.stderr).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    // The reader pod is gone again.
    expect(leftovers(c).filter((n) => n.includes('snapshotctl-reader-'))).toEqual([]);
  });

  it('--no-verify: no look, the agent is left to wait for an artifact that never comes (exit 4 at --timeout)', async () => {
    const c = cluster();
    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'nowhere', '--no-verify', '--timeout', '3s'], { cluster: c });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toContain('no checkpoint "nowhere" to restore');
    expect(c.api.requestLog.count({ verb: 'create', resource: 'pods' })).toBe(1);
  });
});
