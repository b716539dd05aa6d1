/** The dev nodes answer `snapshotctl preflight`'s probe per image; PVCs are bound at once. */
import { afterEach, describe, expect, it } from 'vitest';
// The CLI's own probe pod: proves the marker copy in probe-tools.ts matches the script.
import { buildProbePod } from '../../commands/preflight-probe.js';
import { DEFAULT_IMAGE_TOOLS, isProbeCommand, probeLine, toolsOfImage, type ImageToolsRule } from './probe-tools.js';
import { startApiServer, type DevApiServer } from './index.js';
import { waitFor } from './testutil.js';

let api: DevApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function probe(server: DevApiServer, image: string): Promise<any> {
  const pod = buildProbePod({ namespace: 'default', image, nodes: ['node-1'] });
  const created = server.store.create('pods', pod as any);
  const name = created.metadata.name ?? '';
  return waitFor(() => {
    const p = server.store.get('pods', 'default', name) as any;
    return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
  }, 5000, `probe pod ${name} to finish`);
}

describe('probe tools', () => {
  it('default table: a placeholder image has every tool, a runtime image only sleep', async () => {
    api = await startApiServer({ nodes: 1, readyDelayMs: 10, pullDelayMs: 5 });
    const good = await probe(api, 'nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0');
    expect(good.status.phase).toBe('Succeeded');
    expect(good.spec.nodeName).toBe('node-1');
    expect(good.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'criu=1 cuda-checkpoint=1 launch-job=1 nsrestore=1 sleep=1\n' });
    const raw = await probe(api, 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0');
    expect(raw.status.containerStatuses[0].state.terminated.message).toBe('criu=0 cuda-checkpoint=0 launch-job=0 nsrestore=0 sleep=1\n');
  });

  it('a configured table, first match wins', async () => {
    const imageTools: ImageToolsRule[] = [
      { image: 'registry.local/*:580-placeholder', tools: ['criu', 'cuda-checkpoint', 'nsrestore', 'sleep'] },
      ...DEFAULT_IMAGE_TOOLS,
    ];
    api = await startApiServer({ nodes: 1, readyDelayMs: 10, pullDelayMs: 5, imageTools });
    const p = await probe(api, 'registry.local/vllm:580-placeholder');
    expect(p.status.containerStatuses[0].state.terminated.message).toBe('criu=1 cuda-checkpoint=1 launch-job=0 nsrestore=1 sleep=1\n');
  });

  it('pure parts: patterns, the line, the command shape', () => {
    expect([...toolsOfImage('x/placeholder-ish:1', DEFAULT_IMAGE_TOOLS)].sort()).toEqual(['criu', 'cuda-checkpoint', 'launch-job', 'nsrestore', 'sleep']);
    expect([...toolsOfImage('busybox:1.36', DEFAULT_IMAGE_TOOLS)]).toEqual(['sleep']);
    expect([...toolsOfImage('anything', [])]).toEqual([]);
    // --launch-job is never reported without cuda-checkpoint, as in the script.
    expect(probeLine(new Set(['launch-job', 'sleep']))).toBe('criu=0 cuda-checkpoint=0 launch-job=0 nsrestore=0 sleep=1\n');
    expect(isProbeCommand(['sh', '-c', 'sleep 1'])).toBe(false);
    expect(isProbeCommand(['cp', 'a', 'b'])).toBe(false);
  });
});

describe('PVC binder', () => {
  it('binds a new claim at once: volumeName, phase Bound, capacity and access modes', async () => {
    api = await startApiServer({ nodes: 1 });
    const server = api;
    server.store.create('persistentvolumeclaims', {
      metadata: { name: 'snapshot-pvc', namespace: 'default' },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '100Gi' } } },
    });
    const pvc = await waitFor(() => {
      const p = server.store.get('persistentvolumeclaims', 'default', 'snapshot-pvc') as any;
      return p?.status?.phase === 'Bound' ? p : undefined;
    }, 5000, 'the PVC to be Bound');
    expect(pvc.spec.volumeName).toBe(`pvc-${pvc.metadata.uid}`);
    expect(pvc.status).toEqual({ phase: 'Bound', accessModes: ['ReadWriteMany'], capacity: { storage: '100Gi' } });
  });
});
