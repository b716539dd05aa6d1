import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call, podManifest, readWatch, waitFor } from './testutil.js';
import type { KubeObject } from './types.js';

let api: DevApiServer;
beforeAll(async () => {
  api = await startApiServer({
    nodes: [{ labels: { 'nvidia.com/gpu.present': 'true' }, gpus: 2 }, {}, { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] }],
    readyDelayMs: 100,
  });
});
afterAll(async () => {
  await api.close();
});

const job = (name: string, command: string[], spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
  spec: { ...spec, template: { metadata: { labels: { app: name } }, spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'busybox', command }] } } },
});
const cond = (o: KubeObject | undefined, type: string): any => (o?.status?.conditions ?? []).find((c: any) => c.type === type && c.status === 'True');
const podsOfJob = (name: string): KubeObject[] => api.store.list('pods', { namespace: 'default', labelSelector: `batch.kubernetes.io/job-name=${name}` });

describe('Job controller', () => {
  it('defaults the spec and creates one labelled, owned pod', async () => {
    const r = await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('jd', ['sleep', 'infinity']));
    const uid = r.body.metadata.uid;
    expect(r.body.spec).toMatchObject({ backoffLimit: 6, completions: 1, parallelism: 1, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } } });
    expect(r.body.spec.template.metadata.labels).toMatchObject({ app: 'jd', 'job-name': 'jd', 'controller-uid': uid, 'batch.kubernetes.io/job-name': 'jd' });
    const pods = await waitFor(() => (podsOfJob('jd').length === 1 ? podsOfJob('jd') : undefined));
    const pod = pods[0]!;
    expect(pod.metadata.name).toMatch(/^jd-[a-z0-9]{5}$/);
    expect(pod.metadata.labels).toMatchObject({ 'batch.kubernetes.io/job-name': 'jd', 'job-name': 'jd', 'batch.kubernetes.io/controller-uid': uid, 'controller-uid': uid });
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'jd', uid, controller: true, blockOwnerDeletion: true }]);
    const running = await waitFor(() => api.store.get('jobs.batch', 'default', 'jd')?.status?.active === 1 && api.store.get('jobs.batch', 'default', 'jd'));
    expect(running.status.startTime).toBeTruthy();
    await new Promise((r2) => setTimeout(r2, 100));
    expect(podsOfJob('jd')).toHaveLength(1);
  });

  it('completes when the pod succeeds (SIGUSR1 on a sim container)', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('js', ['sleep', 'infinity']));
    const pod = await waitFor(() => podsOfJob('js')[0]);
    const h = await api.nodes.waitForContainer('default', pod.metadata.name!);
    expect(h.runtime).toBe('sim');
    expect(h.signal('SIGUSR1')).toBe(true);
    const done = await waitFor(() => cond(api.store.get('jobs.batch', 'default', 'js'), 'Complete') && api.store.get('jobs.batch', 'default', 'js'));
    expect(done.status).toMatchObject({ succeeded: 1, completionTime: expect.any(String) });
    expect(done.status.active).toBeUndefined();
    expect(api.store.get('pods', 'default', pod.metadata.name!)?.status.phase).toBe('Succeeded');
  });

  it.each([
    [0, 1],
    [2, 3],
  ])('backoffLimit %i → %i failed pods, then Failed/BackoffLimitExceeded', async (limit, pods) => {
    const name = `jf${limit}`;
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job(name, ['false'], { backoffLimit: limit }));
    const failed = await waitFor(() => cond(api.store.get('jobs.batch', 'default', name), 'Failed') && api.store.get('jobs.batch', 'default', name), 8000);
    expect(cond(failed, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' });
    expect(failed.status.failed).toBe(pods);
    expect(podsOfJob(name)).toHaveLength(pods);
    const sigkilled = podsOfJob(name)[0]!;
    expect(sigkilled.status.containerStatuses[0].state.terminated.exitCode).toBe(1);
  });

  it('SIGKILL fails the pod with 137', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('jk', ['sleep', 'infinity'], { backoffLimit: 0 }));
    const pod = await waitFor(() => podsOfJob('jk')[0]);
    (await api.nodes.waitForContainer('default', pod.metadata.name!)).signal('SIGKILL');
    const p = await waitFor(() => api.store.get('pods', 'default', pod.metadata.name!)?.status.phase === 'Failed' && api.store.get('pods', 'default', pod.metadata.name!));
    expect(p.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    await waitFor(() => cond(api.store.get('jobs.batch', 'default', 'jk'), 'Failed'));
  });

  it('activeDeadlineSeconds fails the job with DeadlineExceeded and removes its pod', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('jdl', ['sleep', 'infinity'], { activeDeadlineSeconds: 1 }));
    const failed = await waitFor(() => cond(api.store.get('jobs.batch', 'default', 'jdl'), 'Failed'), 5000);
    expect(failed).toMatchObject({ reason: 'DeadlineExceeded' });
    await waitFor(() => podsOfJob('jdl').length === 0, 5000, 'pod deletion');
  });
});

describe('scheduler', () => {
  it.each([
    ['nodeSelector', { nodeSelector: { 'nvidia.com/gpu.present': 'true' } }, 'node-1'],
    ['hostname affinity', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-2'] }] }] } } } }, 'node-2'],
    ['NotIn + DoesNotExist', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-2'] }, { key: 'nvidia.com/gpu.present', operator: 'DoesNotExist' }] }, { matchExpressions: [{ key: 'nope', operator: 'Exists' }] }] } } } }, 'node-3-untolerated'],
    ['toleration', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }], nodeSelector: { 'kubernetes.io/hostname': 'node-3' } }, 'node-3'],
  ])('%s', async (name, extra, want) => {
    const pn = `sch-${name.replace(/[^a-z]/gi, '').toLowerCase()}`;
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest(pn, extra));
    if (want.endsWith('-untolerated')) {
      const p = await waitFor(() => (api.store.get('pods', 'default', pn)?.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False'));
      expect(p).toMatchObject({ reason: 'Unschedulable', message: expect.stringMatching(/^0\/3 nodes are available: 2 node\(s\) didn't match Pod's node affinity\/selector, 1 node\(s\) had untolerated taint \{dedicated: infra\}|^0\/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: infra\}, 2 node\(s\) didn't match/) });
      const ev = await waitFor(() => api.store.list('events', { namespace: 'default', fieldSelector: `involvedObject.name=${pn},reason=FailedScheduling` })[0]);
      expect(ev).toMatchObject({ type: 'Warning', source: { component: 'default-scheduler' } });
      return;
    }
    const p = await waitFor(() => api.store.get('pods', 'default', pn)?.status?.phase === 'Running' && api.store.get('pods', 'default', pn));
    expect(p.spec.nodeName).toBe(want);
  });
});

describe('scheduler resources', () => {
  it('extended resources: a pod asking more GPUs than any node has stays Pending with "Insufficient nvidia.com/gpu"', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('gpu3', { containers: [{ name: 'c', image: 'i', resources: { limits: { 'nvidia.com/gpu': 3 } } }] }));
    const c = await waitFor(() => (api.store.get('pods', 'default', 'gpu3')?.status?.conditions ?? []).find((x: any) => x.type === 'PodScheduled' && x.status === 'False'));
    expect(c.message).toMatch(/^0\/3 nodes are available: 2 Insufficient nvidia.com\/gpu, 1 node\(s\) had untolerated taint \{dedicated: infra\}\. /);
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('gpu1', { containers: [{ name: 'c', image: 'i', resources: { limits: { 'nvidia.com/gpu': 1 } } }] }));
    const p = await waitFor(() => api.store.get('pods', 'default', 'gpu1')?.spec?.nodeName);
    expect(p).toBe('node-1');
  });
});

describe('kubelet (sim)', () => {
  it('runs a pod to Ready with IDs, IPs and conditions', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('kp', { containers: [{ name: 'main', image: 'busybox', command: ['sleep', 'infinity'], readinessProbe: { exec: { command: ['true'] } } }] }));
    const p = await waitFor(() => (cond(api.store.get('pods', 'default', 'kp'), 'Ready') ? api.store.get('pods', 'default', 'kp') : undefined));
    expect(p.status).toMatchObject({ phase: 'Running', podIP: expect.stringMatching(/^10\.244\./), hostIP: expect.stringMatching(/^10\.0\.0\./), startTime: expect.any(String) });
    expect(p.status.conditions.map((c: any) => c.type)).toEqual(expect.arrayContaining(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']));
    expect(p.status.containerStatuses[0]).toMatchObject({ name: 'main', ready: true, started: true, restartCount: 0, state: { running: { startedAt: expect.any(String) } } });
    expect(p.status.containerStatuses[0].containerID).toBe(api.nodes.containerFor('default', 'kp')!.containerID);
  });

  it('never-Ready fault keeps Ready=False while Running', async () => {
    api.nodes.setNeverReady({ namespace: 'default', name: 'nr' });
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('nr'));
    // A twin without the fault, created after it: once the twin is Ready, the kubelet
    // has had its ready delay for `nr` too (a fixed pause can be too short under load).
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('nr-twin'));
    await waitFor(() => cond(api.store.get('pods', 'default', 'nr-twin'), 'Ready'), 5000, 'the twin Ready');
    expect(api.store.get('pods', 'default', 'nr')?.status?.phase).toBe('Running');
    expect(cond(api.store.get('pods', 'default', 'nr'), 'Ready')).toBeUndefined();
    api.nodes.setNeverReady({ namespace: 'default', name: 'nr' }, false);
    await waitFor(() => cond(api.store.get('pods', 'default', 'nr'), 'Ready'));
  });

  it('evicts a pod', async () => {
    await call(api, 'POST', '/api/v1/namespaces/default/pods', podManifest('ev'));
    await waitFor(() => api.store.get('pods', 'default', 'ev')?.status?.phase === 'Running');
    api.nodes.evictPod('default', 'ev');
    const p = await waitFor(() => api.store.get('pods', 'default', 'ev')?.status?.phase === 'Failed' && api.store.get('pods', 'default', 'ev'));
    expect(p.status.reason).toBe('Evicted');
  });
});

describe('DaemonSet, garbage collection, node loss', () => {
  it('one pod per fitting Ready node, status counters, node loss fails pods', async () => {
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1', command: ['sleep', 'infinity'] }] } } } };
    const r = await call(api, 'POST', '/apis/apps/v1/namespaces/kube-system/daemonsets', ds);
    expect(r.status).toBe(201);
    // node-3 is tainted dedicated=infra:NoSchedule, which the template does not tolerate.
    const st = await waitFor(() => {
      const d = api.store.get('daemonsets.apps', 'kube-system', 'agent');
      return d?.status?.numberReady === 2 ? d.status : undefined;
    });
    expect(st).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 2, numberAvailable: 2 });
    const pods = api.store.list('pods', { namespace: 'kube-system', labelSelector: 'app=agent' });
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(['node-1', 'node-2']);
    expect(pods[0]!.metadata.ownerReferences![0]).toMatchObject({ kind: 'DaemonSet', name: 'agent', controller: true });
    const onNode2 = pods.find((p) => p.spec.nodeName === 'node-2')!;
    api.nodes.loseNode('node-2');
    const lost = await waitFor(() => api.store.get('pods', 'kube-system', onNode2.metadata.name!)?.status.phase === 'Failed' && api.store.get('pods', 'kube-system', onNode2.metadata.name!));
    expect(lost.status.reason).toBe('NodeLost');
    await waitFor(() => api.store.get('daemonsets.apps', 'kube-system', 'agent')?.status?.desiredNumberScheduled === 1);
    api.nodes.setNodeReady('node-2', true);
    await waitFor(() => api.store.get('daemonsets.apps', 'kube-system', 'agent')?.status?.numberReady === 2, 5000, 'ds recovers');
  });

  it('background propagation deletes dependents after the owner', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('gcb', ['sleep', 'infinity']));
    await waitFor(() => podsOfJob('gcb').length === 1);
    const d = await call(api, 'DELETE', '/apis/batch/v1/namespaces/default/jobs/gcb?propagationPolicy=Background');
    expect(d.status).toBe(200);
    expect(api.store.get('jobs.batch', 'default', 'gcb')).toBeUndefined();
    await waitFor(() => podsOfJob('gcb').length === 0, 5000, 'dependents gone');
  });

  it('jobs orphan their pods by default (as batch/v1 does), with a warning header', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('gco', ['sleep', 'infinity']));
    await waitFor(() => podsOfJob('gco').length === 1);
    const d = await call(api, 'DELETE', '/apis/batch/v1/namespaces/default/jobs/gco');
    expect(d.headers.get('warning')).toContain('child pods are preserved by default');
    // The garbage collector has handled the orphaning once the pod's ownerReference is
    // gone; only then is "the pod is still there" a finding rather than a head start.
    await waitFor(() => api.store.list('pods', { namespace: 'default' }).some((p) => p.metadata.name?.startsWith('gco') && p.metadata.ownerReferences === undefined), 5000, 'the orphaned pod');
    const pods = podsOfJob('gco');
    expect(pods).toHaveLength(1);
    expect(pods[0]!.metadata.ownerReferences).toBeUndefined();
  });

  it('foreground propagation: owner gets deletionTimestamp + finalizer, dependents go, then the owner (MODIFIED then DELETED)', async () => {
    await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job('gcf', ['sleep', 'infinity']));
    await waitFor(() => podsOfJob('gcf').length === 1);
    const p = readWatch(api, `/apis/batch/v1/namespaces/default/jobs?watch=true&fieldSelector=metadata.name%3Dgcf&resourceVersion=${api.store.currentRv()}`, (evs) => evs.some((e) => e.type === 'DELETED'), {
      onOpen: () => void call(api, 'DELETE', '/apis/batch/v1/namespaces/default/jobs/gcf', { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' }),
    });
    const { events } = await p;
    const types = events.map((e) => e.type);
    expect(types[types.length - 1]).toBe('DELETED');
    const firstMod = events.find((e) => e.type === 'MODIFIED' && e.object.metadata.deletionTimestamp);
    expect(firstMod.object.metadata.finalizers).toContain('foregroundDeletion');
    expect(podsOfJob('gcf')).toHaveLength(0);
  });

  it('deleting a namespace removes its contents, then the namespace', async () => {
    await call(api, 'POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } });
    await call(api, 'POST', '/api/v1/namespaces/doomed/pods', podManifest('x'));
    await call(api, 'POST', '/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'c' } });
    await waitFor(() => api.store.get('pods', 'doomed', 'x')?.status?.phase === 'Running');
    // Through the store, so the create races nothing: the namespace controller runs on the next tick.
    const d = api.store.delete('namespaces', undefined, 'doomed');
    expect(d.object.status.phase).toBe('Terminating');
    let err: any;
    try {
      api.store.create('configmaps', { metadata: { name: 'late', namespace: 'doomed' } });
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe(403);
    expect(err?.message).toBe('configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    await waitFor(() => api.store.get('namespaces', undefined, 'doomed') === undefined, 5000, 'namespace removal');
  });
});
