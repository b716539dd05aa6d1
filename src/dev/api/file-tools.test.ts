/** File-tool containers over a locally backed PVC: cp to the termination message, rm, read-only mounts. */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type DevApiServer } from './index.js';

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

function pod(name: string, command: string[], readOnly: boolean, extra: Record<string, unknown> = {}) {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: 'node-1',
      restartPolicy: 'Never',
      containers: [{ name: 'tool', image: 'busybox:1.36', command, volumeMounts: [{ name: 'ck', mountPath: '/checkpoints', readOnly }], ...extra }],
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
