/** `snapshotctl list` through the real program on a fake cluster: exact stdout and exit codes. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { ApiError } from '../kube/errors.js';
import { RESOURCES } from '../kube/types.js';
import { ago, answerStorageScans, runCli, seedAgent, seedCheckpoint, seedRestore } from './testing/run-cli.js';

function catalogueCluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c);
  seedCheckpoint(c, 'ck-a', { pod: 'worker-a', verdict: 'completed', node: 'node-1', minutesAgo: 180 });
  seedCheckpoint(c, 'ck-b', { pod: 'worker-b', verdict: 'failed', node: 'node-2', minutesAgo: 30 });
  seedCheckpoint(c, 'ck-c', { pod: 'worker-c', node: 'node-1', minutesAgo: 1 });
  seedRestore(c, 'ck-a', 'restore-1', { status: 'completed', minutesAgo: 100 });
  seedRestore(c, 'ck-a', 'restore-2', { status: 'in_progress', minutesAgo: 10 });
  seedRestore(c, 'ck-a', 'restore-3', { status: 'failed', phase: 'Failed', minutesAgo: 20 });
  seedRestore(c, 'gone', 'orphan', { status: 'completed', minutesAgo: 5000 });
  c.seed(RESOURCES.dynamocheckpoints, {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoCheckpoint',
    metadata: { name: 'llama', namespace: 'default', creationTimestamp: ago(60) },
    spec: { identity: { model: 'meta-llama/Llama-2-7b-hf', backendFramework: 'vllm' } },
    status: { phase: 'Ready', identityHash: '96429b2725761a09', jobName: 'checkpoint-job-96429b2725761a09-1' },
  });
  // Another namespace: only -A shows it.
  seedCheckpoint(c, 'ck-other', { ns: 'ml', pod: 'w', verdict: 'completed', minutesAgo: 2 });
  // The volume: ck-a's artifact, and one whose Job is gone (an orphan).
  answerStorageScans(c, [
    { id: 'ck-a', kib: 2 * 1024 * 1024, minutesAgo: 180 },
    { id: 'old-run', kib: 17 * 1024 * 1024, minutesAgo: 2000, node: 'node-2', pod: 'old-worker-checkpoint-x1y2z' },
  ]);
  return c;
}

describe('list', () => {
  it('a table of one row per checkpoint ID, newest first, with restores counted', async () => {
    const r = await runCli(['list'], { client: catalogueCluster() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'ID                 SOURCE    STATUS        NODE     AGE     RESTORES',
        'ck-c               job       in_progress   node-1   60s     0',
        'ck-b               job       failed        node-2   30m     0',
        '96429b2725761a09   dckpt     completed     <none>   60m     0',
        'ck-a               job       completed     node-1   3h      3 (last in_progress)',
        'old-run            orphan    completed     node-2   33h     0',
        'gone               restore   unknown       <none>   3d11h   1 (last completed)',
        '',
      ].join('\n'),
    );
  });

  it('-o wide adds ARTIFACT (size on the volume, missing), JOB, POD, LOCATION and HASH; -A adds NAMESPACE', async () => {
    const r = await runCli(['list', '-A', '-o', 'wide'], { client: catalogueCluster() });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+ID\s+SOURCE\s+STATUS\s+NODE\s+AGE\s+RESTORES\s+ARTIFACT\s+JOB\s+POD\s+LOCATION\s+HASH$/);
    expect(lines[1]).toMatch(/^default\s+ck-c\s+job\s+in_progress\s+node-1\s+60s\s+0\s+<unknown>\s+worker-c-checkpoint\s+worker-c-checkpoint-abcde\s+\/checkpoints\/ck-c\/versions\/1\s+<none>$/);
    // ml has no agent, so its volume was not looked at.
    expect(lines[2]).toMatch(/^ml\s+ck-other\s+job\s+completed\s+\S+\s+\S+\s+0\s+<unknown>\s/);
    expect(lines.find((l) => /\s96429b2725761a09\s/.test(l))).toMatch(/\s0\s+missing\s/);
    expect(lines.find((l) => /\sck-a\s/.test(l))).toMatch(/\s2Gi\s+worker-a-checkpoint\s/);
    expect(lines.find((l) => /\sold-run\s/.test(l))).toMatch(/^default\s+old-run\s+orphan\s+completed\s+node-2\s+33h\s+0\s+17Gi\s+<none>\s+old-worker-checkpoint-x1y2z\s+\/checkpoints\/old-run\/versions\/1\s+<none>$/);
    expect(lines).toHaveLength(8);
  });

  it('--no-storage: no reader pod, only the cluster objects (artifacts unknown)', async () => {
    const c = catalogueCluster();
    const r = await runCli(['list', '--no-storage', '-o', 'json'], { client: c });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { items: Array<{ id: string; artifact: unknown }> };
    expect(doc.items.map((i) => i.id)).not.toContain('old-run');
    expect(doc.items.every((i) => i.artifact === null)).toBe(true);
    expect(c.writes().filter((w) => w.verb === 'create')).toEqual([]);
  });

  it('the reader pod is deleted afterwards, and a volume that cannot be listed is a warning, not a failure', async () => {
    const c = catalogueCluster();
    const ok = await runCli(['list', '-o', 'name'], { client: c });
    expect(ok.code).toBe(0);
    const created = c.writes().filter((w) => w.verb === 'create').map((w) => `${w.resource}/${w.name}`);
    expect(created).toEqual([expect.stringMatching(/^pods\/snapshotctl-reader-/)]);
    expect(c.writes().filter((w) => w.verb === 'delete').map((w) => `${w.resource}/${w.name}`)).toEqual(created);
    const denied = catalogueCluster();
    denied.failWith = (call) => (call.verb === 'create' && call.resource === 'pods' ? new ApiError({ verb: 'create', resource: RESOURCES.pods, namespace: 'default', status: 403, reason: 'Forbidden', message: 'pods is forbidden' }) : undefined);
    const r = await runCli(['list', '-o', 'name'], { client: denied });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('old-run');
    expect(r.stderr).toMatch(/did not list the checkpoint volume pvc\/snapshot-pvc in namespace "default": .*forbidden.*--no-storage/s);
  });

  it('-o json is the documented CheckpointList', async () => {
    const r = await runCli(['list', '-o', 'json'], { client: catalogueCluster() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: Array<Record<string, unknown>> };
    expect(doc.apiVersion).toBe('snapshotctl/v1');
    expect(doc.kind).toBe('CheckpointList');
    expect(doc.items.map((i) => i['id'])).toEqual(['ck-c', 'ck-b', '96429b2725761a09', 'ck-a', 'old-run', 'gone']);
    expect(doc.items[3]).toEqual({
      id: 'ck-a',
      namespace: 'default',
      source: 'job',
      status: 'completed',
      phase: null,
      node: 'node-1',
      createdAt: ago(180),
      job: 'worker-a-checkpoint',
      pod: 'worker-a-checkpoint-abcde',
      dynamoCheckpoint: null,
      identityHash: null,
      location: '/checkpoints/ck-a/versions/1',
      reason: null,
      artifact: { state: 'present', versions: ['1'], bytes: 2 * 1024 ** 3, createdAt: ago(180), engine: 'criu', simulated: false, manifest: true },
      restores: {
        total: 3,
        completed: 1,
        failed: 1,
        inProgress: 1,
        last: { pod: 'restore-2', status: 'in_progress', node: 'node-1', phase: 'Running', createdAt: ago(10) },
      },
    });
    expect(doc.items[2]).toMatchObject({ source: 'dckpt', phase: 'Ready', identityHash: '96429b2725761a09', job: 'checkpoint-job-96429b2725761a09-1', status: 'completed' });
    expect(doc.items[1]).toMatchObject({ status: 'failed', reason: 'the snapshot agent marked the checkpoint failed', artifact: null });
    expect(doc.items[4]).toMatchObject({ id: 'old-run', source: 'orphan', status: 'completed', job: null, node: 'node-2', artifact: { state: 'present', bytes: 17 * 1024 ** 3 } });
  });

  it('-o yaml parses to the same document; -o name prints checkpoint/<id>, as kubectl prints type/name', async () => {
    const y = await runCli(['list', '-o', 'yaml'], { client: catalogueCluster() });
    const j = await runCli(['list', '-o', 'json'], { client: catalogueCluster() });
    expect(parse(y.stdout)).toEqual(JSON.parse(j.stdout));
    const n = await runCli(['list', '-o', 'name'], { client: catalogueCluster() });
    expect(n.stdout).toBe('checkpoint/ck-c\ncheckpoint/ck-b\ncheckpoint/96429b2725761a09\ncheckpoint/ck-a\ncheckpoint/old-run\ncheckpoint/gone\n');
  });

  it('-l matches Jobs and DynamoCheckpoints; restore pods only add counts to those rows', async () => {
    const c = new FakeKubeClient('default');
    seedCheckpoint(c, 'ck-x', { pod: 'x', verdict: 'completed', minutesAgo: 5, labels: { team: 'ml' } });
    seedCheckpoint(c, 'ck-y', { pod: 'y', verdict: 'completed', minutesAgo: 5 });
    seedRestore(c, 'ck-x', 'rx', { status: 'completed', minutesAgo: 1 });
    seedRestore(c, 'ck-y', 'ry', { status: 'completed', minutesAgo: 1 });
    const r = await runCli(['list', '-l', 'team=ml', '-o', 'json'], { client: c });
    const doc = JSON.parse(r.stdout) as { items: Array<{ id: string; restores: { total: number }; location: string | null }> };
    expect(doc.items.map((i) => [i.id, i.restores.total])).toEqual([['ck-x', 1]]);
    // No agent DaemonSet: the location is unknown, the row still shows.
    expect(doc.items[0]?.location).toBeNull();
  });

  it('nothing found: empty stdout, a note on stderr, exit 0', async () => {
    const r = await runCli(['list', '-n', 'empty'], { client: new FakeKubeClient() });
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain('No checkpoints found in namespace "empty".');
  });

  it('a cluster without the DynamoCheckpoint CRD still lists Jobs', async () => {
    const c = catalogueCluster();
    c.failWith = (call) =>
      call.resource === 'dynamocheckpoints'
        ? new ApiError({ verb: 'list', resource: RESOURCES.dynamocheckpoints, namespace: 'default', status: 404, reason: 'NotFound', message: '404 page not found' })
        : undefined;
    const r = await runCli(['list', '-o', 'name'], { client: c });
    expect(r.stdout).toBe('checkpoint/ck-c\ncheckpoint/ck-b\ncheckpoint/ck-a\ncheckpoint/old-run\ncheckpoint/gone\n');
  });

  it('forbidden Jobs: exit 3 with the RBAC hint', async () => {
    const c = catalogueCluster();
    c.failWith = (call) => (call.resource === 'jobs' ? new ApiError({ verb: 'list', resource: RESOURCES.jobs, namespace: 'default', status: 403, reason: 'Forbidden', message: 'forbidden' }) : undefined);
    const r = await runCli(['list'], { client: c });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
  });

  it('-A where agent DaemonSets cannot be listed across namespaces: the rows still show, and a warning says which volumes were not looked at', async () => {
    const c = catalogueCluster();
    c.failWith = (call) =>
      call.resource === 'daemonsets' && call.namespace === undefined
        ? new ApiError({ verb: 'list', resource: RESOURCES.daemonsets, status: 403, reason: 'Forbidden', message: 'daemonsets.apps is forbidden' })
        : undefined;
    const r = await runCli(['list', '-A'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ck-other');
    expect(r.stdout).toContain('old-run'); // default has checkpoint objects: its volume was still listed
    expect(r.stderr).toMatch(/could not list snapshot agent DaemonSets in all namespaces \(.*forbidden.*\); the checkpoint volumes of namespaces without a checkpoint object are not listed \(list them with -n NAMESPACE\)/);
  });

  it('usage errors: -n with -A, bad output, bad selector (exit 2, no cluster call)', async () => {
    expect((await runCli(['list', '-n', 'a', '-A'])).code).toBe(2);
    expect((await runCli(['list', '-o', 'kv'])).code).toBe(2);
    const r = await runCli(['list', '-l', 'a b=c']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('label selector');
  });
});

describe('-l: the worker manifest labels of a checkpoint', () => {
  it.each([
    ['team=ml', ['ck-x']],
    ['team==ml', ['ck-x']],
    ['team!=ml', ['ck-y']],
    ['team', ['ck-x']],
    ['!team', ['ck-y']],
    ['team=ml,tier=gold', []],
    ['app=shared', ['ck-x', 'ck-y']],
  ])('-l %s', async (selector, ids) => {
    const c = new FakeKubeClient('default');
    seedCheckpoint(c, 'ck-x', { pod: 'x', verdict: 'completed', minutesAgo: 5, labels: { team: 'ml', app: 'shared' } });
    seedCheckpoint(c, 'ck-y', { pod: 'y', verdict: 'completed', minutesAgo: 6, labels: { app: 'shared' } });
    const r = await runCli(['list', '-l', selector, '-o', 'name'], { client: c });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(ids.map((id) => `checkpoint/${id}\n`).join(''));
  });
});

describe('a DynamoCheckpoint is listed under the identity hash that checkpoint --identity finds it by', () => {
  // Pending (no status yet), labelled with its hash by snapshotctl, with an identity this
  // version cannot hash (a field it does not know): the label is the one thing that says
  // the hash. The catalogue used to skip the label and list it under its name.
  const hash = '0123456789abcdef';
  function pendingLabelled(): FakeKubeClient {
    const c = new FakeKubeClient();
    c.seed(RESOURCES.dynamocheckpoints, {
      apiVersion: 'nvidia.com/v1alpha1',
      kind: 'DynamoCheckpoint',
      metadata: { name: 'qwen3-checkpoint', namespace: 'default', labels: { 'nvidia.com/snapshot-identity-hash': hash }, creationTimestamp: '2026-11-23T11:00:00Z' },
      spec: { identity: { model: 'Qwen/Qwen3-8B', backendFramework: 'vllm', quantization: 'fp8' }, job: { podTemplateSpec: { spec: { containers: [{ name: 'main' }] } } } },
    });
    return c;
  }

  it('list -o name names it by the label\'s hash, not by its name', async () => {
    const r = await runCli(['list', '-o', 'name'], { client: pendingLabelled() });
    expect(r).toMatchObject({ code: 0, stdout: `checkpoint/${hash}\n` });
  });

  it('list -o json gives the hash as ID and identity hash', async () => {
    const r = await runCli(['list', '-o', 'json'], { client: pendingLabelled() });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { items: Array<Record<string, unknown>> };
    expect(out.items[0]).toMatchObject({ id: hash, identityHash: hash, dynamoCheckpoint: 'qwen3-checkpoint' });
  });
});
