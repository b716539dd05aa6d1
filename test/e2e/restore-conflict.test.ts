/**
 * `restore --pod` against the dev cluster when the placeholder changes between the
 * CLI's read and its patch: a status update (the kubelet's) is retried and the restore
 * completes; a label change (someone else arming the pod) is refused, nothing patched.
 * The patch is held 400 ms by fault injection; the change lands as soon as the CLI's
 * read of the pod has been answered, so it always falls between the two.
 */
import { describe, expect, it } from 'vitest';
import type { DevCluster } from '../../src/dev/cluster.js';
import type { KubeObject } from '../../src/dev/api/index.js';
import { WORKER_MANIFEST, createPlaceholder, runCli, useCluster, waitFor } from './harness.js';

const POD = 'vllm-placeholder';
const ID = 'ck-conflict';

/** Run restore --pod; once the CLI has read the pod, `change` it in the store (its status subresource, as the kubelet writes, with `opts`). */
async function restoreWhile(c: DevCluster, change: (p: KubeObject) => void, opts: { subresource?: 'status' } = {}) {
  const reads = () => c.api.requestLog.count({ verb: 'get', resource: 'pods', name: POD });
  const before = reads();
  c.api.faults.add({ verb: 'patch', resource: 'pods', name: POD, times: 1, effect: { kind: 'delay', ms: 400 } });
  const run = runCli(['restore', '--pod', POD, '--checkpoint-id', ID, '--timeout', '20s'], { cluster: c });
  await waitFor('the CLI to read the placeholder', () => reads() > before, 10_000, 2);
  c.api.store.mutate('pods', c.namespace, POD, change, opts);
  return run;
}

describe('restore --pod: the placeholder changes between read and patch', () => {
  const cluster = useCluster();

  it('a status update is retried: exit 0, restored in place, one 409 then one patch that took', async () => {
    const c = cluster();
    expect((await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c })).code).toBe(0);
    await createPlaceholder(c);
    c.api.requestLog.clear();
    const r = await restoreWhile(c, (p) => void (p['status'] = { ...(p['status'] as object), message: 'kubelet was here' }), { subresource: 'status' });
    expect(r.stderr).toContain(`pod "${POD}" in namespace "default" changed status between our read and our patch; patching again (attempt 2 of 4)`);
    expect(r.code, r.stderr).toBe(0);
    expect(c.api.requestLog.entries({ verb: 'patch', resource: 'pods', name: POD }).map((e) => e.status).slice(0, 2)).toEqual([409, 200]);
    expect(c.api.store.get('pods', c.namespace, POD)?.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBe('completed');
  });

  it('a label change is refused: exit 3, nothing patched, the message says what changed', async () => {
    const c = cluster();
    expect((await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID], { cluster: c })).code).toBe(0);
    await createPlaceholder(c);
    c.api.requestLog.clear();
    const r = await restoreWhile(c, (p) => void (p.metadata.labels = { ...p.metadata.labels, 'nvidia.com/snapshot-checkpoint-id': 'someone-else' }));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`pod "${POD}" in namespace "default" changed while snapshotctl was preparing the restore (its labels); nothing was patched`);
    expect(c.api.requestLog.entries({ verb: 'patch', resource: 'pods', name: POD }).map((e) => e.status)).toEqual([409]);
    expect(c.api.store.get('pods', c.namespace, POD)?.metadata.labels?.['nvidia.com/snapshot-checkpoint-id']).toBe('someone-else');
  });
});
