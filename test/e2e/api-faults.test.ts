/**
 * The API server misbehaving or refusing, through the built binary: RBAC 403, no
 * agent in the namespace, dropped watch streams, `410 Gone` on a resumed watch, and
 * 503 with Retry-After. Waiting must survive the transient ones (exit 0); the refusals
 * exit 3 with a sentence naming the call and the remedy, having created nothing.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvLines, leftovers, runCli, setAgentFaults, useCluster, waitFor, WORKER_MANIFEST } from './harness.js';
import type { DevCluster } from '../../src/dev/cluster.js';
import type { RequestLogEntry } from '../../src/dev/api/index.js';

const JOB = 'vllm-worker-checkpoint';
const ID = 'e2e-api-1';
const CHECKPOINT = ['checkpoint', '--manifest', WORKER_MANIFEST, '--checkpoint-id', ID, '--timeout', '20s'];

/** The lists of the CLI's wait on its Job (by name), not the look-ups by checkpoint ID before it. */
function waitLists(c: DevCluster): RequestLogEntry[] {
  return c.api.requestLog.entries({ verb: 'list', resource: 'jobs' }).filter((e) => e.query['fieldSelector'] === `metadata.name=${JOB}`);
}

describe('API refusals and faults', () => {
  const cluster = useCluster();

  it('403 on creating the Job: exit 3 naming the forbidden call and manifests/rbac-cli.yaml; nothing created', async () => {
    const c = cluster();
    // Everything manifests/rbac-cli.yaml grants, except create on jobs.
    const token = c.api.addToken('ci', [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'delete'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['events'], verbs: ['list', 'watch'] },
    ]);
    const kubeconfig = join(c.dir, 'kubeconfig-ci');
    await c.api.writeKubeconfig(kubeconfig, { token, namespace: 'default' });

    const r = await runCli(CHECKPOINT, { kubeconfig });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/\nerror: .*cannot create jobs\.batch "vllm-worker-checkpoint" in namespace "default": forbidden \(.*User "ci" cannot create resource "jobs" in API group "batch".*\)\n/);
    expect(r.stderr).toContain('manifests/rbac-cli.yaml');
    expect(c.api.requestLog.count({ verb: 'create', resource: 'jobs', status: 403, user: 'ci' })).toBe(1);
    expect(c.api.requestLog.entries({ user: 'ci' }).filter((e) => e.status < 400 && ['create', 'patch', 'delete'].includes(e.verb))).toEqual([]);
    expect(leftovers(c)).toEqual([]);
  });

  it('a namespace without the agent DaemonSet: exit 3 "no snapshot agent DaemonSet"; nothing created', async () => {
    const c = cluster();
    c.api.store.create('namespaces', { metadata: { name: 'empty' } });
    const r = await runCli([...CHECKPOINT, '-n', 'empty'], { cluster: c });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: no snapshot agent DaemonSet in namespace "empty"');
    expect(r.stderr).toMatch(/\nhint: .*kubectl apply -f manifests\//);
    expect(c.api.requestLog.count({ verb: 'create' })).toBe(0);
    expect(leftovers(c)).toEqual([]);
  });

  it('the Job watch dropped mid-wait: the CLI resumes from its resourceVersion and exits 0', async () => {
    const c = cluster();
    // The verdict comes well after the first stream is cut.
    setAgentFaults(c, { delayMs: 600 });
    const run = runCli(CHECKPOINT, { cluster: c });
    await waitFor('the CLI to watch the Job', () => c.api.faults.openWatches({ resource: 'jobs' }) > 0);
    expect(c.api.store.get('jobs', 'default', JOB)?.metadata.annotations?.['nvidia.com/snapshot-checkpoint-status']).toBeUndefined();
    expect(c.api.faults.dropWatches({ resource: 'jobs' })).toBeGreaterThan(0);
    const r = await run;

    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    const watches = c.api.requestLog.entries({ verb: 'watch', resource: 'jobs' });
    expect(watches.length).toBeGreaterThanOrEqual(2);
    // Resumed, not restarted: one list, and the second watch carries a resourceVersion.
    expect(waitLists(c)).toHaveLength(1);
    expect(watches[1]?.query['resourceVersion']).toMatch(/^\d+$/);
  });

  it('410 Gone on the resumed watch: the CLI re-lists and exits 0', async () => {
    const c = cluster();
    setAgentFaults(c, { delayMs: 600 });
    // First Job watch: cut at once; the resumed one: 410 Gone; then all is well.
    c.api.faults.add({ verb: 'watch', resource: 'jobs', times: 1, effect: { kind: 'dropWatch' } });
    const gone = c.api.faults.add({ verb: 'watch', resource: 'jobs', times: 1, effect: { kind: 'status', code: 410 } });
    const r = await runCli(CHECKPOINT, { cluster: c });

    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    expect(gone.hits).toBe(1);
    const watches = c.api.requestLog.entries({ verb: 'watch', resource: 'jobs' });
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches[1]?.fault).toBeDefined();
    // The 410 made it list again (after a short back-off); that list may already carry
    // the verdict, else a third watch follows it.
    const lists = waitLists(c);
    expect(lists).toHaveLength(2);
    expect(lists[1]!.time).toBeGreaterThanOrEqual(watches[1]!.time);
    if (watches[2]) expect(watches[2].time).toBeGreaterThanOrEqual(lists[1]!.time);
  });

  it('503 with Retry-After: 1 twice on reading jobs, then recovery: exit 0 after honouring Retry-After', async () => {
    const c = cluster();
    // The CLI reads the Job with list and watch; `get` is left out because the agent
    // reads the Job with get and would take one of the two 503s.
    const fault = c.api.faults.add({
      verb: ['list', 'watch'],
      resource: 'jobs',
      times: 2,
      effect: { kind: 'status', code: 503, retryAfterSeconds: 1 },
    });
    const r = await runCli(CHECKPOINT, { cluster: c });

    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(kvLines(r.stdout)[0]).toBe('status=completed');
    expect(fault.hits).toBe(2);
    const reads = c.api.requestLog.entries({ resource: 'jobs' }).filter((e) => ['list', 'watch'].includes(e.verb));
    expect(reads.slice(0, 3).map((e) => e.status)).toEqual([503, 503, 200]);
    // Retry-After: 1 was honoured between the attempts (allow a little timer slack).
    expect(reads[1]!.time - reads[0]!.time).toBeGreaterThanOrEqual(900);
    expect(reads[2]!.time - reads[1]!.time).toBeGreaterThanOrEqual(900);
  });
});
