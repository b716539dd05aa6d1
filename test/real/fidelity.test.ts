/**
 * Fidelity of the dev cluster's API server (src/dev/api): the same HTTP request sent to
 * the real kube-apiserver of this lane and to a dev API server started in-process, each
 * answer asserted. Where they agree the case pins that; where they differ on purpose the
 * case shows both answers and src/dev/api/README.md says why ("Deliberate differences").
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from '../../src/dev/api/index.js';
import { adminCredentials, apply, kubectl, kubectlOk, serviceAccountToken, waitFor } from './harness.js';

const NS = `rt-fidelity-${process.pid}`;
const GROUP = `rt-fidelity-${process.pid}.snapshotctl.dev`;
const CRD = `widgets.${GROUP}`;
const WIDGETS = `/apis/${GROUP}/v1/namespaces/${NS}/widgets`;
const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;
/** Dev history bound: small, so a few writes to one resource overflow it. */
const HISTORY = 20;

interface Target {
  name: 'real' | 'dev';
  url: string;
  ca: Buffer | string;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}
interface Answer {
  status: number;
  body: any;
  text: string;
}

let dev: DevApiServer;
let real: Target;
let devTarget: Target;
let crdMade = false;

/** One request; JSON body in, JSON (or text) out. */
function send(t: Target, method: string, path: string, body?: unknown, opts: { contentType?: string; token?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const token = opts.token ?? t.token;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token) headers['Authorization'] = `Bearer ${token}`;
    if (payload !== undefined) Object.assign(headers, { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) });
    const req = request(`${t.url}${path}`, { method, headers, ca: t.ca, ...(opts.token === undefined && t.cert ? { cert: t.cert, key: t.key } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // a watch stream: several JSON lines
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The same request to both servers. */
async function both(method: string, path: string, body?: unknown, opts: { contentType?: string } = {}): Promise<{ real: Answer; dev: Answer }> {
  const [r, d] = await Promise.all([send(real, method, path, body, opts), send(devTarget, method, path, body, opts)]);
  return { real: r, dev: d };
}

const sortedCauses = (a: Answer): unknown[] => [...(a.body?.details?.causes ?? [])].sort((x: any, y: any) => `${x.field}${x.message}`.localeCompare(`${y.field}${y.message}`));
const itemNames = (a: Answer): string[] => (a.body?.items ?? []).map((o: any) => o.metadata.name as string);
const cm = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels } });

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: CRD },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: {
                  size: { type: 'integer', minimum: 1 },
                  color: { type: 'string', enum: ['red', 'blue'], default: 'red' },
                  tags: { type: 'array', items: { type: 'string' } },
                  labels: { type: 'object', additionalProperties: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    ],
  },
};

beforeAll(async () => {
  const creds = adminCredentials();
  real = { name: 'real', url: creds.server, ca: creds.ca, cert: creds.cert, key: creds.key };
  dev = await startApiServer({ nodes: 1, historyLimit: HISTORY });
  devTarget = { name: 'dev', url: dev.url, ca: dev.caCert, token: dev.adminToken };
  await kubectlOk(['create', 'namespace', NS]);
  expect((await send(devTarget, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status).toBe(201);
  const crd = await both('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', widgetCrd);
  expect([crd.real.status, crd.dev.status]).toEqual([201, 201]);
  crdMade = true;
  await kubectlOk(['wait', `crd/${CRD}`, '--for=condition=Established', '--timeout=60s'], { timeoutMs: 70_000 });
  await waitFor('widgets served', async () => (await send(real, 'GET', WIDGETS)).status === 200, 30_000, 300);
}, 120_000);

afterAll(async () => {
  await dev?.close();
  if (process.env['SNAPSHOTCTL_REAL_KEEP'] === '1') return;
  if (crdMade) await kubectl(['delete', 'crd', CRD, '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
}, 180_000);

describe('the dev API server answers as the real one', () => {
  it('CRD schema: an invalid custom resource is 422 with the same causes on both', async () => {
    const a = await both('POST', WIDGETS, { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name: 'w-bad' }, spec: { size: 0, color: 'green', tags: [1], labels: { a: 2 } } });
    expect([a.real.status, a.dev.status]).toEqual([422, 422]);
    expect(a.real.body.message).toMatch(new RegExp(`^Widget\\.${GROUP.replace(/\./g, '\\.')} "w-bad" is invalid: `));
    expect(a.dev.body.message).toMatch(new RegExp(`^Widget\\.${GROUP.replace(/\./g, '\\.')} "w-bad" is invalid: `));
    expect(sortedCauses(a.dev)).toEqual(sortedCauses(a.real));
    const missing = await both('POST', WIDGETS, { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name: 'w-empty' }, spec: { size: 'x' } });
    expect([missing.real.status, missing.dev.status]).toEqual([422, 422]);
    expect(sortedCauses(missing.dev)).toEqual(sortedCauses(missing.real));
  });

  it('CRD schema: unknown fields are pruned and defaults filled in, on create and on a merge patch', async () => {
    const a = await both('POST', WIDGETS, { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 2, junk: 1, tags: ['a'] }, top: true });
    expect([a.real.status, a.dev.status]).toEqual([201, 201]);
    expect(a.real.body.spec).toEqual({ size: 2, color: 'red', tags: ['a'] });
    expect(a.dev.body.spec).toEqual(a.real.body.spec);
    expect('top' in a.real.body || 'top' in a.dev.body).toBe(false);
    const p = await both('PATCH', `${WIDGETS}/w1`, { spec: { size: 3, junk2: 2 } }, { contentType: 'application/merge-patch+json' });
    expect([p.real.status, p.dev.status]).toEqual([200, 200]);
    expect(p.dev.body.spec).toEqual(p.real.body.spec);
    expect(p.real.body.spec).toEqual({ size: 3, color: 'red', tags: ['a'] });
  });

  it('a strategic merge patch on a custom resource is 415 on both', async () => {
    const a = await both('PATCH', `${WIDGETS}/w1`, { spec: { size: 4 } }, { contentType: 'application/strategic-merge-patch+json' });
    expect([a.real.status, a.dev.status]).toEqual([415, 415]);
    expect(a.dev.body.message).toBe(a.real.body.message);
    expect(a.dev.body.reason).toBe('UnsupportedMediaType');
  });

  it('label selectors: Gt/Lt (`gen>2`), empty `in ()` / `notin ()`, and a non-integer Gt is 400', async () => {
    for (const t of [real, devTarget]) {
      for (let i = 1; i <= 4; i++) expect((await send(t, 'POST', CONFIGMAPS, cm(`c${i}`, { gen: String(i), sel: 'y' }))).status).toBe(201);
      expect((await send(t, 'POST', CONFIGMAPS, cm('cx', { sel: 'y' }))).status).toBe(201);
    }
    for (const [sel, want] of [
      ['gen>2', ['c3', 'c4']],
      ['gen<3', ['c1', 'c2']],
      ['gen in ()', []],
      ['gen notin ()', ['c1', 'c2', 'c3', 'c4', 'cx']],
      ['gen in (1,)', ['c1']],
      ['!gen', ['cx']],
    ] as const) {
      const a = await both('GET', `${CONFIGMAPS}?labelSelector=${encodeURIComponent(`sel=y,${sel}`)}`);
      expect([a.real.status, a.dev.status], sel).toEqual([200, 200]);
      expect(itemNames(a.real), `real: ${sel}`).toEqual(want);
      expect(itemNames(a.dev), `dev: ${sel}`).toEqual(want);
    }
    const bad = await both('GET', `${CONFIGMAPS}?labelSelector=${encodeURIComponent('gen>x')}`);
    expect([bad.real.status, bad.dev.status]).toEqual([400, 400]);
    expect(bad.dev.body.message).toBe(bad.real.body.message);
  });

  it('paging: a delete between pages skips nothing on either; the real server serves later pages from the first page\'s snapshot, the dev one from the current state (kept)', async () => {
    for (const t of [real, devTarget]) for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) expect((await send(t, 'POST', CONFIGMAPS, cm(n, { page: 'y' }))).status).toBe(201);
    const first = await both('GET', `${CONFIGMAPS}?labelSelector=page%3Dy&limit=2`);
    expect(itemNames(first.real)).toEqual(['p1', 'p2']);
    expect(itemNames(first.dev)).toEqual(['p1', 'p2']);
    // With a label selector neither server can count what is left.
    expect([first.real.body.metadata.remainingItemCount, first.dev.body.metadata.remainingItemCount]).toEqual([undefined, undefined]);
    // p1 was served already, p3 not yet.
    await both('DELETE', `${CONFIGMAPS}/p1`);
    await both('DELETE', `${CONFIGMAPS}/p3`);
    const [r2, d2] = await Promise.all([
      send(real, 'GET', `${CONFIGMAPS}?labelSelector=page%3Dy&limit=2&continue=${encodeURIComponent(first.real.body.metadata.continue)}`),
      send(devTarget, 'GET', `${CONFIGMAPS}?labelSelector=page%3Dy&limit=2&continue=${encodeURIComponent(first.dev.body.metadata.continue)}`),
    ]);
    expect(itemNames(r2)).toEqual(['p3', 'p4']);
    expect(r2.body.metadata.resourceVersion).toBe(first.real.body.metadata.resourceVersion);
    expect(itemNames(d2)).toEqual(['p4', 'p5']);
  });

  it('resourceVersionMatch: the same 422s for bad combinations; Exact at an older resourceVersion is that snapshot on the real server, 410 on the dev one (kept)', async () => {
    for (const q of ['resourceVersionMatch=NotOlderThan', 'resourceVersionMatch=Bogus&resourceVersion=5', 'resourceVersionMatch=Exact&resourceVersion=0']) {
      const a = await both('GET', `${CONFIGMAPS}?${q}`);
      expect([a.real.status, a.dev.status], q).toEqual([422, 422]);
      expect(a.dev.body.message, q).toBe(a.real.body.message);
      expect(a.dev.body.details, q).toEqual(a.real.body.details);
    }
    const before = await both('GET', `${CONFIGMAPS}?labelSelector=rvm%3Dy`);
    await both('POST', CONFIGMAPS, cm('rvm-1', { rvm: 'y' }));
    const [r, d] = await Promise.all([
      send(real, 'GET', `${CONFIGMAPS}?labelSelector=rvm%3Dy&resourceVersionMatch=Exact&resourceVersion=${before.real.body.metadata.resourceVersion}`),
      send(devTarget, 'GET', `${CONFIGMAPS}?labelSelector=rvm%3Dy&resourceVersionMatch=Exact&resourceVersion=${before.dev.body.metadata.resourceVersion}`),
    ]);
    expect(r.status).toBe(200);
    expect(itemNames(r)).toEqual([]);
    expect(r.body.metadata.resourceVersion).toBe(before.real.body.metadata.resourceVersion);
    expect(d.status).toBe(410);
    expect(d.body.reason).toBe('Expired');
    const nowDev = await send(devTarget, 'GET', CONFIGMAPS);
    const exactNow = await send(devTarget, 'GET', `${CONFIGMAPS}?labelSelector=rvm%3Dy&resourceVersionMatch=Exact&resourceVersion=${nowDev.body.metadata.resourceVersion}`);
    expect([exactNow.status, itemNames(exactNow)]).toEqual([200, ['rvm-1']]);
  });

  it('server dry-run: a volume mount naming no volume, or a mount path used twice, is 422 with the same causes (Pod and Job)', async () => {
    const spec = {
      containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'nope', mountPath: '/x' }, { name: 'v', mountPath: '/x' }] }],
      volumes: [{ name: 'v', emptyDir: {} }],
    };
    const pod = await both('POST', `/api/v1/namespaces/${NS}/pods?dryRun=All`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });
    expect([pod.real.status, pod.dev.status]).toEqual([422, 422]);
    expect(pod.dev.body.message).toBe(pod.real.body.message);
    expect(sortedCauses(pod.dev)).toEqual(sortedCauses(pod.real));
    const job = await both('POST', `/apis/batch/v1/namespaces/${NS}/jobs?dryRun=All`, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { ...spec, restartPolicy: 'Never' } } } });
    expect([job.real.status, job.dev.status]).toEqual([422, 422]);
    expect(sortedCauses(job.dev)).toEqual(sortedCauses(job.real));
  });

  it('RBAC objects: stored by both; the real server enforces a RoleBinding, the dev one authorizes by its token rules alone (kept)', async () => {
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'rt-lister' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rt-lister' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rt-lister' },
      subjects: [{ kind: 'ServiceAccount', name: 'rt-reader', namespace: NS }],
    };
    for (const [o, plural] of [[role, 'roles'], [binding, 'rolebindings']] as const) {
      const a = await both('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/${plural}`, o);
      expect([a.real.status, a.dev.status]).toEqual([201, 201]);
      expect(a.dev.body.rules ?? a.dev.body.subjects).toEqual(a.real.body.rules ?? a.real.body.subjects);
    }
    await apply(NS, [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rt-reader' } }]);
    const realToken = await serviceAccountToken(NS, 'rt-reader');
    // The same user on the dev server, with a token whose rules grant only get.
    const devToken = dev.addToken(`system:serviceaccount:${NS}:rt-reader`, [{ verbs: ['get'], resources: ['configmaps'] }]);
    const r = await send(real, 'GET', CONFIGMAPS, undefined, { token: realToken });
    const d = await send(devTarget, 'GET', CONFIGMAPS, undefined, { token: devToken });
    expect(r.status).toBe(200);
    expect(d.status).toBe(403);
    expect(d.body.message).toBe(`configmaps is forbidden: User "system:serviceaccount:${NS}:rt-reader" cannot list resource "configmaps" in API group "" in the namespace "${NS}"`);
    // The wording of a denial is the real one: what the real server says for a verb the Role lacks.
    const denied = await send(real, 'DELETE', `${CONFIGMAPS}/c1`, undefined, { token: realToken });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(`configmaps "c1" is forbidden: User "system:serviceaccount:${NS}:rt-reader" cannot delete resource "configmaps" in API group "" in the namespace "${NS}"`);
  });

  it('watch history: writes to one resource never expire another resource\'s resourceVersion on either server', async () => {
    const jobs = `/apis/batch/v1/namespaces/${NS}/jobs`;
    const start = await both('GET', jobs);
    for (const t of [real, devTarget]) for (let i = 0; i < HISTORY + 10; i++) expect((await send(t, 'POST', CONFIGMAPS, cm(`h${i}`))).status).toBe(201);
    const [r, d] = await Promise.all([
      send(real, 'GET', `${jobs}?watch=1&timeoutSeconds=1&resourceVersion=${start.real.body.metadata.resourceVersion}`),
      send(devTarget, 'GET', `${jobs}?watch=1&timeoutSeconds=1&resourceVersion=${start.dev.body.metadata.resourceVersion}`),
    ]);
    expect([r.status, d.status]).toEqual([200, 200]);
    expect(r.text).not.toMatch(/"ERROR"/);
    expect(d.text).not.toMatch(/"ERROR"/);
    // Past its own bound the dev server does expire a resource's history: 410 as a real watch cache does.
    const old = await send(devTarget, 'GET', `${CONFIGMAPS}?watch=1&timeoutSeconds=1&resourceVersion=${start.dev.body.metadata.resourceVersion}`);
    expect(old.text).toMatch(/"code":410/);
  }, 60_000);
});
