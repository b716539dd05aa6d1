/** Cleanup after a failed, timed-out or interrupted run: what it deletes, and what it never does. */
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient, DEFAULT_RETRY } from '../kube/client.js';
import { startScriptedServer, statusBody, writeKubeconfig, type ScriptedServer, type Step } from '../kube/testing/scripted-server.js';
import { RESOURCES } from '../kube/types.js';
import { Leftovers } from './leftovers.js';
import { agentFailureMessage, cleanupCreated } from './operation.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';

const STATUS = 'nvidia.com/snapshot-checkpoint-status';

function setup(verdict?: string) {
  const client = new FakeKubeClient('default');
  const job = client.seed(RESOURCES.jobs, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'w-checkpoint', namespace: 'default', uid: 'u-1', ...(verdict ? { annotations: { [STATUS]: verdict } } : {}) },
  });
  const lines: string[] = [];
  const reporter = { phase: () => undefined, info: (t: string) => lines.push(`info: ${t}`), warn: (t: string) => lines.push(`warn: ${t}`) };
  const leftovers = new Leftovers();
  const created = [{ kind: 'Job' as const, namespace: 'default', name: 'w-checkpoint', uid: 'u-1' }];
  leftovers.add(created[0]!);
  return { client, job, lines, deps: { reporter, leftovers }, created };
}

describe('cleanupCreated', () => {
  it('deletes a Job still waiting for its verdict, only at the uid and resourceVersion it read', async () => {
    const { client, job, lines, deps, created } = setup();
    expect(await cleanupCreated(client, created, deps)).toEqual(['job.batch/w-checkpoint']);
    const del = client.writes().find((c) => c.verb === 'delete');
    expect(del?.options).toMatchObject({ propagationPolicy: 'Foreground', uid: 'u-1', resourceVersion: job.metadata?.resourceVersion });
    expect(client.peek(RESOURCES.jobs, 'default', 'w-checkpoint')).toBeUndefined();
    expect(lines).toEqual(['info: deleted job.batch/w-checkpoint in namespace "default" (created by this run)']);
    expect(deps.leftovers.list()).toEqual([]);
  });

  it('never deletes a Job whose verdict is completed (issue 14 defect 7)', async () => {
    const { client, lines, deps, created } = setup('completed');
    expect(await cleanupCreated(client, created, deps)).toEqual([]);
    expect(client.writes()).toEqual([]);
    expect(client.peek(RESOURCES.jobs, 'default', 'w-checkpoint')).toBeDefined();
    expect(lines).toEqual(['info: kept job.batch/w-checkpoint in namespace "default": it is marked completed, so it is the result, not something to clean up']);
  });

  it('a verdict written between the read and the delete: the delete fails its precondition, the re-read keeps the Job', async () => {
    const { client, deps, created } = setup();
    const del = client.delete.bind(client);
    client.delete = async (res, ns, name, opts) => {
      // The agent annotates just before our delete arrives.
      client.update(RESOURCES.jobs, 'default', 'w-checkpoint', (j) => {
        j.metadata!.annotations = { [STATUS]: 'completed' };
      });
      client.delete = del;
      return del(res, ns, name, opts);
    };
    expect(await cleanupCreated(client, created, deps)).toEqual([]);
    expect(client.peek(RESOURCES.jobs, 'default', 'w-checkpoint')?.metadata?.annotations?.[STATUS]).toBe('completed');
  });

  it('a Job replaced by another of the same name is not ours: left alone, not reported as deleted', async () => {
    const { client, lines, deps, created } = setup();
    client.update(RESOURCES.jobs, 'default', 'w-checkpoint', (j) => {
      j.metadata!.uid = 'u-2';
    });
    expect(await cleanupCreated(client, created, deps)).toEqual([]);
    expect(client.writes()).toEqual([]);
    expect(lines).toEqual(['info: not deleting job.batch/w-checkpoint in namespace "default": it was replaced by another object of the same name, which this run did not create']);
  });

  it('a delete the server refuses names the object and the kubectl command, and leaves it on the list', async () => {
    const { client, lines, deps, created } = setup();
    client.delete = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    };
    expect(await cleanupCreated(client, created, deps)).toEqual([]);
    expect(lines).toEqual([
      'warn: could not delete job.batch/w-checkpoint in namespace "default": connect ECONNREFUSED 127.0.0.1:6443; delete it with: kubectl delete job w-checkpoint -n default --cascade=foreground',
    ]);
    expect(deps.leftovers.list()).toEqual([{ kind: 'Job', namespace: 'default', name: 'w-checkpoint' }]);
  });
});

describe('one retry policy: the look for the agent\'s failure event', () => {
  let server: ScriptedServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function realClient(steps: Step[]) {
    server = await startScriptedServer(steps);
    const sleeps: number[] = [];
    const client = await createKubeClient({
      kubeconfig: writeKubeconfig({ server: server.url, token: 't', namespace: 'ml' }),
      env: {},
      retry: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    });
    return { client, sleeps };
  }

  const events: Step['expect'] = { method: 'GET', path: '/api/v1/namespaces/ml/events', query: { fieldSelector: 'involvedObject.name=w-checkpoint' } };
  const busy: Step = { expect: events, respond: { status: 503, body: statusBody(503, 'ServiceUnavailable', 'busy') } };

  it('a 503 that persists is tried DEFAULT_RETRY.maxAttempts times in all, not that many times each look', async () => {
    const steps = Array.from({ length: DEFAULT_RETRY.maxAttempts * 4 }, () => busy);
    const { client, sleeps } = await realClient(steps);
    expect(await agentFailureMessage(client, 'ml', ['w-checkpoint'])).toBeUndefined();
    expect(server!.requests).toHaveLength(DEFAULT_RETRY.maxAttempts);
    expect(sleeps).toHaveLength(DEFAULT_RETRY.maxAttempts - 1);
  });

  it('a 503 once is retried by the client, and the event it then lists is the answer', async () => {
    const failed = { metadata: { name: 'e1', resourceVersion: '7' }, type: 'Warning', reason: 'CheckpointFailed', message: 'criu dump failed', lastTimestamp: '2026-01-01T00:00:00Z' };
    const { client } = await realClient([busy, { expect: events, respond: { status: 200, body: { kind: 'EventList', metadata: { resourceVersion: '9' }, items: [failed] } } }]);
    expect(await agentFailureMessage(client, 'ml', ['w-checkpoint'])).toBe('criu dump failed');
    expect(server!.requests).toHaveLength(2);
  });
});
