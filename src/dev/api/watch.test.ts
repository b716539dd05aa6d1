import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, readWatch } from './testutil.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({ nodes: 1, historyLimit: 50 });
});
afterAll(async () => {
  await api.close();
});

const cm = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({ metadata: { name, labels }, data: { v: '1' } });

describe('watch', () => {
  it('without resourceVersion: ADDED for existing objects, then live events (watch=1 too)', async () => {
    await call(api, 'POST', '/api/v1/namespaces/kube-public/configmaps', cm('w-a'));
    const p = readWatch(api, '/api/v1/namespaces/kube-public/configmaps?watch=1', (evs) => evs.some((e) => e.type === 'DELETED'), {
      onOpen: () => {
        void (async () => {
          await call(api, 'PATCH', '/api/v1/namespaces/kube-public/configmaps/w-a', { data: { v: '2' } }, { contentType: 'application/merge-patch+json' });
          await call(api, 'DELETE', '/api/v1/namespaces/kube-public/configmaps/w-a');
        })();
      },
    });
    const { events } = await p;
    const mine = events.filter((e) => e.object.metadata.name === 'w-a');
    expect(mine.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(mine[1].object.data.v).toBe('2');
    expect(mine[2].object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', data: { v: '2' } });
  });

  it('resumes from a resourceVersion and replays only later events', async () => {
    const a = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('r-a'));
    await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('r-b'));
    await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps/r-a');
    const { events } = await readWatch(api, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`, (evs) => evs.length >= 2);
    expect(events.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['ADDED:r-b', 'DELETED:r-a']);
  });

  it('a too-old resourceVersion gets one ERROR event with 410 Expired, then the stream ends', async () => {
    const first = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('old-0'));
    for (let i = 0; i < 60; i++) await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm(`old-${i + 1}`));
    const r = await readWatch(api, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${first.body.metadata.resourceVersion}`, () => false);
    expect(r.ended).toBe(true);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', status: 'Failure' } });
    expect(r.events[0].object.message).toContain('too old resource version');
  });

  it('honours label selectors (objects leaving the selection are DELETED) and field selectors', async () => {
    const p = readWatch(api, '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=' + api.store.currentRv() + '&labelSelector=team%3Dred', (evs) => evs.length >= 3, {
      onOpen: () => {
        void (async () => {
          await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('ls-blue', { team: 'blue' }));
          await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('ls-red', { team: 'red' }));
          await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/ls-blue', { metadata: { labels: { team: 'red' } } }, { contentType: 'application/merge-patch+json' });
          await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/ls-red', { metadata: { labels: { team: 'green' } } }, { contentType: 'application/merge-patch+json' });
        })();
      },
    });
    const { events } = await p;
    expect(events.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['ADDED:ls-red', 'ADDED:ls-blue', 'DELETED:ls-red']);
    const f = await readWatch(api, '/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dls-blue', (evs) => evs.length >= 1);
    expect(f.events.map((e) => e.object.metadata.name)).toEqual(['ls-blue']);
  });

  it('timeoutSeconds ends the stream cleanly', async () => {
    const t0 = Date.now();
    const r = await readWatch(api, `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&timeoutSeconds=1&resourceVersion=${api.store.currentRv()}`, () => false);
    expect(r.status).toBe(200);
    expect(r.ended).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('sends BOOKMARK events when asked', async () => {
    // Bookmarks come every 5 s; just check the stream accepts the flag and serves events.
    const r = await readWatch(api, '/api/v1/namespaces?watch=true&allowWatchBookmarks=true', (evs) => evs.length >= 1);
    expect(r.events[0].type).toBe('ADDED');
  });
});
