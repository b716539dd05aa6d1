import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, podManifest, waitFor } from './testutil.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({ nodes: 2 });
});
afterAll(async () => {
  await api.close();
});

const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data });

describe('create / get / list', () => {
  it('creates with server-set metadata and returns kind/apiVersion', async () => {
    const r = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('c1'));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c1', namespace: 'default' } });
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(r.body.metadata.resourceVersion)).toBeGreaterThan(0);
    const g = await call(api, 'GET', '/api/v1/namespaces/default/configmaps/c1');
    expect(g.body.data).toEqual({ a: '1' });
  });

  it('resourceVersion is monotonic across writes', async () => {
    const a = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('rv-a'));
    const b = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('rv-b'));
    expect(Number(b.body.metadata.resourceVersion)).toBeGreaterThan(Number(a.body.metadata.resourceVersion));
  });

  it('generateName makes a 5-char suffix', async () => {
    const r = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { generateName: 'gen-' }, data: {} });
    expect(r.status).toBe(201);
    expect(r.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it.each([
    ['already exists', 'POST', '/api/v1/namespaces/default/configmaps', cm('c1'), 409, 'AlreadyExists', 'configmaps "c1" already exists'],
    ['job already exists message uses group', 'GET', '/apis/batch/v1/namespaces/default/jobs/nope', undefined, 404, 'NotFound', 'jobs.batch "nope" not found'],
    ['not found', 'GET', '/api/v1/namespaces/default/pods/nope', undefined, 404, 'NotFound', 'pods "nope" not found'],
    ['missing namespace', 'POST', '/api/v1/namespaces/ghost/configmaps', cm('x'), 404, 'NotFound', 'namespaces "ghost" not found'],
    ['namespace mismatch', 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'x', namespace: 'kube-system' } }, 400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'],
    ['unknown resource', 'GET', '/api/v1/namespaces/default/widgets', undefined, 404, 'NotFound', 'the server could not find the requested resource'],
    ['bad field selector', 'GET', '/api/v1/pods?fieldSelector=spec.bogus%3Dx', undefined, 400, 'BadRequest', 'field label not supported: spec.bogus'],
  ])('%s → %i %s', async (_n, method, path, body, code, reason, message) => {
    const r = await call(api, method, path, body);
    expect(r.status).toBe(code);
    expect(r.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message });
  });

  it('error details name the object and group', async () => {
    const r = await call(api, 'GET', '/apis/batch/v1/namespaces/default/jobs/nope');
    expect(r.body.details).toEqual({ name: 'nope', group: 'batch', kind: 'jobs' });
  });

  it('lists with kind, resourceVersion, label and field selectors', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('sel-a', {}, { app: 'x', tier: 'web' }));
    await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('sel-b', {}, { app: 'y' }));
    await call(api, 'POST', '/api/v1/namespaces/kube-system/configmaps', cm('sel-c', {}, { app: 'x' }));
    const names = async (q: string, path = '/api/v1/namespaces/default/configmaps'): Promise<string[]> => {
      const r = await call(api, 'GET', `${path}?${q}`);
      expect(r.status).toBe(200);
      expect(r.body.kind).toBe('ConfigMapList');
      expect(Number(r.body.metadata.resourceVersion)).toBeGreaterThan(0);
      return r.body.items.map((i: any) => i.metadata.name).filter((n: string) => n.startsWith('sel-'));
    };
    const cases: [string, string[], string?][] = [
      ['labelSelector=app%3Dx', ['sel-a']],
      ['labelSelector=app%3D%3Dx', ['sel-a']],
      ['labelSelector=app!%3Dx', ['sel-b']],
      ['labelSelector=app%20in%20(x%2Cy)', ['sel-a', 'sel-b']],
      ['labelSelector=app%20notin%20(x)', ['sel-b']],
      ['labelSelector=tier', ['sel-a']],
      ['labelSelector=!tier', ['sel-b']],
      ['labelSelector=app%3Dx%2Ctier%3Dweb', ['sel-a']],
      ['fieldSelector=metadata.name%3Dsel-b', ['sel-b']],
      ['labelSelector=app%3Dx', ['sel-a', 'sel-c'], '/api/v1/configmaps'],
      ['fieldSelector=metadata.namespace%3Dkube-system', ['sel-c'], '/api/v1/configmaps'],
    ];
    for (const [q, want, path] of cases) expect(await names(q, path), q).toEqual(want);
  });

  it('lists all pods across namespaces with field selectors', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('lp1'));
    await call(api, 'POST', '/api/v1/namespaces/kube-system/pods', podManifest('lp2'));
    await waitFor(() => api.store.get('pods', 'kube-system', 'lp2')?.status?.phase === 'Running');
    const all = await call(api, 'GET', '/api/v1/pods');
    expect(all.body.kind).toBe('PodList');
    const names = all.body.items.map((p: any) => p.metadata.name);
    expect(names).toEqual(expect.arrayContaining(['lp1', 'lp2']));
    const running = await call(api, 'GET', '/api/v1/pods?fieldSelector=status.phase%3DRunning%2Cmetadata.namespace%3Dkube-system');
    expect(running.body.items.map((p: any) => p.metadata.name)).toEqual(['lp2']);
    const node = api.store.get('pods', 'kube-system', 'lp2')!.spec.nodeName;
    const onNode = await call(api, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName%3D${node}`);
    expect(onNode.body.items.every((p: any) => p.spec.nodeName === node)).toBe(true);
  });

  it('paginates with limit/continue', async () => {
    for (const n of ['pg-1', 'pg-2', 'pg-3']) await call(api, 'POST', '/api/v1/namespaces/kube-public/configmaps', cm(n));
    const p1 = await call(api, 'GET', '/api/v1/namespaces/kube-public/configmaps?limit=2');
    expect(p1.body.items).toHaveLength(2);
    expect(p1.body.metadata.continue).toBeTruthy();
    const p2 = await call(api, 'GET', `/api/v1/namespaces/kube-public/configmaps?limit=2&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
    expect(p2.body.items.map((i: any) => i.metadata.name)).toEqual(['pg-3']);
    expect(p2.body.metadata.continue).toBeUndefined();
  });
});

describe('validation (422 with causes)', () => {
  const bad: [string, string, Record<string, unknown>, { field: string; reason: string }[], string][] = [
    ['pod without containers', '/api/v1/namespaces/default/pods', { metadata: { name: 'v1' }, spec: { containers: [] } }, [{ field: 'spec.containers', reason: 'FieldValueRequired' }], 'Pod "v1" is invalid: spec.containers: Required value'],
    ['container without image and name', '/api/v1/namespaces/default/pods', { metadata: { name: 'v2' }, spec: { containers: [{}] } }, [{ field: 'spec.containers[0].name', reason: 'FieldValueRequired' }, { field: 'spec.containers[0].image', reason: 'FieldValueRequired' }], 'Pod "v2" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required value]'],
    ['bad name', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'Bad_Name' } }, [{ field: 'metadata.name', reason: 'FieldValueInvalid' }], 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'],
    ['long label value', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'lv', labels: { a: 'x'.repeat(64) } } }, [{ field: 'metadata.labels', reason: 'FieldValueInvalid' }], 'must be no more than 63 characters'],
    ['bad label chars', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'lc', labels: { a: 'has space' } } }, [{ field: 'metadata.labels', reason: 'FieldValueInvalid' }], 'a valid label must be an empty string'],
    ['job restartPolicy Always', '/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'jb' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] } } } }, [{ field: 'spec.template.spec.restartPolicy', reason: 'FieldValueNotSupported' }], 'Job.batch "jb" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'],
    ['namespace name not a DNS label', '/api/v1/namespaces', { metadata: { name: 'a.b' } }, [{ field: 'metadata.name', reason: 'FieldValueInvalid' }], 'a lowercase RFC 1123 label'],
    ['missing name', '/api/v1/namespaces/default/configmaps', { metadata: {} }, [{ field: 'metadata.name', reason: 'FieldValueRequired' }], 'name or generateName is required'],
  ];
  it.each(bad)('%s', async (_n, path, body, causes, message) => {
    const r = await call(api, 'POST', path, body);
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    expect(r.body.message).toContain(message);
    expect(r.body.details.causes).toEqual(causes.map((c) => expect.objectContaining(c)));
  });
});

describe('update / patch / delete', () => {
  it('PUT with a stale resourceVersion is a 409 Conflict', async () => {
    const c = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('u1'));
    const ok = await call(api, 'PUT', '/api/v1/namespaces/default/configmaps/u1', { ...c.body, data: { a: '2' } });
    expect(ok.status).toBe(200);
    expect(Number(ok.body.metadata.resourceVersion)).toBeGreaterThan(Number(c.body.metadata.resourceVersion));
    const stale = await call(api, 'PUT', '/api/v1/namespaces/default/configmaps/u1', { ...c.body, data: { a: '3' } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ reason: 'Conflict', message: 'Operation cannot be fulfilled on configmaps "u1": the object has been modified; please apply your changes to the latest version and try again' });
  });

  it('merge, JSON and strategic merge patches', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('pp', { containers: [{ name: 'a', image: 'busybox:1', env: [{ name: 'X', value: '1' }] }, { name: 'b', image: 'busybox:1' }] }));
    const merge = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/pp', { metadata: { labels: { l: 'v' } } }, { contentType: 'application/merge-patch+json' });
    expect(merge.status).toBe(200);
    expect(merge.body.metadata.labels).toEqual({ l: 'v' });
    const smp = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/pp', { spec: { containers: [{ name: 'b', image: 'busybox:2' }] } }, { contentType: 'application/strategic-merge-patch+json' });
    expect(smp.status).toBe(200);
    expect(smp.body.spec.containers.map((c: any) => `${c.name}=${c.image}`)).toEqual(['a=busybox:1', 'b=busybox:2']);
    expect(smp.body.spec.containers[0].env).toEqual([{ name: 'X', value: '1' }]);
    const jp = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/pp', [{ op: 'add', path: '/metadata/annotations', value: { k: 'v' } }, { op: 'replace', path: '/metadata/labels/l', value: 'w' }], { contentType: 'application/json-patch+json' });
    expect(jp.status).toBe(200);
    expect(jp.body.metadata).toMatchObject({ annotations: { k: 'v' }, labels: { l: 'w' } });
    const testFail = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/pp', [{ op: 'test', path: '/metadata/labels/l', value: 'nope' }], { contentType: 'application/json-patch+json' });
    expect(testFail.status).toBe(422);
    const apply = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/pp', 'x: 1', { contentType: 'application/apply-patch+yaml' });
    expect(apply.status).toBe(415);
  });

  it('a patch carrying metadata.resourceVersion is a precondition', async () => {
    const c = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('prv'));
    const rv = c.body.metadata.resourceVersion;
    const ok = await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/prv', { metadata: { resourceVersion: rv }, data: { a: '2' } }, { contentType: 'application/merge-patch+json' });
    expect(ok.status).toBe(200);
    const stale = await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/prv', { metadata: { resourceVersion: rv }, data: { a: '3' } }, { contentType: 'application/merge-patch+json' });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
  });

  it('pod spec is immutable except image', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('imm'));
    const r = await call(api, 'PATCH', '/api/v1/namespaces/default/pods/imm', { spec: { restartPolicy: 'Never' } }, { contentType: 'application/merge-patch+json' });
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('pod updates may not change fields other than');
  });

  it('status subresource only changes status; main resource ignores status', async () => {
    const j = await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'st', annotations: { x: '1' } }, spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } } });
    expect(j.status).toBe(201);
    const s = await call(api, 'PATCH', '/apis/batch/v1/namespaces/default/jobs/st/status', { metadata: { annotations: { x: '2' } }, status: { failed: 7 } }, { contentType: 'application/merge-patch+json' });
    expect(s.status).toBe(200);
    expect(s.body.status.failed).toBe(7);
    expect(s.body.metadata.annotations.x).toBe('1');
    const m = await call(api, 'PATCH', '/apis/batch/v1/namespaces/default/jobs/st', { status: { failed: 1 } }, { contentType: 'application/merge-patch+json' });
    expect(m.body.status.failed).toBe(7);
  });

  it('generation bumps on spec change only', async () => {
    const ds = await call(api, 'POST', '/apis/apps/v1/namespaces/default/daemonsets', { metadata: { name: 'gen' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { nodeSelector: { none: 'x' }, containers: [{ name: 'c', image: 'i' }] } } } });
    expect(ds.body.metadata.generation).toBe(1);
    const lab = await call(api, 'PATCH', '/apis/apps/v1/namespaces/default/daemonsets/gen', { metadata: { labels: { z: '1' } } }, { contentType: 'application/merge-patch+json' });
    expect(lab.body.metadata.generation).toBe(1);
    const spec = await call(api, 'PATCH', '/apis/apps/v1/namespaces/default/daemonsets/gen', { spec: { minReadySeconds: 3 } }, { contentType: 'application/merge-patch+json' });
    expect(spec.body.metadata.generation).toBe(2);
  });

  it('dryRun=All validates and persists nothing', async () => {
    const c = await call(api, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', cm('dry'));
    expect(c.status).toBe(201);
    expect(c.body.metadata.uid).toBeTruthy();
    expect(api.store.get('configmaps', 'default', 'dry')).toBeUndefined();
    const bad = await call(api, 'POST', '/api/v1/namespaces/default/pods?dryRun=All', { metadata: { name: 'dry' }, spec: { containers: [] } });
    expect(bad.status).toBe(422);
    const created = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('dry2'));
    const events: string[] = [];
    const unsubscribe = api.store.subscribe((e) => { if (e.object.metadata.name === 'dry2') events.push(e.type); });
    const p = await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/dry2?dryRun=All', { data: { a: '9' } }, { contentType: 'application/merge-patch+json' });
    expect(p.body.data.a).toBe('9');
    const d = await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps/dry2?dryRun=All');
    expect(d.status).toBe(200);
    expect(api.store.get('configmaps', 'default', 'dry2')?.data.a).toBe('1');
    expect(api.store.get('configmaps', 'default', 'dry2')?.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);
    unsubscribe();
    expect(events).toEqual([]);
  });

  it('delete preconditions and Status on success', async () => {
    const c = await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm('del'));
    const wrong = await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps/del', { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'nope' } });
    expect(wrong.status).toBe(409);
    expect(wrong.body.message).toContain('Precondition failed: UID in precondition: nope');
    const ok = await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps/del', { preconditions: { uid: c.body.metadata.uid, resourceVersion: c.body.metadata.resourceVersion } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'del', kind: 'configmaps' } });
    expect((await call(api, 'GET', '/api/v1/namespaces/default/configmaps/del')).status).toBe(404);
  });

  it('graceful pod deletion: deletionTimestamp first, then gone', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('gd'));
    await waitFor(() => api.store.get('pods', 'default', 'gd')?.status?.phase === 'Running');
    const d = await call(api, 'DELETE', '/api/v1/namespaces/default/pods/gd');
    expect(d.status).toBe(200);
    expect(d.body.kind).toBe('Pod');
    expect(d.body.metadata.deletionTimestamp).toBeTruthy();
    await waitFor(() => api.store.get('pods', 'default', 'gd') === undefined, 5000, 'pod removal');
  });

  it('finalizers hold deletion until removed', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const d = await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps/fin');
    expect(d.body.metadata.deletionTimestamp).toBeTruthy();
    expect(api.store.get('configmaps', 'default', 'fin')).toBeDefined();
    await call(api, 'PATCH', '/api/v1/namespaces/default/configmaps/fin', { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' });
    expect(api.store.get('configmaps', 'default', 'fin')).toBeUndefined();
  });
});

describe('create-on-update and deletecollection', () => {
  it('PUT creates a missing Lease (create-on-update) but not a missing ConfigMap', async () => {
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'job-x', namespace: 'default' }, spec: { holderIdentity: 'node-1', leaseDurationSeconds: 30 } };
    const r = await call(api, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/job-x', lease);
    expect(r.status).toBe(200);
    expect(r.body.spec.holderIdentity).toBe('node-1');
    const c = await call(api, 'PUT', '/api/v1/namespaces/default/configmaps/none', { metadata: { name: 'none' } });
    expect(c.status).toBe(404);
  });

  it('DELETE on a collection deletes what the selector matches', async () => {
    for (const [n, l] of [['dc-1', 'a'], ['dc-2', 'a'], ['dc-3', 'b']]) await call(api, 'POST', '/api/v1/namespaces/default/configmaps', cm(n!, {}, { dc: l! }));
    const r = await call(api, 'DELETE', '/api/v1/namespaces/default/configmaps?labelSelector=dc%3Da');
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: any) => i.metadata.name)).toEqual(['dc-1', 'dc-2']);
    expect(api.store.list('configmaps', { labelSelector: 'dc' }).map((o) => o.metadata.name)).toEqual(['dc-3']);
  });
});

describe('discovery', () => {
  it('serves /version, /api, /apis and resource lists', async () => {
    expect((await call(api, 'GET', '/version')).body).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\./) });
    expect((await call(api, 'GET', '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await call(api, 'GET', '/apis')).body.groups.map((g: any) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['apps', 'batch', 'coordination.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'authorization.k8s.io']));
    const core = (await call(api, 'GET', '/api/v1')).body;
    const pods = core.resources.find((r: any) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'], verbs: expect.arrayContaining(['get', 'list', 'watch', 'create', 'patch', 'delete']) });
    expect(core.resources.find((r: any) => r.name === 'pods/status')).toMatchObject({ kind: 'Pod', verbs: ['get', 'patch', 'update'] });
    const apps = (await call(api, 'GET', '/apis/apps/v1')).body;
    expect(apps.resources.find((r: any) => r.name === 'daemonsets').shortNames).toEqual(['ds']);
  });

  it('serves a swagger 2.0 document with group-version-kinds', async () => {
    const doc = (await call(api, 'GET', '/openapi/v2')).body;
    expect(doc.swagger).toBe('2.0');
    expect(doc.definitions['io.k8s.api.core.v1.Pod']['x-kubernetes-group-version-kind']).toEqual([{ group: '', kind: 'Pod', version: 'v1' }]);
    expect(doc.definitions['io.k8s.api.batch.v1.Job']).toBeDefined();
  });
});

describe('custom resources', () => {
  it('serves dynamocheckpoints (dckpt) with a status subresource once the CRD exists', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'dynamocheckpoints.nvidia.com' },
      spec: { group: 'nvidia.com', scope: 'Namespaced', names: { plural: 'dynamocheckpoints', singular: 'dynamocheckpoint', kind: 'DynamoCheckpoint', listKind: 'DynamoCheckpointList', shortNames: ['dckpt'] }, versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
    };
    expect((await call(api, 'GET', '/apis/nvidia.com/v1alpha1/namespaces/default/dynamocheckpoints')).status).toBe(404);
    const c = await call(api, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    expect(c.status).toBe(201);
    expect(c.body.status.conditions.find((x: any) => x.type === 'Established').status).toBe('True');
    const disc = (await call(api, 'GET', '/apis/nvidia.com/v1alpha1')).body;
    expect(disc.resources.find((r: any) => r.name === 'dynamocheckpoints')).toMatchObject({ shortNames: ['dckpt'], kind: 'DynamoCheckpoint', namespaced: true });
    const cr = await call(api, 'POST', '/apis/nvidia.com/v1alpha1/namespaces/default/dynamocheckpoints', { apiVersion: 'nvidia.com/v1alpha1', kind: 'DynamoCheckpoint', metadata: { name: 'ck' }, spec: { identity: { model: 'm' } } });
    expect(cr.status).toBe(201);
    expect(cr.body.metadata.generation).toBe(1);
    const st = await call(api, 'PATCH', '/apis/nvidia.com/v1alpha1/namespaces/default/dynamocheckpoints/ck/status', { status: { phase: 'Ready' } }, { contentType: 'application/merge-patch+json' });
    expect(st.body.status).toEqual({ phase: 'Ready' });
    expect(st.body.metadata.generation).toBe(1);
    const list = await call(api, 'GET', '/apis/nvidia.com/v1alpha1/dynamocheckpoints');
    expect(list.body).toMatchObject({ kind: 'DynamoCheckpointList', apiVersion: 'nvidia.com/v1alpha1' });
    await call(api, 'DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dynamocheckpoints.nvidia.com');
    expect((await call(api, 'GET', '/apis/nvidia.com/v1alpha1/namespaces/default/dynamocheckpoints/ck')).status).toBe(404);
  });
});
