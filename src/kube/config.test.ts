import fs from 'node:fs';
import type https from 'node:https';
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
    const opts: https.RequestOptions = {};
    await c.applyToHTTPSOptions(opts);
    expect((opts.headers as Record<string, unknown>)['Authorization']).toBe('Bearer sa-token');
    expect(String(opts.ca)).toBe('not a real certificate');
    // kubelet rotates the token: the next request carries the new one.
    fs.writeFileSync(path.join(sa, 'token'), 'rotated-token');
    const next: https.RequestOptions = {};
    await c.applyToHTTPSOptions(next);
    expect((next.headers as Record<string, unknown>)['Authorization']).toBe('Bearer rotated-token');
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

describe('loadKubeConfig: the built-in reader and when client-node takes over', () => {
  function write(dir: string, name: string, doc: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return file;
  }
  const one = (cluster: Record<string, unknown>, user: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.9:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'ns1' } }],
    'current-context': 'x',
  });

  it('client certificate files relative to the kubeconfig, a CA as data, tls-server-name: read without client-node', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'pki'));
    fs.writeFileSync(path.join(dir, 'pki', 'me.crt'), 'CERT');
    fs.writeFileSync(path.join(dir, 'pki', 'me.key'), 'KEY');
    const file = write(dir, 'kc.yaml', one({ 'certificate-authority-data': Buffer.from('CA').toString('base64'), 'tls-server-name': 'api.internal' }, { 'client-certificate': 'pki/me.crt', 'client-key': 'pki/me.key' }));
    const c = await loadKubeConfig({ kubeconfig: file, env: {} });
    expect([c.loader, c.contextName, c.namespace, c.server]).toEqual(['built-in', 'x', 'ns1', 'https://10.0.0.9:6443']);
    const o: https.RequestOptions = {};
    await c.applyToHTTPSOptions(o);
    expect([String(o.ca), String(o.cert), String(o.key), o.servername, o.rejectUnauthorized, o.headers]).toEqual(['CA', 'CERT', 'KEY', 'api.internal', undefined, undefined]);
  });

  it('a token, basic auth and insecure-skip-tls-verify', async () => {
    const dir = tmpDir();
    const c = await loadKubeConfig({ kubeconfig: write(dir, 'kc.json', one({ 'insecure-skip-tls-verify': true }, { token: 't0k', username: 'ada', password: 'pw' })), env: {} });
    const o: https.RequestOptions = {};
    await c.applyToHTTPSOptions(o);
    expect([(o.headers as Record<string, string>)['Authorization'], o.auth, o.rejectUnauthorized]).toEqual(['Bearer t0k', 'ada:pw', false]);
  });

  it('a missing client key file is a cluster error naming the file', async () => {
    const dir = tmpDir();
    const c = await loadKubeConfig({ kubeconfig: write(dir, 'kc.json', one({}, { 'client-certificate-data': 'Q0VSVA==', 'client-key': '/nonexistent/me.key' })), env: {} });
    const err = await c.applyToHTTPSOptions({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as Error).message).toMatch(/cannot read the kubeconfig's client key \/nonexistent\/me\.key/);
  });

  it('an exec plugin goes to client-node, which runs it', async () => {
    const dir = tmpDir();
    const plugin = write(dir, 'cred.sh', '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}\'\n');
    fs.chmodSync(plugin, 0o755);
    const c = await loadKubeConfig({ kubeconfig: write(dir, 'kc.json', one({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } })), env: {} });
    expect([c.loader, c.namespace, c.server]).toEqual(['client-node', 'ns1', 'https://10.0.0.9:6443']);
    const o: https.RequestOptions = {};
    await c.applyToHTTPSOptions(o);
    expect((o.headers as Record<string, string>)['Authorization']).toBe('Bearer from-exec');
  });

  it('a file that is not a kubeconfig is a usage error naming it', async () => {
    const dir = tmpDir();
    for (const text of ['- a\n- b\n', 'clusters: [\n']) {
      const file = write(dir, 'bad.yaml', text);
      const err = await loadKubeConfig({ kubeconfig: file, env: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toContain(`cannot read kubeconfig ${file}: `);
    }
  });
});
