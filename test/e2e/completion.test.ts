/**
 * Completion through the built binaries on a dev cluster: `restore --pod` offers the
 * placeholder, not the agents, the seccomp installers or a checkpoint Job's pod that
 * the same cluster runs, and `kubectl_complete-snapshot` says the same in cobra's format.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, WORKER_MANIFEST, createPlaceholder, runCli, useCluster } from './harness.js';

const run = promisify(execFile);

describe('completion on the dev cluster', () => {
  const cluster = useCluster();

  it('restore --pod offers only the placeholder; kubectl_complete-snapshot prints it, then :4', async () => {
    const c = cluster();
    await createPlaceholder(c);
    const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'ck-1', '--timeout', '20s'], { cluster: c });
    expect(ck.code, ck.stderr).toBe(0);
    const pods = c.api.store.list('pods', { namespace: c.namespace }).map((p) => p.metadata.name ?? '');
    // What there is to leave out: agents, installers, the checkpoint Job's pod.
    expect(pods.filter((n) => n.startsWith('snapshot-agent-')).length).toBeGreaterThan(0);
    expect(pods.filter((n) => n.startsWith('snapshot-seccomp-installer-')).length).toBeGreaterThan(0);
    expect(pods.filter((n) => n.includes('-checkpoint-')).length).toBeGreaterThan(0);

    const env = { KUBECONFIG: c.kubeconfigPath };
    const r = await runCli(['__complete', '--', 'restore', '--pod', ''], { kubeconfig: false, env });
    expect(r).toMatchObject({ code: 0, stdout: 'vllm-placeholder\n', stderr: '' });
    const k = await run(process.execPath, [join(ROOT, 'bin/kubectl_complete-snapshot.js'), 'restore', '--pod', 'vllm'], { env: { ...process.env, ...env } });
    expect(k.stdout).toBe('vllm-placeholder\n:4\n');
  });
});
