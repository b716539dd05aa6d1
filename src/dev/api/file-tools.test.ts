/**
 * File-tool containers over a locally backed PVC: cp to the termination message, rm,
 * read-only mounts; nothing outside the volume reachable through `subPath`, `..` or a
 * symbolic link.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';
import { call } from './testutil.js';
import { STORAGE_SCAN_SCRIPT } from '../../protocol/storage-scan-script.js';

let api: DevApiServer;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snapshotctl-filetools-'));
  api = await startApiServer({ nodes: 1, readyDelayMs: 10, pullDelayMs: 5 });
  api.nodes.setVolumeResolver((ns, claim) => (ns === 'default' && claim === 'snapshot-pvc' ? dir : undefined));
});
afterEach(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function pod(name: string, command: string[], readOnly: boolean, extra: Record<string, unknown> = {}, subPath?: string) {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: 'node-1',
      restartPolicy: 'Never',
      containers: [{ name: 'tool', image: 'busybox:1.36', command, volumeMounts: [{ name: 'ck', mountPath: '/checkpoints', readOnly, ...(subPath !== undefined ? { subPath } : {}) }], ...extra }],
      volumes: [{ name: 'ck', persistentVolumeClaim: { claimName: 'snapshot-pvc', readOnly } }],
    },
  };
}

async function finished(name: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const p = api.store.get('pods', 'default', name) as any;
    if (p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed') return p;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pod ${name} did not finish`);
}

describe('file-tool containers', () => {
  it('cp FILE /dev/termination-log: the file becomes the termination message', async () => {
    await mkdir(join(dir, 'ck-1/versions/1'), { recursive: true });
    await writeFile(join(dir, 'ck-1/versions/1/manifest.yaml'), 'checkpointId: ck-1\n');
    api.store.create('pods', pod('reader', ['cp', '/checkpoints/ck-1/versions/1/manifest.yaml', '/dev/termination-log'], true, { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'FallbackToLogsOnError' }));
    const p = await finished('reader');
    expect(p.status.phase).toBe('Succeeded');
    expect(p.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, message: 'checkpointId: ck-1\n' });
  });

  it('a missing file fails with the error as the message (FallbackToLogsOnError)', async () => {
    api.store.create('pods', pod('reader', ['cp', '/checkpoints/nope/manifest.yaml', '/dev/termination-log'], true, { terminationMessagePolicy: 'FallbackToLogsOnError' }));
    const p = await finished('reader');
    expect(p.status.phase).toBe('Failed');
    expect(p.status.containerStatuses[0].state.terminated.message).toContain("can't stat '/checkpoints/nope/manifest.yaml'");
  });

  it('rm -rf removes a directory on a writable mount, never on a read-only one or the mount point', async () => {
    await mkdir(join(dir, 'ck-2/versions/1'), { recursive: true });
    api.store.create('pods', pod('ro', ['rm', '-rf', '--', '/checkpoints/ck-2'], true));
    expect((await finished('ro')).status.phase).toBe('Failed');
    expect(existsSync(join(dir, 'ck-2'))).toBe(true);
    api.store.create('pods', pod('root', ['rm', '-rf', '/checkpoints'], false));
    expect((await finished('root')).status.phase).toBe('Failed');
    api.store.create('pods', pod('rw', ['rm', '-rf', '--', '/checkpoints/ck-2'], false));
    expect((await finished('rw')).status.phase).toBe('Succeeded');
    expect(existsSync(join(dir, 'ck-2'))).toBe(false);
  });

  it('pods without a locally backed PVC run in the normal runtime', async () => {
    api.store.create('pods', { metadata: { name: 'plain', namespace: 'default' }, spec: { nodeName: 'node-1', restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['cp', 'a', 'b'] }] } });
    await new Promise((r) => setTimeout(r, 200));
    expect((api.store.get('pods', 'default', 'plain') as any).status.phase).toBe('Running');
  });
});

describe('subPath: validated as the real API server does', () => {
  const field = 'spec.containers[0].volumeMounts[0].subPath';
  it.each([
    ['../../..', [`Invalid value: "../../..": must not contain '..'`]],
    ['a/../../b', [`Invalid value: "a/../../b": must not contain '..'`]],
    ['/etc', ['Invalid value: "/etc": must be a relative path']],
    ['/../x', ['Invalid value: "/../x": must be a relative path', `Invalid value: "/../x": must not contain '..'`]],
  ])('subPath %j: 422 Invalid naming the field, nothing created', async (subPath, messages) => {
    const r = await call(api, 'POST', '/api/v1/namespaces/default/pods', pod('esc', ['cat', '/checkpoints/x'], true, {}, subPath));
    expect(r.status).toBe(422);
    const joined = messages.map((m) => `${field}: ${m}`);
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Pod "esc" is invalid: ${joined.length === 1 ? joined[0] : `[${joined.join(', ')}]`}`,
      reason: 'Invalid',
      details: { name: 'esc', kind: 'Pod', causes: messages.map((message) => ({ reason: 'FieldValueInvalid', message, field })) },
      code: 422,
    });
    expect(api.store.get('pods', 'default', 'esc')).toBeUndefined();
  });

  it('a Job template gets the same check under spec.template.spec', async () => {
    const job = { metadata: { name: 'j' }, spec: { template: { spec: { ...pod('x', ['cat', '/checkpoints/x'], true, {}, '..').spec, nodeName: undefined } } } };
    const r = await call(api, 'POST', '/apis/batch/v1/namespaces/default/jobs', job);
    expect(r.status).toBe(422);
    expect(r.body.details.causes).toEqual([{ reason: 'FieldValueInvalid', message: `Invalid value: "..": must not contain '..'`, field: 'spec.template.spec.containers[0].volumeMounts[0].subPath' }]);
  });

  it('a plain relative subPath is accepted and used', async () => {
    await mkdir(join(dir, 'ck-4'), { recursive: true });
    await writeFile(join(dir, 'ck-4', 'manifest.yaml'), 'checkpointId: ck-4\n');
    expect((await call(api, 'POST', '/api/v1/namespaces/default/pods', pod('sub', ['cp', '/checkpoints/manifest.yaml', '/dev/termination-log'], true, {}, 'ck-4'))).status).toBe(201);
    const p = await finished('sub');
    expect(p.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, message: 'checkpointId: ck-4\n' });
  });
});

describe('file tools never leave the volume through a symbolic link', () => {
  let outside: string;
  beforeEach(async () => {
    outside = await mkdtemp(join(tmpdir(), 'snapshotctl-filetools-outside-'));
    await writeFile(join(outside, 'secret'), 'root-only secret\n');
    await mkdir(join(dir, 'ck-3'), { recursive: true });
    await writeFile(join(dir, 'ck-3', 'manifest.yaml'), 'checkpointId: ck-3\n');
    await symlink(outside, join(dir, 'ck-3', 'link'));
    await symlink(join(outside, 'secret'), join(dir, 'ck-3', 'filelink'));
  });
  afterEach(async () => {
    await rm(outside, { recursive: true, force: true });
  });

  const message = (p: any): string => p.status.containerStatuses[0].state.terminated.message ?? '';

  it.each([
    ['a directory link on the way', '/checkpoints/ck-3/link/secret'],
    ['the file itself a link', '/checkpoints/ck-3/filelink'],
  ])('cp through %s to the termination message: fails, the file outside is not read', async (_n, src) => {
    api.store.create('pods', pod('rd', ['cp', src, '/dev/termination-log'], true, { terminationMessagePolicy: 'FallbackToLogsOnError' }));
    const p = await finished('rd');
    expect(p.status.phase).toBe('Failed');
    expect(message(p)).toContain('symbolic links are not followed');
    expect(message(p)).not.toContain('secret\n');
  });

  it('cat through a link fails', async () => {
    api.store.create('pods', pod('cat', ['cat', '/checkpoints/ck-3/link/secret'], true, { terminationMessagePolicy: 'FallbackToLogsOnError' }));
    const p = await finished('cat');
    expect(p.status.phase).toBe('Failed');
    expect(message(p)).not.toContain('root-only');
  });

  it('a subPath that is a link is not followed', async () => {
    api.store.create('pods', pod('sp', ['cp', '/checkpoints/secret', '/dev/termination-log'], true, { terminationMessagePolicy: 'FallbackToLogsOnError' }, 'ck-3/link'));
    const p = await finished('sp');
    expect(p.status.phase).toBe('Failed');
    expect(message(p)).not.toContain('root-only');
  });

  it('cp into a linked directory writes nothing outside', async () => {
    api.store.create('pods', pod('wr', ['cp', '/checkpoints/ck-3/manifest.yaml', '/checkpoints/ck-3/link/planted'], false));
    expect((await finished('wr')).status.phase).toBe('Failed');
    expect(existsSync(join(outside, 'planted'))).toBe(false);
  });

  it('cp onto a file link does not overwrite its target', async () => {
    api.store.create('pods', pod('ow', ['cp', '/checkpoints/ck-3/manifest.yaml', '/checkpoints/ck-3/filelink'], false));
    expect((await finished('ow')).status.phase).toBe('Failed');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('root-only secret\n');
  });

  it('rm -rf through a link removes nothing outside; rm -rf of the link removes only the link', async () => {
    api.store.create('pods', pod('rm1', ['rm', '-rf', '--', '/checkpoints/ck-3/link/secret'], false));
    expect((await finished('rm1')).status.phase).toBe('Failed');
    expect(existsSync(join(outside, 'secret'))).toBe(true);
    api.store.create('pods', pod('rm2', ['rm', '-rf', '--', '/checkpoints/ck-3'], false));
    expect((await finished('rm2')).status.phase).toBe('Succeeded');
    expect(existsSync(join(dir, 'ck-3'))).toBe(false);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('root-only secret\n');
  });

  it("the CLI's storage scan runs through the host's sh on the volume; a script that differs from it by a byte never does", async () => {
    await mkdir(join(dir, 'ck-1/versions/1'), { recursive: true });
    const scan = (name: string, script: string) =>
      pod(name, ['sh', '-c', script, 'storage-scan', '/checkpoints', '/dev/termination-log'], true, { terminationMessagePath: '/dev/termination-log' });
    api.store.create('pods', scan('evil', `${STORAGE_SCAN_SCRIPT}touch ${join(dir, 'pwned')}\n`));
    api.store.create('pods', scan('scan', STORAGE_SCAN_SCRIPT));
    const p = await finished('scan');
    expect(p.status.phase).toBe('Succeeded');
    expect(p.status.containerStatuses[0].state.terminated.message).toMatch(/^A\tck-1\t1\t.*\nEND\t1\n$/s);
    // The other pod is not a file tool: it runs in the node's (simulated) runtime.
    for (let i = 0; i < 200 && (api.store.get('pods', 'default', 'evil') as any)?.status?.phase !== 'Running'; i++) await new Promise((r) => setTimeout(r, 10));
    expect((api.store.get('pods', 'default', 'evil') as any).status.phase).toBe('Running');
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });
});
