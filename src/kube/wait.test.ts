import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError, Interrupted, TimeoutError } from '../errors.js';
import type { Job } from '../protocol/types.js';
import { createKubeClient } from './client.js';
import { startScriptedServer, statusBody, writeKubeconfig, type ScriptedServer, type Step } from './testing/scripted-server.js';
import { RESOURCES, type KubeClient } from './types.js';
import { waitForObject, type WaitForOptions } from './wait.js';

let server: ScriptedServer | undefined;

/** A port nothing listens on (connections are refused). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    await s.close();
    s.assertDone();
  }
});

const JOBS = '/apis/batch/v1/namespaces/ml/jobs';
const SEL = 'metadata.name=w';

function jobAt(rv: string, succeeded = 0): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'w', namespace: 'ml', resourceVersion: rv },
    spec: { template: { spec: { containers: [] } } },
    status: { succeeded },
  };
}

const list = (rv: string, items: Job[] = []): Step => ({
  expect: { method: 'GET', path: JOBS, query: { fieldSelector: SEL, watch: null } },
  respond: { body: { kind: 'JobList', metadata: { resourceVersion: rv }, items } },
});

const watchFrom = (rv: string, respond: Step['respond']): Step => ({
  expect: { method: 'GET', path: JOBS, query: { watch: 'true', fieldSelector: SEL, resourceVersion: rv, allowWatchBookmarks: 'true' } },
  respond,
});

async function setup(steps: Step[]): Promise<{ client: KubeClient; sleeps: number[] }> {
  server = await startScriptedServer(steps);
  const sleeps: number[] = [];
  const client = await createKubeClient({
    kubeconfig: writeKubeconfig({ server: server.url, namespace: 'ml' }),
    env: {},
    retry: { sleep: async () => undefined, random: () => 0 },
  });
  return { client, sleeps };
}

/** Fast, abort-aware sleep that records each delay. */
function recordingSleep(sleeps: number[]): (ms: number, signal: AbortSignal) => Promise<void> {
  return async (ms, signal) => {
    sleeps.push(ms);
    if (signal.aborted) throw new Error('aborted');
    await new Promise((ok) => setImmediate(ok));
  };
}

function opts(extra: Partial<WaitForOptions<Job>> & { sleeps: number[] }): WaitForOptions<Job> {
  const { sleeps, ...rest } = extra;
  return {
    resource: RESOURCES.jobs,
    namespace: 'ml',
    name: 'w',
    until: (j) => (j?.status?.succeeded ?? 0) > 0,
    signal: new AbortController().signal,
    timeoutMs: 5_000,
    sleep: recordingSleep(sleeps),
    random: () => 0,
    ...rest,
  };
}

describe('waitForObject', () => {
  it('resolves from the list when the object is already done, without watching', async () => {
    const { client, sleeps } = await setup([list('10', [jobAt('9', 1)])]);
    const seen: Array<string | undefined> = [];
    const got = await waitForObject(client, opts({ sleeps, onProgress: (j) => seen.push(j?.metadata.resourceVersion) }));
    expect(got?.metadata.resourceVersion).toBe('9');
    expect(seen).toEqual(['9']);
  });

  it('watches from the list resourceVersion and reports every state', async () => {
    const { client, sleeps } = await setup([
      list('10'),
      watchFrom('10', {
        stream: [
          { type: 'ADDED', object: jobAt('11') },
          { type: 'MODIFIED', object: jobAt('12', 1) },
        ],
        then: 'hang',
      }),
    ]);
    const seen: Array<string | undefined> = [];
    const got = await waitForObject(client, opts({ sleeps, onProgress: (j) => seen.push(j?.metadata.resourceVersion) }));
    expect(got?.metadata.resourceVersion).toBe('12');
    expect(seen).toEqual([undefined, '11', '12']);
  });

  it('resumes from the last resourceVersion seen after the stream drops, and after a bookmark', async () => {
    const { client, sleeps } = await setup([
      list('10', [jobAt('10')]),
      watchFrom('10', { stream: [{ type: 'MODIFIED', object: jobAt('11') }], then: 'destroy' }),
      watchFrom('11', { stream: [{ type: 'BOOKMARK', object: { kind: 'Job', metadata: { resourceVersion: '15' } } }], then: 'end' }),
      watchFrom('15', { stream: [{ type: 'MODIFIED', object: jobAt('16', 1) }], then: 'hang' }),
    ]);
    const seen: Array<string | undefined> = [];
    const got = await waitForObject(client, opts({ sleeps, onProgress: (j) => seen.push(j?.metadata.resourceVersion) }));
    expect(got?.metadata.resourceVersion).toBe('16');
    expect(seen).toEqual(['10', '11', '16']); // the bookmark is not a state
  });

  it('re-lists on 410 Gone, as HTTP status and as an ERROR event', async () => {
    const { client, sleeps } = await setup([
      list('10'),
      watchFrom('10', { status: 410, body: statusBody(410, 'Expired', 'too old resource version: 10 (20)') }),
      list('20', [jobAt('20')]),
      watchFrom('20', { stream: [{ type: 'ERROR', object: statusBody(410, 'Expired', 'too old') }], then: 'hang' }),
      list('30', [jobAt('30', 1)]),
    ]);
    const got = await waitForObject(client, opts({ sleeps }));
    expect(got?.metadata.resourceVersion).toBe('30');
  });

  it('falls back to polling get when watch is forbidden, with one notice', async () => {
    const forbidden = statusBody(403, 'Forbidden', 'jobs.batch is forbidden: User "ci" cannot watch resource "jobs"');
    const get: Step['expect'] = { method: 'GET', path: `${JOBS}/w` };
    const { client, sleeps } = await setup([
      list('10'),
      watchFrom('10', { status: 403, body: forbidden }),
      { expect: get, respond: { status: 404, body: statusBody(404, 'NotFound', 'jobs.batch "w" not found', { name: 'w' }) } },
      { expect: get, respond: { body: jobAt('11') } },
      { expect: get, respond: { body: jobAt('12', 1) } },
    ]);
    const notices: string[] = [];
    const seen: Array<string | undefined> = [];
    const got = await waitForObject(
      client,
      opts({ sleeps, pollIntervalMs: 1500, onNotice: (m) => notices.push(m), onProgress: (j) => seen.push(j?.metadata.resourceVersion) }),
    );
    expect(got?.metadata.resourceVersion).toBe('12');
    expect(notices).toEqual(['watch on jobs is forbidden; polling every 1.5s']);
    expect(seen).toEqual([undefined, undefined, '11', '12']);
    expect(sleeps).toEqual([1500, 1500]);
  });

  it('calls until(undefined) on DELETED and resolves undefined', async () => {
    const { client, sleeps } = await setup([
      list('10', [jobAt('10')]),
      watchFrom('10', { stream: [{ type: 'DELETED', object: jobAt('11') }], then: 'hang' }),
    ]);
    const got = await waitForObject(client, opts({ sleeps, until: (j) => j === undefined }));
    expect(got).toBeUndefined();
  });

  it('retries transient errors until it gets through', async () => {
    const step503: Step = { expect: { method: 'GET', path: JOBS, query: { fieldSelector: SEL } }, respond: { status: 503, body: 'busy' } };
    // the client gives up after 5 attempts; the wait backs off and lists again
    // One try per round (the wait's own back-off, not the client's retries on top of it).
    const { client, sleeps } = await setup([step503, step503, step503, step503, step503, list('10', [jobAt('10', 1)])]);
    const got = await waitForObject(client, opts({ sleeps }));
    expect(got?.metadata.resourceVersion).toBe('10');
    expect(sleeps).toEqual([250, 500, 1000, 2000, 2000]);
  });

  it('honours Retry-After between its own tries', async () => {
    const busy: Step = { expect: { method: 'GET', path: JOBS, query: { fieldSelector: SEL } }, respond: { status: 503, headers: { 'Retry-After': '3' }, body: 'busy' } };
    const { client, sleeps } = await setup([busy, list('10', [jobAt('10', 1)])]);
    await waitForObject(client, opts({ sleeps }));
    expect(sleeps).toEqual([3000]);
  });

  it('410 Gone forever: backs off on every round, then polls with get (issue 14 defect 5)', async () => {
    const gone = (rv: string): Step => watchFrom(rv, { stream: [{ type: 'ERROR', object: statusBody(410, 'Expired', 'too old resource version') }], then: 'end' });
    const get: Step['expect'] = { method: 'GET', path: `${JOBS}/w` };
    const { client, sleeps } = await setup([
      list('10'),
      gone('10'),
      list('20'),
      gone('20'),
      list('30'),
      gone('30'),
      { expect: get, respond: { body: jobAt('31') } },
      { expect: get, respond: { body: jobAt('32', 1) } },
    ]);
    const notices: string[] = [];
    const got = await waitForObject(client, opts({ sleeps, onNotice: (m) => notices.push(m) }));
    expect(got?.metadata.resourceVersion).toBe('32');
    // 500 ms doubling (half of it with random 0), then the poll interval, capped at 1 s.
    expect(sleeps).toEqual([250, 500, 1000, 1000]);
    expect(notices).toEqual(['watch on jobs keeps failing (410 Gone); polling every 1s']);
  });

  it('a watch that answers 500 forever: polls with get after three tries and finds the verdict (issue 14 defect 7)', async () => {
    const broken = watchFrom('10', { status: 500, body: statusBody(500, 'InternalError', 'etcd is sad') });
    const { client, sleeps } = await setup([list('10', [jobAt('10')]), broken, broken, broken, { expect: { method: 'GET', path: `${JOBS}/w` }, respond: { body: jobAt('11', 1) } }]);
    const notices: string[] = [];
    const got = await waitForObject(client, opts({ sleeps, pollIntervalMs: 200, onNotice: (m) => notices.push(m) }));
    expect(got?.metadata.resourceVersion).toBe('11');
    expect(sleeps).toEqual([250, 500, 1000]);
    expect(notices).toEqual(['watch on jobs keeps failing (500 InternalError); polling every 0.2s']);
  });

  it('a later wait on the same client polls at once when that watch kept failing', async () => {
    const broken = watchFrom('10', { status: 500, body: statusBody(500, 'InternalError', 'etcd is sad') });
    const get: Step['expect'] = { method: 'GET', path: `${JOBS}/w` };
    const { client, sleeps } = await setup([
      list('10', [jobAt('10')]),
      broken,
      broken,
      broken,
      { expect: get, respond: { body: jobAt('11', 1) } },
      { expect: get, respond: { status: 404, body: statusBody(404, 'NotFound', 'jobs.batch "w" not found', { name: 'w' }) } },
    ]);
    await waitForObject(client, opts({ sleeps }));
    const gone = await waitForObject(client, opts({ sleeps, until: (j) => j === undefined }));
    expect(gone).toBeUndefined();
  });

  it('a stream that ends at once without events counts as a failed watch (no spinning)', async () => {
    const empty = watchFrom('10', { stream: [], then: 'end' });
    const { client, sleeps } = await setup([list('10'), empty, empty, empty, { expect: { method: 'GET', path: `${JOBS}/w` }, respond: { body: jobAt('11', 1) } }]);
    await waitForObject(client, opts({ sleeps }));
    expect(sleeps).toEqual([250, 500, 1000]);
  });

  it('reads the object once more before a timeout: a verdict the watch missed is success', async () => {
    const { client, sleeps } = await setup([
      list('10', [jobAt('10')]),
      watchFrom('10', { stream: [], then: 'hang' }),
      { expect: { method: 'GET', path: `${JOBS}/w` }, respond: { body: jobAt('12', 1) } },
    ]);
    const got = await waitForObject(client, opts({ sleeps, timeoutMs: 150 }));
    expect(got?.metadata.resourceVersion).toBe('12');
  });

  it('a server that refuses every connection: ClusterError (exit 3) naming it after 4 s of tries (issue 14 defect 6)', async () => {
    const port = await freePort();
    const client = await createKubeClient({
      kubeconfig: writeKubeconfig({ server: `http://127.0.0.1:${port}`, namespace: 'ml' }),
      env: {},
      retry: { sleep: async () => undefined, random: () => 0 },
    });
    let now = 0;
    const sleeps: number[] = [];
    const err = await waitForObject(
      client,
      opts({
        sleeps,
        timeoutMs: 60_000,
        clock: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
          await new Promise((ok) => setImmediate(ok));
        },
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).exitCode).toBe(3);
    expect((err as ClusterError).message).toBe(
      `the API server at http://127.0.0.1:${port} stopped answering while waiting for jobs.batch "w" in namespace "ml" (connection refused, 7 tries in a row)`,
    );
    expect((err as ClusterError).hint).toMatch(/kubectl get --raw \/readyz/);
    // While nothing answers it tries at least every second: told after 4 s, not at the timeout.
    expect(sleeps).toEqual([250, 500, 1000, 1000, 1000, 1000]);
  });

  it('a timeout while the server does not answer blames the server, not the object', async () => {
    const port = await freePort();
    const client = await createKubeClient({
      kubeconfig: writeKubeconfig({ server: `http://127.0.0.1:${port}`, namespace: 'ml' }),
      env: {},
      retry: { sleep: async () => undefined, random: () => 0 },
    });
    const err = await waitForObject(client, opts({ sleeps: [], timeoutMs: 150 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).message).toMatch(/^the API server at http:\/\/127\.0\.0\.1:\d+ stopped answering while waiting for jobs\.batch "w" in namespace "ml" \(connection refused, /);
  });

  it('throws TimeoutError naming what it waited for', async () => {
    const { client, sleeps } = await setup([
      list('10', [jobAt('10')]),
      watchFrom('10', { stream: [], then: 'hang' }),
      // The last look before the timeout.
      { expect: { method: 'GET', path: `${JOBS}/w` }, respond: { body: jobAt('10') } },
    ]);
    const err = await waitForObject(client, opts({ sleeps, timeoutMs: 150, description: 'the agent\'s verdict on job "w"' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toMatch(/^timed out after 0\.\ds waiting for the agent's verdict on job "w"$/);
  });

  it('throws Interrupted when the signal aborts, closing the watch', async () => {
    const ac = new AbortController();
    const { client, sleeps } = await setup([
      list('10'),
      watchFrom('10', { stream: [{ type: 'ADDED', object: jobAt('11') }], then: 'hang' }),
    ]);
    const err = await waitForObject(client, opts({ sleeps, signal: ac.signal, onProgress: (j) => j && ac.abort() })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Interrupted);
    expect((err as Interrupted).message).toBe('interrupted while waiting for jobs.batch "w" in namespace "ml"');
  });

  it('fails with ClusterError (exit 3) on 401 from list', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'GET', path: JOBS }, respond: { status: 401, body: statusBody(401, 'Unauthorized', 'Unauthorized') } },
    ]);
    const err = await waitForObject(client, opts({ sleeps })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).exitCode).toBe(3);
    expect((err as ClusterError).status).toBe(401);
    expect((err as ClusterError).message).toMatch(/^cannot list jobs\.batch in namespace "ml": unauthorized/);
  });
});
