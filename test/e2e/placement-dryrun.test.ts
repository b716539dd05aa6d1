/**
 * Where the checkpoint pods go when only some nodes run the agent (docs/protocol.md §11),
 * and the dry-run modes: `--dry-run=server` persists nothing; offline `--dry-run` with
 * `--pvc`/`--base-path` contacts no cluster at all.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeObject, Store } from '../../src/dev/api/index.js';
import { closedPort, kvLines, leftovers, runCli, useCluster, waitFor, WORKER_MANIFEST, writeManifest } from './harness.js';

/** A worker manifest named `name`, without the GPU limit, so only the agent affinity keeps it off the CPU nodes. */
function cpuWorker(name: string) {
  return (pod: KubeObject): void => {
    pod.metadata.name = name;
    for (const c of pod.spec.containers as Array<{ resources?: unknown }>) delete c.resources;
  };
}

/** The node the pod of checkpoint Job `job` was bound to. */
function jobPodNode(store: Store, job: string): string | undefined {
  const pods = store.list('pods', { namespace: 'default', labelSelector: `batch.kubernetes.io/job-name=${job}` });
  expect(pods).toHaveLength(1);
  return pods[0]?.spec.nodeName as string | undefined;
}

describe('placement on agent nodes (3 nodes, the agent on node-1 only)', () => {
  const cluster = useCluster({ nodes: 3, gpuNodes: 1 });

  it('every checkpoint Job pod is scheduled on node-1', async () => {
    const c = cluster();
    expect([...c.agents.keys()]).toEqual(['node-1']);
    const names = ['worker-a', 'worker-b', 'worker-c'];
    // Three CLIs at once: each must place its own Job on the agent's node.
    const runs = await Promise.all(
      names.map(async (name) => {
        const manifest = await writeManifest(c, `${name}.yaml`, cpuWorker(name));
        return runCli(['checkpoint', '--manifest', manifest, '--checkpoint-id', `place-${name}`, '--timeout', '20s'], { cluster: c });
      }),
    );
    for (const [i, name] of names.entries()) {
      const r = runs[i]!;
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(kvLines(r.stdout)).toContain(`checkpoint_job=${name}-checkpoint`);
      expect(jobPodNode(c.api.store, `${name}-checkpoint`)).toBe('node-1');
      const job = c.api.store.mustGet('jobs', 'default', `${name}-checkpoint`);
      expect(JSON.stringify(job.spec.template.spec.affinity)).toContain('"values":["node-1"]');
    }
  });

  it('control: without the agent affinity the scheduler spreads such a pod to a CPU node (so the test above can fail)', async () => {
    const c = cluster();
    const manifest = await writeManifest(c, 'worker-x.yaml', cpuWorker('worker-x'));
    const r = await runCli(['checkpoint', '--manifest', manifest, '--checkpoint-id', 'place-x', '--no-agent-affinity', '--no-wait'], { cluster: c });
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=created');
    await waitFor('the Job pod to be bound', () => c.api.store.list('pods', { labelSelector: 'batch.kubernetes.io/job-name=worker-x-checkpoint' })[0]?.spec.nodeName !== undefined);
    expect(['node-2', 'node-3']).toContain(jobPodNode(c.api.store, 'worker-x-checkpoint'));
  });
});

describe('--dry-run=server', () => {
  const cluster = useCluster();

  it('sends the Job with dryRun=All and persists nothing', async () => {
    const c = cluster();
    const r = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'dry-1', '--dry-run=server', '-o', 'json'], { cluster: c });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; items: KubeObject[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Job/vllm-worker-checkpoint']);
    const creates = c.api.requestLog.entries({ verb: 'create', resource: 'jobs' });
    expect(creates).toHaveLength(1);
    expect(creates[0]?.query['dryRun']).toBe('All');
    expect(leftovers(c)).toEqual([]);
  });

  it('restore --manifest: progress says it is a server-side dry run, not that it is creating the pod', async () => {
    const c = cluster();
    const r = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'dry-1', '--dry-run=server', '-o', 'name'], { cluster: c });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('pod/vllm-worker\n');
    expect(r.stderr).toMatch(/server-side dry run: sending pod\/vllm-worker to namespace "default" with dryRun=All \(the API server validates and admits it; nothing is persisted\)\n/);
    expect(r.stderr).not.toMatch(/creating/);
    expect(leftovers(c)).toEqual([]);
  });
});

describe('offline --dry-run with --pvc and --base-path', () => {
  // Were any API call made, it would be refused and the run would exit 3.
  it('prints the exact objects and contacts no cluster (the kubeconfig points at a closed port)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapshotctl-e2e-offline-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      const port = await closedPort();
      await writeFile(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: gone, cluster: {server: "http://127.0.0.1:' + String(port) + '", insecure-skip-tls-verify: true}}]',
          'users: [{name: gone, user: {token: nothing}}]',
          'contexts: [{name: gone, context: {cluster: gone, user: gone, namespace: default}}]',
          'current-context: gone',
        ].join('\n'),
      );
      const storage = ['--pvc', 'snapshot-pvc', '--base-path', '/checkpoints'];

      const ck = await runCli(['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'off-1', '--dry-run', '-o', 'json', ...storage], { kubeconfig });
      expect(ck.stderr).not.toMatch(/error|refused/i);
      expect(ck.code).toBe(0);
      const job = (JSON.parse(ck.stdout) as { items: KubeObject[] }).items;
      expect(job).toHaveLength(1);
      expect(job[0]?.kind).toBe('Job');
      expect(job[0]?.metadata.name).toBe('vllm-worker-checkpoint');
      expect(job[0]?.spec.template.spec.containers[0].command).toEqual(['cuda-checkpoint']);
      // Offline: no agent placement added (docs/protocol.md §11).
      expect(job[0]?.spec.template.spec.affinity).toBeUndefined();

      const rs = await runCli(['restore', '--manifest', WORKER_MANIFEST, '--checkpoint-id', 'off-1', '--dry-run', '-o', 'json', ...storage], { kubeconfig });
      expect(rs.stderr).not.toMatch(/error|refused/i);
      expect(rs.code).toBe(0);
      const pod = (JSON.parse(rs.stdout) as { items: KubeObject[] }).items[0];
      expect(pod?.kind).toBe('Pod');
      expect(pod?.spec.volumes).toContainEqual({ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } });

    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
