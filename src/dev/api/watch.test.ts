import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, readWatch } from './testutil.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({ nodes: 1, historyLimit: 50, bookmarkIntervalMs: 100 });
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

  it('sends BOOKMARK events only when asked, carrying a resourceVersion to resume from', async () => {
    // Bookmarks come every 100 ms here (bookmarkIntervalMs). `plain` opens first and
    // stays open until after `marked` has had bookmarks, so it was open for bookmark
    // periods too: its lack of bookmarks is seen, not assumed.
    const path = '/api/v1/namespaces/kube-node-lease/configmaps?watch=true&resourceVersion=' + api.store.currentRv();
    const isBookmark = (e: any): boolean => e.type === 'BOOKMARK';
    let created: Promise<unknown> | undefined;
    let marked: ReturnType<typeof readWatch> | undefined;
    const plain = readWatch(api, path, (evs) => evs.some((e) => e.object.metadata.name === 'bm-a'), {
      onOpen: () => {
        marked = readWatch(api, path + '&allowWatchBookmarks=true', (evs) => {
          // First bookmark seen: write an object; then stop at a bookmark after its ADDED.
          if (!created && evs.some(isBookmark)) created = call(api, 'POST', '/api/v1/namespaces/kube-node-lease/configmaps', cm('bm-a'));
          const added = evs.findIndex((e) => e.type === 'ADDED');
          return added >= 0 && evs.slice(added + 1).some(isBookmark);
        });
      },
    });
    const p = await plain;
    const m = await marked!;
    await created;
    expect(p.error).toBeUndefined();
    expect(m.error).toBeUndefined();
    expect(p.events.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['ADDED:bm-a']);

    const added = m.events.findIndex((e) => e.type === 'ADDED');
    expect(m.events[added].object.metadata.name).toBe('bm-a');
    expect(m.events.filter((e) => !isBookmark(e))).toHaveLength(1);
    expect(added).toBeGreaterThan(0); // bookmarks came before the write too
    for (const b of m.events.filter(isBookmark)) {
      // A bookmark is only a position: kind, apiVersion and a resourceVersion, nothing else.
      expect(b).toEqual({ type: 'BOOKMARK', object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } } });
    }
    const addedRv = Number(m.events[added].object.metadata.resourceVersion);
    const before = m.events.slice(0, added).map((e) => Number(e.object.metadata.resourceVersion));
    const after = m.events.slice(added + 1).map((e) => Number(e.object.metadata.resourceVersion));
    expect(Math.max(...before)).toBeLessThan(addedRv);
    expect(Math.min(...after)).toBeGreaterThanOrEqual(addedRv);

    // Resuming from the last bookmark replays nothing already seen, only what came after.
    const last = m.events[m.events.length - 1].object.metadata.resourceVersion;
    const resumed = readWatch(api, `/api/v1/namespaces/kube-node-lease/configmaps?watch=true&resourceVersion=${last}`, (evs) => evs.length >= 1, {
      onOpen: () => void call(api, 'POST', '/api/v1/namespaces/kube-node-lease/configmaps', cm('bm-b')),
    });
    expect((await resumed).events.map((e) => `${e.type}:${e.object.metadata.name}`)).toEqual(['ADDED:bm-b']);
  });
});
