/** `snapshotctl delete` through the real program on a fake cluster. */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../commands/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import type { Pod } from '../protocol/index.js';
import { runCli, seedAgent, seedCheckpoint, seedRestore } from './testing/run-cli.js';

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
  return c;
}

const names = (c: FakeKubeClient) => c.writes().filter((w) => w.verb === 'delete').map((w) => `${w.resource}/${w.name}`);

describe('delete', () => {
  it('deletes the Job (foreground) and finished restore pods; leaves everything else', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-a', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint)\n');
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
    const jobDelete = c.calls.find((x) => x.verb === 'delete' && x.resource === 'jobs');
    expect(jobDelete?.options).toMatchObject({ propagationPolicy: 'Foreground' });
    expect(c.peek(RESOURCES.jobs, 'default', 'wb-checkpoint')).toBeDefined();
  });

  it('takes list -o name\'s checkpoint/<id> lines as IDs', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'checkpoint/ck-a', '--yes'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint)\n');
  });

  it('a running restore pod blocks the ID without --force (exit 1, nothing of it deleted); --force deletes it', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-b', 'ck-a', '--yes'], { client: c });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'checkpoint "ck-b" not deleted: restore pod rb-live still running from it; pass --force to delete it too\n' +
        'checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint)\n',
    );
    expect(r.stderr).toContain('1 of 2 checkpoints not deleted');
    expect(c.peek(RESOURCES.pods, 'default', 'rb-live')).toBeDefined();
    const f = await runCli(['delete', 'ck-b', '--yes', '--force', '-o', 'json'], { client: c });
    expect(f.code).toBe(0);
    expect(JSON.parse(f.stdout)).toEqual({
      apiVersion: 'snapshotctl/v1',
      kind: 'CheckpointDeleteResult',
      items: [{ id: 'ck-b', namespace: 'default', status: 'deleted', deleted: ['pod/rb-live', 'job.batch/wb-checkpoint'], reason: null }],
    });
  });

  it('--artifacts removes the directory through a short-lived read-write pod, then deletes that pod', async () => {
    const c = cluster();
    const r = await runCli(['delete', 'ck-a', '--yes', '--artifacts'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('checkpoint "ck-a" deleted (pod/ra-done, job.batch/wa-checkpoint, artifacts:/checkpoints/ck-a)\n');
    const create = c.calls.find((x) => x.verb === 'create');
    const pod = create?.body as Pod;
    expect(pod.spec.containers[0]?.command).toEqual(['rm', '-rf', '--', '/checkpoints/ck-a']);
    expect(pod.spec.volumes).toEqual([{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc', readOnly: false } }]);
    expect(names(c)).toContain(`pods/${create?.name}`);
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

  it('--all with a running restore: the other IDs go, that one is refused', async () => {
    const c = cluster();
    const r = await runCli(['delete', '--all', '--yes'], { client: c });
    expect(r.code).toBe(1);
    expect(names(c)).toEqual(['pods/ra-done', 'jobs/wa-checkpoint']);
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
    expect(no.prompts[0]).toContain('ck-a: job.batch/wa-checkpoint, pod/ra-done');
    expect(c.writes()).toEqual([]);
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
