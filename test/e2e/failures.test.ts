/**
 * Runs that do not end well, through the built binary: the agent's `failed` verdict,
 * a timeout, Ctrl-C and SIGTERM, a Job that already exists, and a placeholder carrying
 * a stale verdict. Each must exit with its documented code (docs/cli.md), say why on
 * stderr, and delete exactly what it created, never anything else.
 */
import type { StoreEvent } from '../../src/dev/api/index.js';
import { describe, expect, it } from 'vitest';
import { createPlaceholder, kvLines, leftovers, runCli, setAgentFaults, useCluster, waitFor, WORKER_MANIFEST } from './harness.js';

const ID = 'e2e-fail-1';
const JOB = 'vllm-worker-checkpoint';

/** The six v1.0.x lines of a failed run, then its reason. */
function failedCheckpointLines(id: string, reason: string): string[] {
  return [
    'status=failed',
    'namespace=default',
    'name=vllm-worker',
    `checkpoint_job=${JOB}`,
    `checkpoint_id=${id}`,
    `checkpoint_location=/checkpoints/${id}/versions/1`,
    `reason=${reason}`,
  ];
}

describe('failed runs clean up after themselves', () => {
  const cluster = useCluster();

  it('agent verdict failed: exit 1, status=failed with the reason, the Job deleted in the foreground with its pod', async () => {
    const c = cluster();
    setAgentFaults(c, { failAll: true });
    const jobEvents: StoreEvent[] = [];
    const unsubscribe = c.api.store.subscribe((e) => {
      if (e.resource.plural === 'jobs') jobEvents.push(e);
    });
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
    unsubscribe();

    expect(r.code).toBe(1);
    // Which the CLI sees first races (the agent kills the pod, then annotates the Job);
    // either way the reason ends with the agent's own words from its CheckpointFailed event.
    const reason = /^checkpoint of default\/vllm-worker failed: (the snapshot agent marked the checkpoint failed|the Job's pod failed \(status\.failed=1\)): .*failure injected by the agent fault switch/;
    const lines = kvLines(r.stdout);
    expect(lines.slice(0, 6)).toEqual(failedCheckpointLines(ID, '').slice(0, 6));
    expect(lines).toHaveLength(7);
    expect(lines[6]?.replace(/^reason=/, '')).toMatch(reason);
    expect(r.stderr).toContain(`error: ${lines[6]?.replace(/^reason=/, '') ?? '?'}\n`);
    expect(r.stderr).toMatch(/\nhint: .*kubectl describe job\/vllm-worker-checkpoint -n default/);
    expect(r.stderr).toContain(`deleted job.batch/${JOB} in namespace "default" (created by this run)`);
    // Foreground: the Job waited (foregroundDeletion finalizer) until its pod was gone.
    const foreground = jobEvents.find((e) => e.type === 'MODIFIED' && (e.object.metadata.finalizers ?? []).includes('foregroundDeletion'));
    expect(foreground, 'the Job was deleted with propagationPolicy Foreground').toBeDefined();
    expect(jobEvents.at(-1)?.type).toBe('DELETED');
    expect(leftovers(c)).toEqual([]);
  });

  it('agent never answers: --timeout 2s exits 4 and leaves nothing behind', async () => {
    const c = cluster();
    setAgentFaults(c, { silent: true });
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '2s'], { cluster: c });

    expect(r.code).toBe(4);
    const lines = kvLines(r.stdout);
    expect(lines.slice(0, 6)).toEqual(failedCheckpointLines(ID, '').slice(0, 6));
    expect(lines).toHaveLength(7);
    // The message gives the time actually waited (`2s` or `2.0s`).
    expect(lines[6]).toMatch(new RegExp(`^reason=timed out after 2(\\.\\d)?s waiting for jobs\\.batch "${JOB}" in namespace "default"$`));
    expect(r.stderr).toContain(`error: ${lines[6]?.replace(/^reason=/, '') ?? '?'}\n`);
    expect(r.stderr).toContain(`deleted job.batch/${JOB} in namespace "default" (created by this run)`);
    expect(r.ms).toBeGreaterThanOrEqual(2000);
    expect(leftovers(c)).toEqual([]);
  });

  it('SIGINT while waiting on the checkpoint Job: exit 130, says what it deleted, nothing left behind', async () => {
    const c = cluster();
    setAgentFaults(c, { silent: true });
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '30s'], {
      cluster: c,
      signalAfter: { signal: 'SIGINT', when: () => c.api.store.get('jobs', 'default', JOB) !== undefined },
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('received SIGINT: stopping and cleaning up');
    expect(r.stderr).toContain(`deleted job.batch/${JOB} in namespace "default" (created by this run)`);
    expect(r.stderr).toContain(`error: interrupted while waiting for jobs.batch "${JOB}" in namespace "default"\n`);
    expect(kvLines(r.stdout)[0]).toBe('status=failed');
    expect(leftovers(c)).toEqual([]);
  });

  it('SIGTERM while waiting on a restore pod: exit 130, the pod it created deleted', async () => {
    const c = cluster();
    setAgentFaults(c, { silent: true });
    // --no-verify: no checkpoint exists, and the agent stays silent; the cleanup is under test.
    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--no-verify', '--timeout', '30s'], {
      cluster: c,
      signalAfter: { signal: 'SIGTERM', when: () => c.api.store.get('pods', 'default', 'vllm-worker') !== undefined },
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('received SIGTERM: stopping and cleaning up');
    expect(r.stderr).toContain('deleted pod/vllm-worker in namespace "default" (created by this run)');
    expect(r.stderr).toContain('error: interrupted while waiting for pods "vllm-worker" in namespace "default"\n');
    expect(kvLines(r.stdout)).toEqual([
      'status=failed',
      'namespace=default',
      'name=vllm-worker',
      'restore_pod=vllm-worker',
      `checkpoint_id=${ID}`,
      `checkpoint_location=/checkpoints/${ID}/versions/1`,
      'reason=interrupted while waiting for pods "vllm-worker" in namespace "default"',
    ]);
    expect(leftovers(c)).toEqual([]);
  });

  it('a second checkpoint of the same pod: exit 3 naming the existing Job, which stays untouched', async () => {
    const c = cluster();
    const first = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c });
    expect(first.code).toBe(0);
    const before = c.api.store.mustGet('jobs', 'default', JOB);
    c.api.requestLog.clear();

    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'e2e-fail-2'], { cluster: c });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(`error: job\\.batch "${JOB}" already exists in namespace "default" \\(checkpoint ID "${ID}", completed, created \\d+m?s ago\\); an earlier checkpoint of pod "vllm-worker" ran or was interrupted\n`),
    );
    // Completed: nothing to resume; the Job can go while its checkpoint stays on the volume.
    expect(r.stderr).toContain(`hint: its checkpoint stays on the volume (listed and restorable) when only the Job goes: \`snapshotctl delete ${ID} --keep-artifacts -y -n default\`, then checkpoint again`);
    const after = c.api.store.mustGet('jobs', 'default', JOB);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.metadata.labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': ID });
    expect(c.api.requestLog.count({ verb: 'create', resource: 'jobs', status: 409 })).toBe(1);
    expect(c.api.requestLog.entries().filter((e) => ['delete', 'patch', 'update'].includes(e.verb))).toEqual([]);
  });

  it('restore --pod on a pod with a stale `completed` verdict waits for a new one: exit 4 while the agent is silent (the pod put back as it was), then 0', async () => {
    const c = cluster();
    const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c });
    expect(ck.code).toBe(0);
    // The placeholder as an earlier restore of the same checkpoint left it.
    const placeholder = await createPlaceholder(c, (p) => {
      p.metadata.labels = { ...p.metadata.labels, 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': ID };
      p.metadata.annotations = {
        ...p.metadata.annotations,
        'nvidia.com/snapshot-artifact-version': '1',
        'nvidia.com/snapshot-restore-status': 'completed',
        'nvidia.com/snapshot-restore-container-id': 'stale0123456789',
      };
    });
    setAgentFaults(c, { silent: true });
    c.api.requestLog.clear();

    const timedOut = await runCli(['restore', '--pod', 'vllm-placeholder', '--checkpoint-id', ID, '--timeout', '2s'], { cluster: c });
    expect(timedOut.code).toBe(4);
    expect(kvLines(timedOut.stdout)[0]).toBe('status=failed');
    expect(timedOut.stderr).toMatch(/\nerror: timed out after 2(\.\d)?s waiting for pods "vllm-placeholder" in namespace "default"\n/);
    // The run patched the pod (stale verdict removed), then, timed out, put back what it
    // had changed: the pod is as it was, not left waiting for this checkpoint.
    expect(c.api.requestLog.count({ verb: 'patch', resource: 'pods', name: 'vllm-placeholder' })).toBe(2);
    expect(timedOut.stderr).toContain('put back the labels and annotations of pod/vllm-placeholder in namespace "default" that this run changed');
    const reverted = c.api.store.mustGet('pods', 'default', 'vllm-placeholder');
    expect(reverted.metadata.uid).toBe(placeholder.metadata.uid);
    expect(reverted.metadata.labels).toEqual(placeholder.metadata.labels);
    expect(reverted.metadata.annotations).toEqual(placeholder.metadata.annotations);

    // Agents answer again once this run has patched the pod: the new verdict completes it.
    const run = runCli(['restore', '--pod', 'vllm-placeholder', '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
    await waitFor('the second restore --pod to patch the pod', () => c.api.requestLog.count({ verb: 'patch', resource: 'pods', name: 'vllm-placeholder' }) >= 3);
    setAgentFaults(c, { silent: false });
    const done = await run;
    expect(done.stderr).not.toMatch(/error/i);
    expect(done.code).toBe(0);
    expect(kvLines(done.stdout)[0]).toBe('status=completed');
    const restored = c.api.store.mustGet('pods', 'default', 'vllm-placeholder');
    expect(restored.metadata.uid).toBe(placeholder.metadata.uid);
    expect(restored.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(c.api.requestLog.count({ verb: 'delete', resource: 'pods' })).toBe(0);
  });
  it('restore --pod interrupted while the agent waits for the checkpoint: exit 130, the pod put back, so the checkpoint made later is not restored into it', async () => {
    const c = cluster();
    const placeholder = await createPlaceholder(c);
    const later = 'e2e-fail-later';
    // Armed before its checkpoint exists: that takes --no-verify.
    const r = await runCli(['restore', '--pod', 'vllm-placeholder', '--checkpoint-id', later, '--no-verify'], {
      cluster: c,
      signalAfter: { signal: 'SIGINT', when: () => c.api.store.get('pods', 'default', 'vllm-placeholder')?.metadata.labels?.['nvidia.com/snapshot-checkpoint-id'] === later },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('put back the labels and annotations of pod/vllm-placeholder in namespace "default" that this run changed');
    const reverted = c.api.store.mustGet('pods', 'default', 'vllm-placeholder');
    expect(reverted.metadata.labels).toEqual(placeholder.metadata.labels);
    expect(reverted.metadata.annotations).toEqual(placeholder.metadata.annotations);

    const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', later], { cluster: c });
    expect(ck.code).toBe(0);
    await new Promise((done) => setTimeout(done, 1500));
    const after = c.api.store.mustGet('pods', 'default', 'vllm-placeholder');
    expect(after.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBeUndefined();
    expect(after.metadata.uid).toBe(placeholder.metadata.uid);
  });
});
