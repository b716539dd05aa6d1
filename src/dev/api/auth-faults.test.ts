import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, podManifest, readWatch } from './testutil.js';

let api: DevApiServer;
let ci: string;
beforeAll(async () => {
  api = await startApiServer({ nodes: 1 });
  ci = api.addToken('ci', [
    { verbs: ['get', 'list'], resources: ['pods'], namespaces: ['default'] },
    { verbs: ['create'], resources: ['jobs'], apiGroups: ['batch'] },
  ]);
});
afterAll(async () => {
  await api.close();
});

describe('auth', () => {
  const UNAUTHORIZED = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };

  // Every request needs the cluster's token, as on a real server with anonymous auth
  // off: no path is served to a caller without one, discovery and /version included.
  it.each([
    ['no token', null, '/api/v1/namespaces/default/pods'],
    ['no token, cluster-scoped write path', null, '/api/v1/nodes'],
    ['no token, /version', null, '/version'],
    ['no token, /healthz', null, '/healthz'],
    ['no token, unknown path (401 before 404)', null, '/no/such/path'],
    ['unknown token', 'nope', '/api/v1/namespaces/default/pods'],
    ['empty bearer', '', '/api'],
  ] as const)('%s: 401 Unauthorized with a Status body', async (_n, token, path) => {
    const r = await call(api, 'GET', path, undefined, { token });
    expect(r.status).toBe(401);
    expect(r.body).toEqual(UNAUTHORIZED);
  });

  it('a request without a token changes nothing', async () => {
    const r = await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('anon'), { token: null });
    expect(r.status).toBe(401);
    expect(api.store.get('pods', 'default', 'anon')).toBeUndefined();
  });

  it('the admin token is served', async () => {
    expect((await call(api, 'GET', '/api/v1/namespaces/default/pods')).status).toBe(200);
  });

  it.each([
    ['allowed list', 'GET', '/api/v1/namespaces/default/pods', 200, ''],
    ['watch not granted', 'GET', '/api/v1/namespaces/default/pods?watch=true', 403, 'pods is forbidden: User "ci" cannot watch resource "pods" in API group "" in the namespace "default"'],
    ['get by name in another namespace', 'GET', '/api/v1/namespaces/kube-system/pods/x', 403, 'pods "x" is forbidden: User "ci" cannot get resource "pods" in API group "" in the namespace "kube-system"'],
    ['cluster scope', 'GET', '/api/v1/nodes', 403, 'nodes is forbidden: User "ci" cannot list resource "nodes" in API group "" at the cluster scope'],
    ['delete job', 'DELETE', '/apis/batch/v1/namespaces/default/jobs/j', 403, 'jobs.batch "j" is forbidden: User "ci" cannot delete resource "jobs" in API group "batch" in the namespace "default"'],
    ['status subresource', 'PATCH', '/api/v1/namespaces/default/pods/p/status', 403, 'pods "p" is forbidden: User "ci" cannot patch resource "pods/status" in API group "" in the namespace "default"'],
  ])('%s', async (_n, method, path, code, message) => {
    const r = await call(api, method, path, method === 'PATCH' ? {} : undefined, { token: ci, contentType: 'application/merge-patch+json' });
    expect(r.status).toBe(code);
    if (message) expect(r.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403, message });
  });

  it('discovery is open to any authenticated user', async () => {
    expect((await call(api, 'GET', '/apis', undefined, { token: ci })).status).toBe(200);
  });

  it('SelfSubjectAccessReview answers from the token rules', async () => {
    const ask = async (verb: string, resource: string, group = ''): Promise<boolean> =>
      (await call(api, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: 'default', verb, resource, group } } }, { token: ci })).body.status.allowed;
    expect(await ask('list', 'pods')).toBe(true);
    expect(await ask('watch', 'pods')).toBe(false);
    expect(await ask('create', 'jobs', 'batch')).toBe(true);
  });
});

describe('faults and the request log', () => {
  it('status faults fire `times` times with Retry-After, and the log counts them', async () => {
    api.requestLog.clear();
    const f = api.faults.add({ verb: 'create', resource: 'configmaps', namespace: 'default', times: 2, effect: { kind: 'status', code: 503, retryAfterSeconds: 2 } });
    const codes: number[] = [];
    let retry: string | null = null;
    for (let i = 0; i < 3; i++) {
      const r = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `flt-${i}` } });
      codes.push(r.status);
      if (r.status === 503) {
        retry = r.headers.get('retry-after');
        expect(r.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
      }
    }
    expect(codes).toEqual([503, 503, 201]);
    expect(retry).toBe('2');
    expect(f.hits).toBe(2);
    expect(api.requestLog.count({ verb: 'create', resource: 'configmaps' })).toBe(3);
    expect(api.requestLog.count({ verb: 'create', resource: 'configmaps', status: 503 })).toBe(2);
    const e = api.requestLog.entries({ status: 201 })[0]!;
    expect(e).toMatchObject({ method: 'POST', path: '/api/v1/namespaces/default/configmaps', namespace: 'default', user: 'admin' });
  });

  it.each([
    [429, 'TooManyRequests', true],
    [500, 'InternalError', false],
    [403, 'Forbidden', false],
  ])('%i → reason %s', async (code, reason, hasRetry) => {
    api.faults.add({ verb: 'get', resource: 'pods', name: 'fp', times: 1, effect: { kind: 'status', code } });
    const r = await call(api, 'GET', '/api/v1/namespaces/default/pods/fp');
    expect(r.status).toBe(code);
    expect(r.body.reason).toBe(reason);
    expect(r.headers.get('retry-after') !== null).toBe(hasRetry);
  });

  it('probability 0 never fires; delay slows responses', async () => {
    api.faults.add({ verb: 'list', resource: 'secrets', probability: 0, effect: { kind: 'status', code: 500 } });
    expect((await call(api, 'GET', '/api/v1/namespaces/default/secrets')).status).toBe(200);
    const d = api.faults.add({ verb: 'list', resource: 'leases', effect: { kind: 'delay', ms: 300 } });
    const t0 = Date.now();
    expect((await call(api, 'GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    d.remove();
    api.faults.clear();
  });

  it('a fault for one user is never met by another', async () => {
    const f = api.faults.add({ verb: 'get', resource: 'pods', user: 'ci', effect: { kind: 'status', code: 500 } });
    expect((await call(api, 'GET', '/api/v1/namespaces/default/pods/nope')).status).toBe(404);
    expect((await call(api, 'GET', '/api/v1/namespaces/default/pods/nope', undefined, { token: ci })).status).toBe(500);
    expect(f.hits).toBe(1);
    f.remove();
  });

  it('reset destroys the connection', async () => {
    api.faults.add({ verb: 'get', resource: 'configmaps', name: 'rst', times: 1, effect: { kind: 'reset' } });
    await expect(call(api, 'GET', '/api/v1/namespaces/default/configmaps/rst')).rejects.toThrow();
    expect((await call(api, 'GET', '/api/v1/namespaces/default/configmaps/rst')).status).toBe(404);
  });

  it('410 on a watch is an ERROR event', async () => {
    api.faults.add({ verb: 'watch', resource: 'pods', times: 1, effect: { kind: 'status', code: 410 } });
    const r = await readWatch(api, '/api/v1/namespaces/default/pods?watch=true', () => false);
    expect(r.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ code: 410, reason: 'Expired' }) }]);
  });

  it('dropWatch after N events, and dropWatches() cuts open streams', async () => {
    api.faults.add({ verb: 'watch', resource: 'namespaces', times: 1, effect: { kind: 'dropWatch', afterEvents: 2 } });
    const r = await readWatch(api, '/api/v1/namespaces?watch=true', () => false);
    expect(r.events).toHaveLength(2);
    expect(r.ended || r.error !== undefined).toBe(true);
    const p = readWatch(api, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${api.store.currentRv()}`, () => false, {
      onOpen: () => setTimeout(() => expect(api.faults.dropWatches({ resource: 'configmaps' })).toBe(1), 50),
    });
    const cut = await p;
    expect(cut.ended || cut.error !== undefined).toBe(true);
    expect(api.faults.openWatches()).toBe(0);
  });

  it('podManifest helper pods are created normally after faults are cleared', async () => {
    api.faults.clear();
    expect((await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('after'))).status).toBe(201);
  });
});
