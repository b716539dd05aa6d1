import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, podManifest, waitFor } from './testutil.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({ nodes: 2 });
});
afterAll(async () => {
  await api.close();
});

it('runs a pod and a job', async () => {
  const r = await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('p1'));
  expect(r.status).toBe(201);
  const ready = await waitFor(() => {
    const p = api.store.get('pods', 'default', 'p1');
    return p?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  });
  expect(ready.status.containerStatuses[0].containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
  const j = await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j1' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'busybox', command: ['true'] }] } } } });
  expect(j.status).toBe(201);
  const done = await waitFor(() => {
    const job = api.store.get('jobs.batch', 'default', 'j1');
    return job?.status?.conditions?.some((c: any) => c.type === 'Complete') ? job : undefined;
  });
  expect(done.status.succeeded).toBe(1);
});
