/** `@kubernetes/client-node` 1.4 against the dev API server, unchanged. */
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { waitFor } from './testutil.js';

let api: DevApiServer;
let kc: KubeConfig;
beforeAll(async () => {
  api = await startApiServer({ nodes: 1 });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
});
afterAll(async () => {
  await api.close();
});

const pod = (name: string): V1Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', 'infinity'] }] } });

describe('@kubernetes/client-node', () => {
  it('CoreV1Api create/read/list/patch/delete with the bearer token', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('cn1') });
    expect(created.metadata?.uid).toBeTruthy();
    await waitFor(async () => (await core.readNamespacedPod({ name: 'cn1', namespace: 'default' })).status?.phase === 'Running');
    const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: '' });
    expect(list.items.map((p) => p.metadata?.name)).toContain('cn1');
    const patched = await core.patchNamespacedPod({ name: 'cn1', namespace: 'default', body: { metadata: { labels: { a: 'b' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(patched.metadata?.labels).toEqual({ a: 'b' });
    await core.deleteNamespacedPod({ name: 'cn1', namespace: 'default' });
    await waitFor(() => api.store.get('pods', 'default', 'cn1') === undefined);
    expect(api.requestLog.entries({ resource: 'pods', verb: 'create' })[0]?.user).toBe('admin');
  });

  it('errors surface as ApiException with the Status body', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const err = await core.readNamespacedPod({ name: 'missing', namespace: 'default' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<string>;
    expect(e.code).toBe(404);
    expect(JSON.parse(e.body)).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods "missing" not found' });
  });

  it('BatchV1Api creates a Job that completes; Watch sees the pod events', async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    const events: string[] = [];
    const watch = new Watch(kc);
    let ended: unknown = 'open';
    const ctrl = await watch.watch('/api/v1/namespaces/default/pods', { labelSelector: 'batch.kubernetes.io/job-name=cnj' }, (type, obj: V1Pod) => events.push(`${type}:${obj.status?.phase ?? ''}`), (err) => (ended = err));
    await batch.createNamespacedJob({ namespace: 'default', body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'cnj' }, spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'busybox', command: ['sleep', 'infinity'] }] } } } } });
    const p = await waitFor(() => api.store.list('pods', { namespace: 'default', labelSelector: 'job-name=cnj' })[0]);
    (await api.nodes.waitForContainer('default', p.metadata.name!)).signal('SIGUSR1');
    await waitFor(async () => (await batch.readNamespacedJob({ name: 'cnj', namespace: 'default' })).status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
    await waitFor(() => events.includes('MODIFIED:Succeeded'), 5000, 'watch to see Succeeded');
    expect(events[0]).toBe('ADDED:Pending');
    expect(events).toContain('MODIFIED:Running');
    ctrl.abort();
    await waitFor(() => ended !== 'open');
  });

  it('Watch reports a dropped stream through done()', async () => {
    let ended: unknown = 'open';
    await new Watch(kc).watch('/api/v1/namespaces', {}, () => {}, (err) => (ended = err));
    await waitFor(() => api.faults.openWatches({ resource: 'namespaces' }) === 1);
    api.faults.dropWatches({ resource: 'namespaces' });
    await waitFor(() => ended !== 'open', 5000, 'done callback');
  });

  it('a token without rights gets 403 through the client', async () => {
    const token = api.addToken('viewer', [{ verbs: ['get'], resources: ['pods'] }]);
    const kc2 = new KubeConfig();
    kc2.loadFromString(api.kubeconfig({ token }));
    const err = (await kc2.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' }).catch((e: unknown) => e)) as ApiException<string>;
    expect(err.code).toBe(403);
    expect(JSON.parse(err.body).message).toBe('pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "default"');
  });
});
