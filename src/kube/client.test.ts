import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient, type CreateKubeClientOptions } from './client.js';
import { ApiError } from './errors.js';
import { startScriptedServer, statusBody, writeKubeconfig, type ScriptedServer, type Step } from './testing/scripted-server.js';
import { RESOURCES, type KubeClient, type WatchEvent } from './types.js';

let server: ScriptedServer | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    await s.close();
    s.assertDone();
  }
});

interface Harness {
  server: ScriptedServer;
  client: KubeClient;
  sleeps: number[];
  logs: Array<{ method: string; url: string; status: number; body?: unknown }>;
}

async function setup(steps: Step[], opts: CreateKubeClientOptions = {}): Promise<Harness> {
  server = await startScriptedServer(steps);
  const sleeps: number[] = [];
  const logs: Harness['logs'] = [];
  const client = await createKubeClient({
    kubeconfig: writeKubeconfig({ server: server.url, token: 'tok-123', namespace: 'ml' }),
    env: {},
    logger: (e) => logs.push(e),
    retry: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    },
    ...opts,
  });
  return { server, client, sleeps, logs };
}

const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'w-checkpoint', namespace: 'ml' } };

describe('URLs, queries and bodies per verb', () => {
  it('gets a core namespaced object with the bearer token', async () => {
    const { client } = await setup([
      {
        expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w', headers: { authorization: 'Bearer tok-123', accept: 'application/json' } },
        respond: { body: { kind: 'Pod', metadata: { name: 'w' } } },
      },
    ]);
    expect(client.contextNamespace).toBe('ml');
    expect(client.contextName).toBe('test');
    const pod = await client.get(RESOURCES.pods, 'ml', 'w');
    expect(pod.metadata?.name).toBe('w');
  });

  it('gets a cluster-scoped object', async () => {
    const { client } = await setup([{ expect: { method: 'GET', path: '/api/v1/nodes/n1' }, respond: { body: { kind: 'Node' } } }]);
    await client.get(RESOURCES.nodes, 'ignored', 'n1');
  });

  it('lists a group resource with selectors and returns the list resourceVersion', async () => {
    const { client } = await setup([
      {
        expect: {
          method: 'GET',
          path: '/apis/batch/v1/namespaces/ml/jobs',
          query: { labelSelector: 'a=b', fieldSelector: 'metadata.name=x', watch: null },
        },
        respond: { body: { kind: 'JobList', metadata: { resourceVersion: '42' }, items: [{ metadata: { name: 'x' } }] } },
      },
    ]);
    const l = await client.list(RESOURCES.jobs, 'ml', { labelSelector: 'a=b', fieldSelector: 'metadata.name=x' });
    expect(l.resourceVersion).toBe('42');
    expect(l.items).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' } }]);
  });

  it('creates with a JSON body, dryRun=All only when asked', async () => {
    const { client, logs } = await setup([
      {
        expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs', query: { dryRun: 'All' }, headers: { 'content-type': 'application/json' }, body: job },
        respond: { status: 201, body: job },
      },
      { expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs', query: { dryRun: null }, body: job }, respond: { status: 201, body: job } },
    ]);
    await client.create(RESOURCES.jobs, 'ml', job, { dryRun: true });
    await client.create(RESOURCES.jobs, 'ml', job);
    expect(logs.map((l) => [l.method, l.status, l.body])).toEqual([
      ['POST', 201, job],
      ['POST', 201, job],
    ]);
    expect(logs[0]?.url).toMatch(/\/apis\/batch\/v1\/namespaces\/ml\/jobs\?.*dryRun=All/);
  });

  it.each([
    ['merge', 'application/merge-patch+json'],
    ['json', 'application/json-patch+json'],
    ['strategic', 'application/strategic-merge-patch+json'],
  ] as const)('patches with the %s content type', async (type, ct) => {
    const body = type === 'json' ? [{ op: 'add', path: '/metadata/labels/a', value: 'b' }] : { metadata: { labels: { a: 'b' } } };
    const { client } = await setup([
      { expect: { method: 'PATCH', path: '/api/v1/namespaces/ml/pods/w', headers: { 'content-type': ct }, body }, respond: { body: { kind: 'Pod' } } },
    ]);
    await client.patch(RESOURCES.pods, 'ml', 'w', body, type);
  });

  it('patches the status subresource of a custom resource', async () => {
    const { client } = await setup([
      {
        expect: { method: 'PATCH', path: '/apis/nvidia.com/v1alpha1/namespaces/ml/dynamocheckpoints/c1/status', query: { dryRun: 'All' } },
        respond: { body: {} },
      },
    ]);
    await client.patch(RESOURCES.dynamocheckpoints, 'ml', 'c1', { status: { phase: 'Ready' } }, 'merge', { subresource: 'status', dryRun: true });
  });

  it('deletes with a DeleteOptions body', async () => {
    const { client } = await setup([
      {
        expect: {
          method: 'DELETE',
          path: '/apis/batch/v1/namespaces/ml/jobs/w-checkpoint',
          body: {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            propagationPolicy: 'Foreground',
            preconditions: { uid: 'u-1' },
            gracePeriodSeconds: 0,
            dryRun: ['All'],
          },
        },
        respond: { body: statusBody(200, '', '') },
      },
    ]);
    await client.delete(RESOURCES.jobs, 'ml', 'w-checkpoint', { propagationPolicy: 'Foreground', uid: 'u-1', gracePeriodSeconds: 0, dryRun: true });
  });

  it('deletes only the version it read: uid and resourceVersion preconditions', async () => {
    const { client } = await setup([
      {
        expect: {
          method: 'DELETE',
          path: '/apis/batch/v1/namespaces/ml/jobs/w-checkpoint',
          body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: 'u-1', resourceVersion: '42' } },
        },
        respond: { body: statusBody(200, '', '') },
      },
    ]);
    await client.delete(RESOURCES.jobs, 'ml', 'w-checkpoint', { uid: 'u-1', resourceVersion: '42' });
  });
});

describe('errors', () => {
  it('turns a Status response into ApiError naming the verb and object', async () => {
    const { client } = await setup([
      {
        expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs' },
        respond: {
          status: 403,
          body: statusBody(403, 'Forbidden', 'jobs.batch "w-checkpoint" is forbidden: User "ci" cannot create resource "jobs" in API group "batch" in the namespace "ml"'),
        },
      },
    ]);
    const err = await client.create(RESOURCES.jobs, 'ml', job).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const a = err as ApiError;
    expect([a.status, a.reason, a.verb, a.objectName, a.namespace, a.resource.plural]).toEqual([403, 'Forbidden', 'create', 'w-checkpoint', 'ml', 'jobs']);
    expect(a.message).toContain('User "ci" cannot create');
  });

  it('reports connection refused with code and server', async () => {
    const probe = await startScriptedServer();
    const url = probe.url;
    await probe.close(); // nothing listens there any more
    const sleeps: number[] = [];
    const client = await createKubeClient({
      kubeconfig: writeKubeconfig({ server: url }),
      env: {},
      retry: { sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
    });
    const err = (await client.get(RESOURCES.pods, 'ml', 'w').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.server]).toEqual([0, 'ECONNREFUSED', url]);
    // refused reads are retried: 5 attempts, 4 back-offs doubling from 100 ms (random 0 = lower half)
    expect(sleeps).toEqual([100, 200, 400, 800]);
  });
});

describe('retries', () => {
  it('honours Retry-After on 429', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { status: 429, headers: { 'Retry-After': '3' }, body: statusBody(429, 'TooManyRequests', 'slow down') } },
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { body: { kind: 'Pod' } } },
    ]);
    await client.get(RESOURCES.pods, 'ml', 'w');
    expect(sleeps).toEqual([3000]);
  });

  it('retries 503 then succeeds, with exponential back-off', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods' }, respond: { status: 503, body: 'unavailable' } },
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods' }, respond: { status: 502, body: 'bad gateway' } },
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods' }, respond: { body: { items: [], metadata: { resourceVersion: '1' } } } },
    ]);
    await client.list(RESOURCES.pods, 'ml');
    expect(sleeps).toEqual([150, 300]); // 200 then 400, each 3/4 with random 0.5
  });

  it('retries a create on 503 (not processed)', async () => {
    const { client } = await setup([
      { expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs' }, respond: { status: 503, body: statusBody(503, 'ServiceUnavailable', 'x') } },
      { expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs' }, respond: { status: 201, body: job } },
    ]);
    await client.create(RESOURCES.jobs, 'ml', job);
  });

  it('does not retry a create on 500 (it may have been processed)', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs' }, respond: { status: 500, body: statusBody(500, 'InternalError', 'etcd') } },
    ]);
    const err = (await client.create(RESOURCES.jobs, 'ml', job).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(500);
    expect(sleeps).toEqual([]);
  });

  it('does not retry a create whose connection dropped mid-request', async () => {
    const { client, sleeps } = await setup([{ expect: { method: 'POST', path: '/apis/batch/v1/namespaces/ml/jobs' }, respond: { destroySocket: true } }]);
    const err = (await client.create(RESOURCES.jobs, 'ml', job).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code]).toEqual([0, 'ECONNRESET']);
    expect(sleeps).toEqual([]);
  });

  it('retries a get whose connection was reset', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { destroySocket: true } },
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { body: { kind: 'Pod' } } },
    ]);
    await client.get(RESOURCES.pods, 'ml', 'w');
    expect(sleeps).toHaveLength(1);
  });

  it('gives up after 5 attempts', async () => {
    const step: Step = { expect: { method: 'GET', path: '/api/v1/nodes' }, respond: { status: 504, body: 'gateway timeout' } };
    const { client, sleeps } = await setup([step, step, step, step, step]);
    const err = (await client.list(RESOURCES.nodes, undefined).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(504);
    expect(sleeps).toEqual([150, 300, 600, 1200]);
  });
});

describe('per-call limits and the rate limit', () => {
  it('attempts: 1 sends one try and keeps the Retry-After on the error', async () => {
    const { client, sleeps } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { status: 503, headers: { 'Retry-After': '2' }, body: statusBody(503, 'ServiceUnavailable', 'busy') } },
    ]);
    const err = (await client.get(RESOURCES.pods, 'ml', 'w', { attempts: 1 }).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.retryAfterMs]).toEqual([503, 2000]);
    expect(sleeps).toEqual([]);
  });

  it('a server that sends the head and then nothing: ETIMEDOUT after the per-request limit', async () => {
    const { client } = await setup([{ expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { stream: [], then: 'hang' } }]);
    const err = (await client.get(RESOURCES.pods, 'ml', 'w', { attempts: 1, timeoutMs: 200 }).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code]).toEqual([0, 'ETIMEDOUT']);
    expect(err.message).toBe('no response within 200 ms');
  });

  it('a server that accepts and never answers: ETIMEDOUT after the per-request limit', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const client = await createKubeClient({ kubeconfig: writeKubeconfig({ server: `http://127.0.0.1:${port}` }), env: {}, requestTimeoutMs: 200 });
      const err = (await client.list(RESOURCES.pods, 'ml', { attempts: 1 }).catch((e: unknown) => e)) as ApiError;
      expect([err.status, err.code]).toEqual([0, 'ETIMEDOUT']);
    } finally {
      silent.close();
      // closeAllConnections is http-only; the held socket goes with the server's close.
    }
  });

  it('every try takes a token: retries and watches included', async () => {
    const busy: Step = { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { status: 503, headers: { 'Retry-After': '0' }, body: 'busy' } };
    const { client, sleeps } = await setup(
      [
        busy,
        busy,
        { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { body: { kind: 'Pod' } } },
        { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods', query: { watch: 'true' } }, respond: { stream: [], then: 'end' } },
      ],
      // A clock that stands still: only the burst of 2 is free.
      { rateLimit: { perSecond: 4, burst: 2 }, clock: () => 0 },
    );
    await client.get(RESOURCES.pods, 'ml', 'w');
    for await (const _ of client.watch(RESOURCES.pods, 'ml', {}, new AbortController().signal)) {
      // no events
    }
    // Two Retry-After: 0 back-offs, then the third try and the watch wait for their tokens.
    expect(sleeps).toEqual([0, 0, 250, 500]);
  });
});

describe('watch', () => {
  async function collect(it: AsyncIterable<WatchEvent>): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    for await (const e of it) out.push(e);
    return out;
  }

  it('streams events split across chunks and ends when the server closes', async () => {
    const a = { type: 'ADDED', object: { metadata: { name: 'x', resourceVersion: '5' } } };
    const line = JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'x', resourceVersion: '6' }, note: 'héllo' } });
    const { client } = await setup([
      {
        expect: {
          method: 'GET',
          path: '/apis/batch/v1/namespaces/ml/jobs',
          query: { watch: 'true', allowWatchBookmarks: 'true', resourceVersion: '4', fieldSelector: 'metadata.name=x', timeoutSeconds: '60' },
        },
        respond: { stream: [a, { raw: line.slice(0, 20) }, { pauseMs: 5 }, { raw: `${line.slice(20)}\n` }], then: 'end' },
      },
    ]);
    const evs = await collect(
      client.watch(RESOURCES.jobs, 'ml', { resourceVersion: '4', fieldSelector: 'metadata.name=x', timeoutSeconds: 60 }, new AbortController().signal),
    );
    expect(evs.map((e) => [e.type, e.object.metadata?.resourceVersion])).toEqual([
      ['ADDED', '5'],
      ['MODIFIED', '6'],
    ]);
    expect(evs[1]?.object.note).toBe('héllo');
  });

  it('throws when the socket drops mid-stream, after yielding what arrived', async () => {
    const { client } = await setup([
      {
        expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods' },
        respond: { stream: [{ type: 'ADDED', object: { metadata: { name: 'p' } } }], then: 'destroy' },
      },
    ]);
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of client.watch(RESOURCES.pods, 'ml', {}, new AbortController().signal)) seen.push(e.type);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['ADDED']);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(0);
  });

  it('ends quietly when the signal aborts', async () => {
    const { client } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods' }, respond: { stream: [{ type: 'ADDED', object: { metadata: { name: 'p' } } }], then: 'hang' } },
    ]);
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const e of client.watch(RESOURCES.pods, 'ml', {}, ac.signal)) {
      seen.push(e.type);
      ac.abort();
    }
    expect(seen).toEqual(['ADDED']);
  });

  it('throws ApiError for an HTTP error at the start', async () => {
    const { client } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods', query: { watch: 'true' } }, respond: { status: 410, body: statusBody(410, 'Expired', 'too old resource version') } },
    ]);
    const err = (await collect(client.watch(RESOURCES.pods, 'ml', { resourceVersion: '1' }, new AbortController().signal)).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.reason, err.verb]).toEqual([410, 'Expired', 'watch']);
  });
});

describe('the scripted server itself', () => {
  it('answers an unexpected request with 418 and reports it', async () => {
    const s = await startScriptedServer([{ expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/a' }, respond: { body: {} } }]);
    try {
      const client = await createKubeClient({ kubeconfig: writeKubeconfig({ server: s.url }), env: {} });
      const err = (await client.get(RESOURCES.pods, 'ml', 'b').catch((e: unknown) => e)) as ApiError;
      expect(err.status).toBe(418);
      expect(() => s.assertDone()).toThrow(/request #1 GET \/api\/v1\/namespaces\/ml\/pods\/b: expected GET \/api\/v1\/namespaces\/ml\/pods\/a[\s\S]*unconsumed/);
    } finally {
      await s.close();
    }
  });
});

describe('logging and cancellation', () => {
  it('logs the watch start and a request that got no answer with status 0', async () => {
    const { client, logs } = await setup([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods', query: { watch: 'true' } }, respond: { stream: [], then: 'end' } },
      { expect: { method: 'PATCH', path: '/api/v1/namespaces/ml/pods/w' }, respond: { destroySocket: true } },
    ]);
    for await (const _ of client.watch(RESOURCES.pods, 'ml', {}, new AbortController().signal)) {
      // no events
    }
    await client.patch(RESOURCES.pods, 'ml', 'w', { a: 1 }, 'merge').catch(() => undefined);
    expect(logs.map((l) => [l.method, l.status, l.body])).toEqual([
      ['GET', 200, undefined],
      ['PATCH', 0, { a: 1 }],
    ]);
  });

  it('stops a retry back-off when the signal aborts', async () => {
    server = await startScriptedServer([
      { expect: { method: 'GET', path: '/api/v1/namespaces/ml/pods/w' }, respond: { status: 503, headers: { 'Retry-After': '60' }, body: 'busy' } },
    ]);
    const client = await createKubeClient({ kubeconfig: writeKubeconfig({ server: server.url }), env: {} });
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 50);
    const err = (await client.get(RESOURCES.pods, 'ml', 'w', { signal: ac.signal }).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
