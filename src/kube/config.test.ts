import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterError, UsageError } from '../errors.js';
import { loadKubeConfig } from './config.js';
import { tempDir } from '../testing/temp-dir.js';
import { writeKubeconfig } from './testing/scripted-server.js';

function tmpDir(): string {
  return tempDir('snapctl-cfg-');
}

describe('loadKubeConfig', () => {
  it('reads --kubeconfig: context name, namespace and server', async () => {
    const file = writeKubeconfig({ server: 'https://10.0.0.1:6443/', namespace: 'ml' });
    const c = await loadKubeConfig({ kubeconfig: file, env: {} });
    expect([c.contextName, c.namespace, c.server, c.source]).toEqual(['test', 'ml', 'https://10.0.0.1:6443', file]);
  });

  it('defaults the namespace to default and switches context with --kube-context', async () => {
    const file = writeKubeconfig({ server: 'https://h', namespace: 'ml', extraContexts: ['other'] });
    const c = await loadKubeConfig({ kubeconfig: file, context: 'other', env: {} });
    expect([c.contextName, c.namespace]).toEqual(['other', 'default']);
  });

  it('rejects an unknown context as a usage error listing the contexts', async () => {
    const file = writeKubeconfig({ server: 'https://h', extraContexts: ['prod', 'staging'] });
    const err = await loadKubeConfig({ kubeconfig: file, context: 'nope', env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(`context "nope" not found in ${file}`);
    expect((err as UsageError).hint).toBe('available contexts: test, prod, staging');
  });

  it('rejects a --kubeconfig that does not exist', async () => {
    const err = await loadKubeConfig({ kubeconfig: '/nonexistent/kc', env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe('--kubeconfig /nonexistent/kc: no such file');
  });

  it('merges the KUBECONFIG list, skipping missing files, first file wins current-context', async () => {
    const a = writeKubeconfig({ server: 'https://a', namespace: 'from-a' });
    const dir = tmpDir();
    const bFile = path.join(dir, 'b.json');
    fs.writeFileSync(
      bFile,
      JSON.stringify({
        clusters: [{ name: 'b', cluster: { server: 'https://b' } }],
        users: [{ name: 'b', user: {} }],
        contexts: [{ name: 'b-ctx', context: { cluster: 'b', user: 'b', namespace: 'from-b' } }],
        'current-context': 'b-ctx',
      }),
    );
    const env = { KUBECONFIG: ['/missing/kc', a, bFile].join(path.delimiter) };
    const first = await loadKubeConfig({ env });
    expect([first.contextName, first.server, first.namespace]).toEqual(['test', 'https://a', 'from-a']);
    const second = await loadKubeConfig({ env, context: 'b-ctx' });
    expect([second.server, second.namespace]).toEqual(['https://b', 'from-b']);
  });

  it('falls back to ~/.kube/config', async () => {
    const home = tmpDir();
    fs.mkdirSync(path.join(home, '.kube'));
    writeKubeconfig({ server: 'https://home' }, path.join(home, '.kube'));
    const [written] = fs.readdirSync(path.join(home, '.kube'));
    fs.renameSync(path.join(home, '.kube', written ?? ''), path.join(home, '.kube', 'config'));
    const c = await loadKubeConfig({ env: { HOME: home } });
    expect(c.server).toBe('https://home');
  });

  it('uses the service account in a pod', async () => {
    const sa = tmpDir();
    fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
    fs.writeFileSync(path.join(sa, 'namespace'), 'agents\n');
    fs.writeFileSync(path.join(sa, 'ca.crt'), 'not a real certificate');
    const c = await loadKubeConfig({
      env: { HOME: tmpDir(), KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountDir: sa,
    });
    expect([c.source, c.server, c.namespace, c.contextName]).toEqual(['in-cluster', 'https://10.96.0.1:443', 'agents', 'in-cluster']);
    const opts: { headers?: Record<string, unknown> } = {};
    await c.kc.applyToHTTPSOptions(opts);
    expect(opts.headers?.Authorization).toBe('Bearer sa-token');
  });

  it('says where it looked when there is no configuration at all', async () => {
    const home = tmpDir();
    const err = await loadKubeConfig({ env: { HOME: home }, serviceAccountDir: path.join(home, 'sa') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).message).toBe(
      `no kubeconfig found (looked at ${path.join(home, '.kube', 'config')}, in-cluster service account ${path.join(home, 'sa')})`,
    );
    expect((err as ClusterError).hint).toBe('pass --kubeconfig or set KUBECONFIG');
  });
});
