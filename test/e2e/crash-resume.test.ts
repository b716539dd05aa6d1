/**
 * Crash safety: `kill -9` of the CLI mid-wait leaves its Job behind (nothing can clean
 * up after SIGKILL); the next run names it and offers `--resume`, which finishes the
 * wait without creating or deleting anything.
 */
import { describe, expect, it } from 'vitest';
import { kvLines, runCli, setAgentFaults, useCluster, WORKER_MANIFEST } from './harness.js';

const JOB = 'vllm-worker-checkpoint';

describe('kill -9 mid-wait, then --resume', () => {
  const cluster = useCluster();

  it('reports the left Job with the exact commands, and --resume completes it', async () => {
    const c = cluster();
    setAgentFaults(c, { silent: true });
    const killed = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'crash-1'], {
      cluster: c,
      signalAfter: { signal: 'SIGKILL', when: () => c.api.store.get('jobs.batch', 'default', JOB) !== undefined },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(c.api.store.get('jobs.batch', 'default', JOB)).toBeDefined();

    const again = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST], { cluster: c });
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/job\.batch "vllm-worker-checkpoint" already exists in namespace "default" \(checkpoint ID "crash-1", still waiting for a verdict, created \d+m?s ago\)/);
    expect(again.stderr).toContain(`--manifest ${WORKER_MANIFEST} -n default --resume`);
    expect(again.stderr).toContain('kubectl delete job vllm-worker-checkpoint -n default --cascade=foreground');

    setAgentFaults(c, { silent: false });
    const resumed = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--resume', '--timeout', '20s'], { cluster: c });
    expect(resumed.stderr).toContain('resuming the wait on job.batch/vllm-worker-checkpoint (checkpoint ID "crash-1")');
    expect(resumed.code).toBe(0);
    expect(kvLines(resumed.stdout)).toEqual([
      'status=completed',
      'namespace=default',
      'name=vllm-worker',
      `checkpoint_job=${JOB}`,
      'checkpoint_id=crash-1',
      'checkpoint_location=/checkpoints/crash-1/versions/1',
    ]);
    expect(c.api.requestLog.count({ verb: 'create', resource: 'jobs', status: 201 })).toBe(1);
  });
});
