/**
 * restore --pod that does not end well leaves the placeholder as it found it: the
 * labels and annotations this run patched are put back (with a patch), so a later
 * checkpoint with that ID is not restored into it; --keep-on-failure keeps them.
 */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import type { KubeObject, Pod } from '../protocol/index.js';
import { runCli, seedAgent, seedCheckpoint } from './testing/run-cli.js';

const TARGET = 'nvidia.com/snapshot-is-restore-target';
const ID_LABEL = 'nvidia.com/snapshot-checkpoint-id';
const STATUS = 'nvidia.com/snapshot-restore-status';

function placeholder(labels: Record<string, string> = { app: 'ph' }, annotations: Record<string, string> = { note: 'kept' }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ph', namespace: 'default', labels, annotations },
    spec: {
      nodeName: 'node-1',
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
      containers: [{ name: 'main', image: 'placeholder', command: ['sleep', 'infinity'], volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }] }],
      volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
    },
    status: { phase: 'Running' },
  };
}

function cluster(pod: KubeObject = placeholder()): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  seedCheckpoint(c, 'ck-2', { pod: 'ck-2-source', verdict: 'completed', minutesAgo: 5 });
  c.seed(RESOURCES.pods, pod);
  return c;
}

const meta = (c: FakeKubeClient) => {
  const p = c.peek<Pod>(RESOURCES.pods, 'default', 'ph')!;
  return { labels: p.metadata.labels ?? {}, annotations: p.metadata.annotations ?? {} };
};

/** Reacts once to this run's patch (the first one), like the agent would. */
function onArmed(c: FakeKubeClient, react: () => void): void {
  let done = false;
  c.onWrite = (verb, res, obj) => {
    if (done || verb !== 'patch' || res.plural !== 'pods' || obj.metadata?.labels?.[TARGET] !== 'true') return;
    done = true;
    react();
  };
}

describe('restore --pod: what this run patched is put back when it does not succeed', () => {
  it('timeout: exit 4, the pod labels and annotations exactly as before, by patch, never deleted', async () => {
    const c = cluster();
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--timeout', '300ms'], { client: c });
    expect(r.code).toBe(4);
    expect(meta(c)).toEqual({ labels: { app: 'ph' }, annotations: { note: 'kept' } });
    expect(r.stderr).toContain('put back the labels and annotations of pod/ph in namespace "default" that this run changed; it no longer waits for checkpoint "ck-2"');
    const writes = c.writes().map((w) => `${w.verb} ${w.resource}/${w.name}`);
    expect(writes).toEqual(['patch pods/ph', 'patch pods/ph']);
    expect(c.writes()[1]!.body).toEqual({
      metadata: { resourceVersion: expect.any(String), labels: { [TARGET]: null, [ID_LABEL]: null }, annotations: { 'nvidia.com/snapshot-artifact-version': null } },
    });
  });

  it('Ctrl-C: exit 130, the pod no longer armed', async () => {
    const c = cluster();
    const ctl = new AbortController();
    onArmed(c, () => setTimeout(() => ctl.abort(), 10));
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2'], { client: c, signal: ctl.signal });
    expect(r.code).toBe(130);
    expect(meta(c)).toEqual({ labels: { app: 'ph' }, annotations: { note: 'kept' } });
  });

  it("the agent's failed verdict: exit 1, labels put back, the agent's own annotation left as it wrote it", async () => {
    const c = cluster();
    onArmed(c, () => c.update(RESOURCES.pods, 'default', 'ph', (p) => void (p.metadata!.annotations = { ...p.metadata!.annotations, [STATUS]: 'failed' })));
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2'], { client: c });
    expect(r.code).toBe(1);
    expect(meta(c)).toEqual({ labels: { app: 'ph' }, annotations: { note: 'kept', [STATUS]: 'failed' } });
  });

  it('a placeholder that was a restore target before gets its previous values back', async () => {
    const before = { labels: { app: 'ph', [TARGET]: 'true', [ID_LABEL]: 'old' }, annotations: { [STATUS]: 'completed', 'nvidia.com/snapshot-restore-container-id': 'abc', 'nvidia.com/snapshot-artifact-version': '1' } };
    const c = cluster(placeholder(before.labels, before.annotations));
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--timeout', '300ms'], { client: c });
    expect(r.code).toBe(4);
    expect(meta(c)).toEqual(before);
  });

  it('a pod the agent is restoring into right now is left as it is, with a warning', async () => {
    const c = cluster();
    const ctl = new AbortController();
    onArmed(c, () => {
      c.update(RESOURCES.pods, 'default', 'ph', (p) => void (p.metadata!.annotations = { ...p.metadata!.annotations, [STATUS]: 'in_progress' }));
      setTimeout(() => ctl.abort(), 10);
    });
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2'], { client: c, signal: ctl.signal });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('warning: the snapshot agent is restoring into pod/ph in namespace "default" right now');
    expect(meta(c).labels[ID_LABEL]).toBe('ck-2');
    expect(c.writes().filter((w) => w.verb === 'patch')).toHaveLength(1);
  });

  it('--keep-on-failure keeps the pod armed and says how to undo it', async () => {
    const c = cluster();
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--timeout', '300ms', '--keep-on-failure'], { client: c });
    expect(r.code).toBe(4);
    expect(meta(c).labels).toEqual({ app: 'ph', [TARGET]: 'true', [ID_LABEL]: 'ck-2' });
    expect(r.stderr).toContain(
      '--keep-on-failure: left pod/ph in namespace "default" marked as a restore target for checkpoint "ck-2"; undo it with: ' +
        `kubectl label pod ph -n default --overwrite ${TARGET}- ${ID_LABEL}- && kubectl annotate pod ph -n default --overwrite nvidia.com/snapshot-artifact-version-`,
    );
  });

  it('success leaves the pod restored, labels and all', async () => {
    const c = cluster();
    onArmed(c, () => c.update(RESOURCES.pods, 'default', 'ph', (p) => void (p.metadata!.annotations = { ...p.metadata!.annotations, [STATUS]: 'completed' })));
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2'], { client: c });
    expect(r.code).toBe(0);
    expect(meta(c).labels[ID_LABEL]).toBe('ck-2');
    expect(c.writes().filter((w) => w.verb === 'patch')).toHaveLength(1);
  });
});

/** Before each of the first `times` patches of pod/ph, `change` it as another actor would. */
function beforePatch(c: FakeKubeClient, times: number, change: (p: KubeObject) => void): void {
  let left = times;
  c.failWith = (call) => {
    if (call.verb === 'patch' && call.name === 'ph' && left > 0) {
      left -= 1;
      c.update(RESOURCES.pods, 'default', 'ph', change);
    }
    return undefined;
  };
}

const kubeletStatus = (p: KubeObject) => void ((p as Pod).status = { phase: 'Running', conditions: [{ type: 'Ready', status: String(Date.now()) }] } as Pod['status']);

describe('restore --pod: a pod that changes between our read and our patch', () => {
  it('a status update (the kubelet) is retried with the new resourceVersion and the restore goes ahead', async () => {
    const c = cluster();
    beforePatch(c, 2, kubeletStatus);
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--no-wait'], { client: c });
    expect(r.stderr).not.toContain('nothing was patched');
    expect(r.code).toBe(0);
    expect(meta(c).labels).toEqual({ app: 'ph', [TARGET]: 'true', [ID_LABEL]: 'ck-2' });
    const patches = c.writes().filter((w) => w.verb === 'patch');
    expect(patches).toHaveLength(3);
    const rvs = patches.map((w) => (w.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    expect(new Set(rvs).size).toBe(3);
    expect(r.stderr).toContain('pod "ph" in namespace "default" changed status between our read and our patch; patching again (attempt 2 of 4)');
  });

  it('a status that never settles: exit 3 after 4 patches, nothing patched', async () => {
    const c = cluster();
    beforePatch(c, 100, kubeletStatus);
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--no-wait'], { client: c });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('pod "ph" in namespace "default" kept changing while snapshotctl was preparing the restore (4 conflicting patches); nothing was patched');
    expect(c.writes().filter((w) => w.verb === 'patch')).toHaveLength(4);
    expect(meta(c)).toEqual({ labels: { app: 'ph' }, annotations: { note: 'kept' } });
  });

  it.each([
    ['its labels', (p: KubeObject) => void (p.metadata!.labels = { app: 'ph', [TARGET]: 'true', [ID_LABEL]: 'someone-else' })],
    ['its annotations', (p: KubeObject) => void (p.metadata!.annotations = { note: 'kept', [STATUS]: 'in_progress' })],
    ['its spec', (p: KubeObject) => void ((p as Pod).spec.nodeName = 'node-2')],
  ])('a change to %s is refused: exit 3, one patch, nothing patched', async (what, change) => {
    const c = cluster();
    beforePatch(c, 1, change);
    const before = meta(c);
    const r = await runCli(['restore', '--pod', 'ph', '--checkpoint-id', 'ck-2', '--no-wait'], { client: c });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`pod "ph" in namespace "default" changed while snapshotctl was preparing the restore (${what}); nothing was patched`);
    expect(c.writes().filter((w) => w.verb === 'patch')).toHaveLength(1);
    expect(meta(c).labels[ID_LABEL]).not.toBe('ck-2');
    if (what === 'its spec') expect(meta(c)).toEqual(before);
  });
});
