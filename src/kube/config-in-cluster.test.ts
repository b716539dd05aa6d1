/** `preferInCluster` (the snapshot agent): the pod's service account before KUBECONFIG. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from './config.js';
import { tempDir } from '../testing/temp-dir.js';
import { writeKubeconfig } from './testing/scripted-server.js';

function serviceAccount(): string {
  const sa = tempDir('snapctl-sa-');
  fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
  fs.writeFileSync(path.join(sa, 'namespace'), 'gpu-ns\n');
  fs.writeFileSync(path.join(sa, 'ca.crt'), 'not a real certificate');
  return sa;
}

const POD_ENV = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('loadKubeConfig({ preferInCluster })', () => {
  it('uses the service account even when KUBECONFIG is set', async () => {
    const file = writeKubeconfig({ server: 'https://laptop:6443' });
    const c = await loadKubeConfig({ env: { ...POD_ENV, KUBECONFIG: file }, serviceAccountDir: serviceAccount(), preferInCluster: true });
    expect([c.source, c.server, c.namespace]).toEqual(['in-cluster', 'https://10.96.0.1:443', 'gpu-ns']);
  });

  it('an explicit --kubeconfig still wins', async () => {
    const file = writeKubeconfig({ server: 'https://laptop:6443' });
    const c = await loadKubeConfig({ kubeconfig: file, env: POD_ENV, serviceAccountDir: serviceAccount(), preferInCluster: true });
    expect(c.server).toBe('https://laptop:6443');
  });

  it('outside a pod falls back to KUBECONFIG', async () => {
    const file = writeKubeconfig({ server: 'https://laptop:6443' });
    const c = await loadKubeConfig({ env: { KUBECONFIG: file }, serviceAccountDir: path.join(tempDir('snapctl-sa-'), 'none'), preferInCluster: true });
    expect(c.source).toBe(file);
  });

  it('without it, KUBECONFIG comes first as in kubectl', async () => {
    const file = writeKubeconfig({ server: 'https://laptop:6443' });
    const c = await loadKubeConfig({ env: { ...POD_ENV, KUBECONFIG: file }, serviceAccountDir: serviceAccount() });
    expect(c.source).toBe(file);
  });
});
