/**
 * A failed API call reads as one sentence through the real program: the translator in
 * src/kube/errors.ts names the call and the object once, and no caller repeats it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { ApiError, type Verb } from '../kube/errors.js';
import { RESOURCES, type ResourceType } from '../kube/types.js';
import { runCli, seedAgent } from './testing/run-cli.js';

/** The smallest worker manifest of the fixtures (no namespace: the context's, "default"). */
const WORKER = readFileSync(new URL('../../test/fixtures/manifests/minimal-pod.json', import.meta.url), 'utf8');

/** A 403 on `verb` of `resource`, named as the real client names it (the object of a create, say). */
function forbidden(verb: Verb, resource: ResourceType, plural: string): (call: { verb: Verb; resource: string; name?: string }) => ApiError | undefined {
  return (call) =>
    call.verb === verb && call.resource === plural
      ? new ApiError({ verb, resource, namespace: 'default', name: call.name, status: 403, reason: 'Forbidden', message: `${plural} is forbidden: User "ci" cannot ${verb} resource "${plural}"` })
      : undefined;
}

/** How often `needle` stands in the `error:` line of `stderr` (progress lines are not counted). */
function count(stderr: string, needle: string): number {
  const line = stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
  return line.split(needle).length - 1;
}

/** `checkpoint --manifest worker.json` on a cluster with the agent, `fail` making one call fail. */
function checkpointFailing(fail: FakeKubeClient['failWith']) {
  const client = new FakeKubeClient();
  seedAgent(client);
  client.failWith = fail;
  return runCli(['checkpoint', '--manifest', 'worker.json', '--checkpoint-id', 'ck-1'], { client, files: { 'worker.json': WORKER } });
}

describe('API error sentences are said once', () => {
  it('a 403 on listing daemonsets (checkpoint looking for the storage) names the call once', async () => {
    const r = await checkpointFailing(forbidden('list', RESOURCES.daemonsets, 'daemonsets'));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error: cannot list daemonsets.apps in namespace "default": forbidden (User "ci" cannot list resource "daemonsets")\n');
    expect(count(r.stderr, 'daemonsets.apps in namespace "default"')).toBe(1);
  });

  it('a 403 on listing jobs (list) names the call once', async () => {
    const client = new FakeKubeClient();
    client.failWith = forbidden('list', RESOURCES.jobs, 'jobs');
    const r = await runCli(['list'], { client });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot list jobs.batch in namespace "default": forbidden (User "ci" cannot list resource "jobs")\n');
    expect(count(r.stderr, 'jobs.batch in namespace "default"')).toBe(1);
  });

  it('a 403 on creating the checkpoint Job names the call once', async () => {
    const r = await checkpointFailing(forbidden('create', RESOURCES.jobs, 'jobs'));
    expect(r.code).toBe(3);
    expect(count(r.stderr, 'in namespace "default"')).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot create jobs\.batch "[^"]+" in namespace "default": forbidden/m);
  });
});
