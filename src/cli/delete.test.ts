/** `snapshotctl delete` through the real program on a fake cluster. */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import type { Pod } from '../protocol/index.js';
import { answerStorageScans, runCli, seedAgent, seedCheckpoint, seedRestore } from './testing/run-cli.js';

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  seedCheckpoint(c, 'ck-a', { pod: 'wa', verdict: 'completed', minutesAgo: 50, labels: { team: 'ml' } });
  seedCheckpoint(c, 'ck-b', { pod: 'wb', verdict: 'completed', minutesAgo: 40 });
  seedRestore(c, 'ck-a', 'ra-done', { status: 'failed', phase: 'Failed', minutesAgo: 30 });
  seedRestore(c, 'ck-b', 'rb-live', { status: 'completed', phase: 'Running', minutesAgo: 20 });
  // Remover pods succeed like a kubelet would run `rm -rf`.
  c.onWrite = (verb, res, obj) => {
    if (verb === 'create' && res.plural === 'pods' && obj.metadata?.name?.startsWith('snapshotctl-remover-')) {
      c.update(RESOURCES.pods, obj.metadata.namespace, obj.metadata.name, (p) => {
        p['status'] = { phase: 'Succeeded', containerStatuses: [{ name: 'remover', state: { terminated: { exitCode: 0 } } }] };
      });
    }
  };
  // The volume holds the artifacts of ck-a and ck-b, and one whose Job is gone.
  answerStorageScans(c, [{ id: 'ck-a' }, { id: 'ck-b', kib: 3 * 1024 * 1024 }, { id: 'orphan-1', minutesAgo: 600 }]);
  return c;
}

/** What was deleted, the short-lived helper pods aside. */
const names = (c: FakeKubeClient) => c.writes().filter((w) => w.verb === 'delete' && !(w.name ?? '').startsWith('snapshotctl-')).map((w) => `${w.resource}/${w.name}`);
/** The command of each remover pod created. */
const removers = (c: FakeKubeClient) => c.calls.filter((x) => x.verb === 'create' && x.name?.startsWith('snapshotctl-remover-')).map((x) => (x.body as Pod).spec.containers[0]?.command);

describe('delete', () => {
  it('deletes the Job (foreground), finished restore pods and the artifact the volume shows; leaves everything else', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-a', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint, artifacts:/checkpoints/ck-a)\n');
    expect(removers(c)).toEqual([['rm', '-rf', '--', '/checkpoints/ck-a']]);
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
    const jobDelete = c.calls.find((x) => x.verb === 'delete' && x.resource === 'jobs');
    expect(jobDelete?.options).toMatchObject({ propagationPolicy: 'Foreground' });
    expect(c.peek(RESOURCES.jobs, 'default', 'wb-checkpoint')).toBeDefined();
  });

  it('takes list -o name\'s checkpoint/<id> lines as IDs', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'checkpoint/ck-a', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint, artifacts:/checkpoints/ck-a)\n');
  });

  it('a running restore pod blocks the ID and the choice is explained (exit 1, nothing of it deleted); --force deletes it and the artifact', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-b', 'ck-a', '--yes'], { client: c });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'checkpoint "ck-b" not deleted: restore pod rb-live runs from it; --keep-artifacts deletes only its Job and leaves that pod and the artifact alone (it stays listed and restorable), --force deletes that pod and the artifact too\n' +
        'checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint, artifacts:/checkpoints/ck-a)\n',
    );
    expect(r.stderr).toContain('1 of 2 checkpoints not deleted');
    expect(c.peek(RESOURCES.pods, 'default', 'rb-live')).toBeDefined();
    const f = await runCli(['delete', 'ck-b', '--yes', '--force', '-o', 'json'], { client: c });
    expect(f.code).toBe(0);
    expect(JSON.parse(f.stdout)).toEqual({
      apiVersion: 'snapshotctl/v1',
      kind: 'CheckpointDeleteResult',
      items: [{ id: 'ck-b', namespace: 'default', status: 'deleted', deleted: ['pod/rb-live', 'job.batch/wb-checkpoint', 'artifacts:/checkpoints/ck-b'], reason: null }],
    });
  });

  it('--keep-artifacts deletes only the Job: the running restore pod and the artifact stay, and the checkpoint is still listed', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-b', '--yes', '--keep-artifacts'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-b" deleted (job.batch/wb-checkpoint)\n');
    expect(names(c)).toEqual(['jobs/wb-checkpoint']);
    expect(removers(c)).toEqual([]);
    // Nothing looks at the volume when nothing will be removed from it.
    expect(c.calls.some((x) => x.verb === 'create')).toBe(false);
    const list = await runCli(['list', '-o', 'json'], { client: c });
    const row = (JSON.parse(list.stdout) as { items: Array<Record<string, unknown>> }).items.find((i) => i['id'] === 'ck-b');
    expect(row).toMatchObject({ source: 'restore', job: null, artifact: { state: 'present' }, restores: { total: 1 } });
  });

  it('an orphan (an artifact no Job refers to) is deleted from the volume; with --keep-artifacts nothing is left to delete', async () => {
    const c = cluster();
    const keep = await runCli(['delete', 'orphan-1', '--yes', '--keep-artifacts'], { client: c });
    expect(keep.code).toBe(1);
    expect(keep.stdout).toMatch(/^checkpoint "orphan-1" not found/);
    const r = await runCli(['delete', 'orphan-1', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "orphan-1" deleted (artifacts:/checkpoints/orphan-1)\n');
    expect(removers(c)).toEqual([['rm', '-rf', '--', '/checkpoints/orphan-1']]);
  });

  it('an ID the volume shows no artifact for keeps its path untouched unless --artifacts; --artifacts with --keep-artifacts is a usage error', async () => {
    const c = cluster();
    seedCheckpoint(c, 'ck-z', { pod: 'wz', verdict: 'completed', minutesAgo: 5 });
    expect((await runCli(['delete', 'ck-z', '--yes'], { client: c })).stdout).toBe('checkpoint "ck-z" deleted (job.batch/wz-checkpoint)\n');
    expect(removers(c)).toEqual([]);
    seedCheckpoint(c, 'ck-y', { pod: 'wy', verdict: 'completed', minutesAgo: 5 });
    expect((await runCli(['delete', 'ck-y', '--yes', '--artifacts'], { client: c })).stdout).toBe('checkpoint "ck-y" deleted (job.batch/wy-checkpoint, artifacts:/checkpoints/ck-y)\n');
    const both = await runCli(['delete', 'ck-a', '--yes', '--artifacts', '--keep-artifacts'], { client: c });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--artifacts and --keep-artifacts contradict each other');
  });

  it('the artifact is removed through a short-lived read-write pod, which is deleted afterwards', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-a', '--yes', '--artifacts'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint, artifacts:/checkpoints/ck-a)\n');
    const create = c.calls.find((x) => x.verb === 'create' && x.name?.startsWith('snapshotctl-remover-'));
    const pod = create?.body as Pod;
    expect(pod.spec.containers[0]?.command).toEqual(['rm', '-rf', '--', '/checkpoints/ck-a']);
    expect(pod.spec.volumes).toEqual([{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc', readOnly: false } }]);
    expect(c.writes().filter((w) => w.verb === 'delete').map((w) => `${w.resource}/${w.name}`)).toContain(`pods/${create?.name}`);
  });

  it('unknown IDs are reported per ID, exit 1', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'nope', 'ck-a', '-y'], { client: c });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe('checkpoint "nope" not found: no checkpoint "nope" in namespace "default"');
  });

  it('-l deletes only the checkpoints whose Job matches', async () => {
    const c = cluster();
    const r = await runCli(['delete', '-l', 'team=ml', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
  });

  it('--all with a running restore: the other IDs go (the orphan too), that one is refused', async () => {
    const c = cluster();
    const r = await runCli(['delete', '--all', '--yes'], { client: c });
    expect(r.code).toBe(1);
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
    expect(removers(c)).toEqual([['rm', '-rf', '--', '/checkpoints/ck-a'], ['rm', '-rf', '--', '/checkpoints/orphan-1']]);
  });

  it('without --yes: refused when stdin is not a terminal (exit 2, no call)', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-a'], { client: c });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to delete without --yes');
    expect(c.calls).toEqual([]);
  });

  it('on a terminal it asks; "n" deletes nothing, "y" deletes', async () => {
    const c = cluster();
    const no = await runCli(['delete', 'ck-a'], { client: c, stdinIsTTY: true, answer: 'n' });
    expect(no.code).toBe(1);
    expect(no.prompts[0]).toContain('ck-a: job.batch/wa-checkpoint, pod/ra-done, its artifact directory (version 1, 4Ki)');
    expect(names(c)).toEqual([]);
    expect(removers(c)).toEqual([]);
    const yes = await runCli(['delete', 'ck-a'], { client: c, stdinIsTTY: true, answer: 'y' });
    expect(yes.code).toBe(0);
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
  });

  it('exactly one form: IDs, --all or -l (exit 2)', async () => {
    for (const args of [['delete'], ['delete', 'a', '--all'], ['delete', '--all', '-l', 'x=y'], ['delete', 'bad/id', '-y']]) {
      const r = await runCli(args, { client: cluster() });
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});

/** A DynamoCheckpoint whose status names `identityHash` (the operator writes it; anyone with RBAC can too). */
function seedDynamoCheckpoint(c: FakeKubeClient, name: string, identityHash: string, labels: Record<string, string> = {}): void {
  c.seed(RESOURCES.dynamocheckpoints, {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoCheckpoint',
    metadata: { name, namespace: 'default', labels, creationTimestamp: '2026-11-23T11:00:00Z' },
    status: { phase: 'Ready', identityHash },
  });
}

describe('delete: IDs from cluster objects become paths only when they are valid checkpoint IDs', () => {
  it.each([
    ['-l', ['-l', 'team=evil']],
    ['--all', ['--all']],
  ])('%s --artifacts skips a DynamoCheckpoint whose status.identityHash climbs out of its directory, with a warning naming it', async (_form, args) => {
    const c = cluster();
    seedDynamoCheckpoint(c, 'evil', 'x/../ck-b', { team: 'evil' });
    const r = await runCli(['delete', ...args, '--artifacts', '--yes', '-o', 'json'], { client: c });
    const removers = c.calls.filter((x) => x.verb === 'create').map((x) => (x.body as Pod).spec.containers[0]?.command);
    expect(removers.flat().some((arg) => typeof arg === 'string' && arg.includes('..'))).toBe(false);
    expect(c.peek(RESOURCES.dynamocheckpoints, 'default', 'evil')).toBeDefined();
    expect(r.stderr).toMatch(/warning: skipping checkpoint ID "x\/\.\.\/ck-b" of dynamocheckpoint\.nvidia\.com\/evil: it contains a path separator/);
    const items = (JSON.parse(r.stdout) as { items: Array<{ id: string; status: string; reason: string | null }> }).items;
    expect(items.find((i) => i.id === 'x/../ck-b')).toMatchObject({ status: 'refused' });
    expect(r.code).toBe(1);
  });

  it('without --artifacts no path is built: the objects are deleted by name', async () => {
    const c = cluster();
    seedDynamoCheckpoint(c, 'evil', 'x/../ck-b', { team: 'evil' });
    const r = await runCli(['delete', '-l', 'team=evil', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(names(c)).toEqual(['dynamocheckpoints/evil']);
  });
});
