/** `snapshotctl describe` through the real program on a fake cluster. */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import type { Pod } from '../protocol/index.js';
import { ago, runCli, seedAgent, seedCheckpoint, seedRestore } from './testing/run-cli.js';

const MANIFEST = 'checkpointId: ck-a\nnodeName: node-1\npod: worker-a-checkpoint-abcde\n';

/** Answers reader pods like a kubelet: the file (or an error) as the termination message. */
function kubeletAnswers(c: FakeKubeClient, files: Record<string, string>): void {
  c.onWrite = (verb, res, obj) => {
    if (verb !== 'create' || res.plural !== 'pods' || !obj.metadata?.name?.startsWith('snapshotctl-reader-')) return;
    const pod = obj as Pod;
    const path = pod.spec.containers[0]?.command?.[1] ?? '';
    const text = files[path];
    c.update(RESOURCES.pods, obj.metadata.namespace, obj.metadata.name, (p) => {
      p['spec'] = { ...(p['spec'] as object), nodeName: 'node-1' };
      p['status'] = {
        phase: text === undefined ? 'Failed' : 'Succeeded',
        containerStatuses: [{ name: 'reader', state: { terminated: { exitCode: text === undefined ? 1 : 0, message: text ?? `cp: can't stat '${path}': No such file or directory\n` } } }],
      };
    });
  };
}

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  seedCheckpoint(c, 'ck-a', { pod: 'worker-a', verdict: 'completed', minutesAgo: 180 });
  seedRestore(c, 'ck-a', 'restore-1', { status: 'completed', minutesAgo: 100 });
  seedRestore(c, 'ck-a', 'restore-2', { status: 'failed', phase: 'Failed', minutesAgo: 10 });
  c.seed(RESOURCES.events, {
    metadata: { name: 'e1', namespace: 'default' },
    involvedObject: { kind: 'Job', name: 'worker-a-checkpoint' },
    type: 'Normal',
    reason: 'CheckpointRequested',
    message: 'checkpoint ck-a requested',
    lastTimestamp: ago(179),
  });
  c.seed(RESOURCES.events, {
    metadata: { name: 'e2', namespace: 'default' },
    involvedObject: { kind: 'Job', name: 'worker-a-checkpoint' },
    type: 'Normal',
    reason: 'CheckpointSucceeded',
    message: 'checkpoint ck-a written',
    lastTimestamp: ago(178),
  });
  c.seed(RESOURCES.events, {
    metadata: { name: 'e3', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'restore-2' },
    type: 'Warning',
    reason: 'RestoreFailed',
    message: 'restore failed',
    lastTimestamp: ago(9),
  });
  kubeletAnswers(c, { '/checkpoints/ck-a/versions/1/manifest.yaml': MANIFEST });
  return c;
}

describe('describe', () => {
  it('text: job, pod, artifact manifest read by a reader pod that is deleted, restores, events, next', async () => {
    const c = cluster();
    const r = await runCli(['describe', 'ck-a'], { client: c });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ID:               ck-a\n');
    expect(r.stdout).toContain('Status:           completed\n');
    expect(r.stdout).toContain('Location:         /checkpoints/ck-a/versions/1 on PVC snapshot-pvc\n');
    expect(r.stdout).toContain('Job:              worker-a-checkpoint (completed)\n');
    expect(r.stdout).toContain('Artifact manifest: /checkpoints/ck-a/versions/1/manifest.yaml (read by pod/snapshotctl-reader-');
    expect(r.stdout).toContain('  checkpointId: ck-a\n  nodeName: node-1\n');
    expect(r.stdout).toContain('Restores:         2 (1 completed, 1 failed, 0 in progress)\n');
    expect(r.stdout).toMatch(/CheckpointRequested\s+job\/worker-a-checkpoint\s+179m\s+checkpoint ck-a requested/);
    expect(r.stdout).toMatch(/Warning\s+RestoreFailed\s+pod\/restore-2/);
    expect(r.stdout).toContain('  snapshotctl restore --manifest worker.yaml --checkpoint-id ck-a -n default\n');
    // The reader pod: read-only PVC, on the agent node, deleted afterwards.
    const create = c.calls.find((x) => x.verb === 'create' && x.resource === 'pods');
    const pod = create?.body as Pod;
    expect(pod.spec.volumes).toEqual([{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc', readOnly: true } }]);
    expect(pod.spec.containers[0]?.command).toEqual(['cp', '/checkpoints/ck-a/versions/1/manifest.yaml', '/dev/termination-log']);
    expect(pod.spec.containers[0]?.volumeMounts).toEqual([{ name: 'checkpoint-storage', mountPath: '/checkpoints', readOnly: true }]);
    expect(JSON.stringify(pod.spec.affinity)).toContain('node-1');
    expect(c.writes().map((w) => `${w.verb} ${w.resource}/${w.name}`)).toEqual([`create pods/${create?.name}`, `delete pods/${create?.name}`]);
  });

  it('-o json: the CheckpointDescription with the parsed manifest', async () => {
    const r = await runCli(['describe', 'ck-a', '-o', 'json'], { client: cluster() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, any>;
    expect(doc['kind']).toBe('CheckpointDescription');
    expect(doc['artifact']).toMatchObject({ state: 'read', manifest: { checkpointId: 'ck-a', nodeName: 'node-1' } });
    expect(doc['events'].map((e: { reason: string }) => e.reason)).toEqual(['CheckpointRequested', 'CheckpointSucceeded', 'RestoreFailed']);
    expect(doc['restores'].map((x: { pod: string }) => x.pod)).toEqual(['restore-2', 'restore-1']);
  });

  it('takes list -o name\'s checkpoint/<id> as the ID', async () => {
    const byName = await runCli(['describe', 'checkpoint/ck-a', '-o', 'json', '--no-artifact'], { client: cluster() });
    const byId = await runCli(['describe', 'ck-a', '-o', 'json', '--no-artifact'], { client: cluster() });
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(byId.stdout);
    expect((JSON.parse(byName.stdout) as { checkpoint?: { id: string } }).checkpoint?.id).toBe('ck-a');
  });

  it('a missing artifact is reported, not fatal; --no-artifact creates no pod', async () => {
    const c = cluster();
    kubeletAnswers(c, {});
    const r = await runCli(['describe', 'ck-a'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Artifact manifest: /checkpoints/ck-a/versions/1/manifest.yaml: not found (cp: can't stat '/checkpoints/ck-a/versions/1/manifest.yaml': No such file or directory)\n");
    const c2 = cluster();
    const r2 = await runCli(['describe', 'ck-a', '--no-artifact'], { client: c2 });
    expect(r2.code).toBe(0);
    expect(c2.writes()).toEqual([]);
  });

  it('an unknown ID: exit 1 with a hint', async () => {
    const r = await runCli(['describe', 'nope'], { client: cluster() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no checkpoint "nope" in namespace "default"');
  });
});

describe('describe: an ID from a cluster object becomes a path only when it is a valid checkpoint ID', () => {
  it('a DynamoCheckpoint whose status.identityHash climbs out of its directory: no reader pod, a warning naming it, no location', async () => {
    const c = cluster();
    c.seed(RESOURCES.dynamocheckpoints, {
      apiVersion: 'nvidia.com/v1alpha1',
      kind: 'DynamoCheckpoint',
      metadata: { name: 'evil', namespace: 'default', creationTimestamp: ago(5) },
      status: { phase: 'Ready', identityHash: 'x/../ck-a' },
    });
    const r = await runCli(['describe', 'evil'], { client: c });
    expect(r.code).toBe(0);
    expect(c.writes()).toEqual([]);
    expect(r.stderr).toMatch(/warning: not reading the artifact of checkpoint ID "x\/\.\.\/ck-a" of dynamocheckpoint\.nvidia\.com\/evil: it contains a path separator/);
    expect(r.stdout).toContain('Location:         <unknown: ');
    const list = await runCli(['list', '-o', 'json'], { client: c });
    const items = (JSON.parse(list.stdout) as { items: Array<{ id: string; location: string | null }> }).items;
    expect(items.find((i) => i.id === 'x/../ck-a')?.location).toBeNull();
  });
});
