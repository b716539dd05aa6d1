/**
 * Fidelity tests with a real kubectl. Which one is the machine set-up step's choice
 * (vitest.config.ts's globalSetup, src/testing/machine.ts: $KUBECTL, else a Debian kubectl
 * unpacked earlier, else a kubectl 1.20+ on PATH, else Debian's kubernetes-client installed
 * or downloaded); this file only reads it. Where none could be had, the kubectl tests skip
 * and say why; a $KUBECTL that does not run fails them (it was asked for by name).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUsableKubectl, machineSetup } from '../../testing/machine.js';
import { startApiServer, type DevApiServer } from './index.js';
import { podManifest, waitFor } from './testutil.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures/kubectl');
const found = machineSetup().kubectl;
if (!found.ok && process.env['KUBECTL']) throw new Error(found.reason);
if (!found.ok) console.warn(`\n!!! SKIPPING the kubectl fidelity tests: ${found.reason}\n`);
const kubectlBin = found.ok ? found.bin : 'kubectl';

let api: DevApiServer;
let dir: string;
let kubeconfig: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(kubectlBin, [...args, '--cache-dir', join(dir, 'cache')], { env: { ...process.env, KUBECONFIG: kubeconfig, HOME: dir }, timeout: 20_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  api = await startApiServer({ nodes: [{ labels: { 'nvidia.com/gpu.present': 'true' }, gpus: 1 }, {}], readyDelayMs: 50 });
  dir = mkdtempSync(join(tmpdir(), 'kubectl-test-'));
  kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
}, 120_000);

afterAll(async () => {
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('which kubectl the fidelity tests take', () => {
  it('a kubectl on PATH of 1.20 or newer is used as it is (no Debian download); an older one or a non-kubectl is not', async () => {
    const fake = (name: string, json: string) => {
      const bin = join(dir, name);
      writeFileSync(bin, `#!/bin/sh\ncat <<'EOF'\n${json}\nEOF\n`, { mode: 0o755 });
      return bin;
    };
    expect(await isUsableKubectl(fake('k132', '{"clientVersion":{"major":"1","minor":"32+","gitVersion":"v1.32.4-dispatcher"}}'))).toBe(true);
    expect(await isUsableKubectl(fake('k120', '{"clientVersion":{"major":"1","minor":"20","gitVersion":"v1.20.2"}}'))).toBe(true);
    expect(await isUsableKubectl(fake('k119', '{"clientVersion":{"major":"1","minor":"19","gitVersion":"v1.19.0"}}'))).toBe(false);
    expect(await isUsableKubectl(fake('notkubectl', 'hello'))).toBe(false);
    expect(await isUsableKubectl(join(dir, 'missing'))).toBe(false);
  });
});

describe.skipIf(!found.ok)(`kubectl`, () => {
  it('get pods prints a table (server-side printing)', async () => {
    api.store.create('pods', { ...podManifest('kp1'), metadata: { name: 'kp1', namespace: 'default' } });
    await waitFor(() => api.store.get('pods', 'default', 'kp1')?.status?.containerStatuses?.[0]?.ready);
    const r = await kubectl('get', 'pods');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines.find((l) => l.startsWith('kp1'))).toMatch(/^kp1\s+1\/1\s+Running\s+0\s+\d+s$/);
    const wide = await kubectl('get', 'pods', '-o', 'wide');
    expect(wide.stdout).toMatch(/kp1\s+1\/1\s+Running\s+0\s+\S+\s+10\.244\.\d+\.\d+\s+node-\d/);
  });

  it('get of a missing object is a NotFound error', async () => {
    const r = await kubectl('get', 'pod', 'nope');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
  });

  it('get -w sees a change', async () => {
    const child = spawn(kubectlBin, ['get', 'pods', '-w', '-n', 'kube-public', '--cache-dir', join(dir, 'cache')], { env: { ...process.env, KUBECONFIG: kubeconfig, HOME: dir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => api.requestLog.count({ verb: 'watch', resource: 'pods', namespace: 'kube-public' }) > 0, 10_000, 'kubectl to start watching');
      api.store.create('pods', { ...podManifest('watched'), metadata: { name: 'watched', namespace: 'kube-public' } });
      await waitFor(() => /watched\s+1\/1\s+Running/.test(out), 10_000, `kubectl get -w to show the pod Running; got:\n${out}`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('describe pod shows spec, conditions and events', async () => {
    const r = await kubectl('describe', 'pod', 'kp1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Name:\s+kp1$/m);
    expect(r.stdout).toMatch(/^Node:\s+node-\d\/10\.0\.0\.\d+$/m);
    expect(r.stdout).toMatch(/^Status:\s+Running$/m);
    expect(r.stdout).toMatch(/Container ID:\s+containerd:\/\/[0-9a-f]{64}/);
    expect(r.stdout).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/kp1 to node-\d/);
  });

  it('apply -f of a directory creates everything, a second apply is unchanged, an edit is configured', async () => {
    const first = await kubectl('apply', '-f', FIXTURES);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim().split('\n').sort()).toEqual([
      'clusterrole.rbac.authorization.k8s.io/snapshot-agent-nodes created',
      'clusterrolebinding.rbac.authorization.k8s.io/snapshot-agent-nodes created',
      'configmap/snapshot-agent-config created',
      'daemonset.apps/snapshot-agent created',
      'namespace/snapshot-demo created',
      'persistentvolumeclaim/snapshot-pvc created',
      'pod/worker created',
      'role.rbac.authorization.k8s.io/snapshot-agent created',
      'rolebinding.rbac.authorization.k8s.io/snapshot-agent created',
      'serviceaccount/snapshot-agent created',
    ]);
    const second = await kubectl('apply', '-f', FIXTURES);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n').every((l) => l.endsWith(' unchanged'))).toBe(true);
    // The DaemonSet lands on the GPU node only.
    await waitFor(() => api.store.get('daemonsets.apps', 'snapshot-demo', 'snapshot-agent')?.status?.numberReady === 1);
    const agents = api.store.list('pods', { namespace: 'snapshot-demo', labelSelector: 'app.kubernetes.io/component=snapshot-agent' });
    expect(agents.map((p) => p.spec.nodeName)).toEqual(['node-1']);
    expect(agents[0]!.spec.volumes[0]).toEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'snapshot-pvc' } });
    // Edit the DaemonSet's container env and re-apply: a strategic merge patch.
    const edited = join(dir, 'ds.yaml');
    writeFileSync(edited, readFileSync(join(FIXTURES, '30-daemonset.yaml'), 'utf8').replace('value: info', 'value: debug'));
    const third = await kubectl('apply', '-f', edited);
    expect(third.stdout.trim()).toBe('daemonset.apps/snapshot-agent configured');
    const ds = api.store.get('daemonsets.apps', 'snapshot-demo', 'snapshot-agent')!;
    expect(ds.spec.template.spec.containers[0].env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }, { name: 'LOG_LEVEL', value: 'debug' }]);
    expect(ds.metadata.generation).toBe(2);
  });

  it('apply --dry-run=server persists nothing', async () => {
    const f = join(dir, 'cm.yaml');
    writeFileSync(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n  namespace: default\ndata:\n  a: "1"\n');
    const r = await kubectl('apply', '--dry-run=server', '-f', f);
    expect(r.stdout.trim()).toBe('configmap/dry created (server dry run)');
    expect(api.store.get('configmaps', 'default', 'dry')).toBeUndefined();
  });

  it('patch --type merge, then -o yaml shows it', async () => {
    const r = await kubectl('patch', 'pod', 'kp1', '--type', 'merge', '-p', '{"metadata":{"labels":{"patched":"yes"}}}');
    expect(r.stdout.trim()).toBe('pod/kp1 patched');
    const y = await kubectl('get', 'pod', 'kp1', '-o', 'yaml');
    const obj = parse(y.stdout);
    expect(obj).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kp1', labels: { patched: 'yes' } }, status: { phase: 'Running' } });
  });

  it('serves custom resources by short name after applying a CRD', async () => {
    const f = join(dir, 'crd.yaml');
    writeFileSync(f, `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: dynamocheckpoints.nvidia.com
spec:
  group: nvidia.com
  scope: Namespaced
  names: {plural: dynamocheckpoints, singular: dynamocheckpoint, kind: DynamoCheckpoint, listKind: DynamoCheckpointList, shortNames: [dckpt]}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources: {status: {}}
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`);
    // As on a real cluster, a CR cannot be applied in the same run as its CRD (kubectl maps kinds first).
    const crd = await kubectl('apply', '-f', f);
    expect(crd.stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/dynamocheckpoints.nvidia.com created');
    writeFileSync(f, `apiVersion: nvidia.com/v1alpha1
kind: DynamoCheckpoint
metadata: {name: ck1, namespace: default}
spec: {identity: {model: llama}}
`);
    const a = await kubectl('apply', '-f', f);
    expect(a.stderr).toBe('');
    expect(a.stdout).toContain('dynamocheckpoint.nvidia.com/ck1 created');
    const g = await kubectl('get', 'dckpt');
    expect(g.stdout).toMatch(/^ck1\s+\d+s$/m);
  });

  it('explain pod and a nested field', async () => {
    const r = await kubectl('explain', 'pod');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^KIND:\s+Pod$/m);
    expect(r.stdout).toMatch(/^VERSION:\s+v1$/m);
    expect(r.stdout).toContain('spec\t<Object>');
    const c = await kubectl('explain', 'pod.spec.containers.image');
    expect(c.stdout).toMatch(/FIELD:\s+image <string>/);
  });

  it('delete pod waits for the graceful deletion', async () => {
    const r = await kubectl('delete', 'pod', 'kp1');
    expect(r.stdout.trim()).toBe('pod "kp1" deleted');
    expect(api.store.get('pods', 'default', 'kp1')).toBeUndefined();
    const again = await kubectl('delete', 'pod', 'kp1');
    expect(again.stderr.trim()).toBe('Error from server (NotFound): pods "kp1" not found');
  });

  it('re-applying the original fixtures reverts the edit and leaves the rest unchanged', async () => {
    const r = await kubectl('apply', '-f', FIXTURES);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => !l.endsWith(' unchanged'))).toEqual(['daemonset.apps/snapshot-agent configured']);
    const env = api.store.get('daemonsets.apps', 'snapshot-demo', 'snapshot-agent')!.spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'LOG_LEVEL').value).toBe('info');
  });
  it('delete -f of the directory deletes every object (namespace first, like a real cluster)', async () => {
    const r = await kubectl('delete', '-f', FIXTURES);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    await waitFor(() => api.store.get('namespaces', undefined, 'snapshot-demo') === undefined, 5000, 'namespace gone');
    expect(api.store.get('clusterroles.rbac.authorization.k8s.io', undefined, 'snapshot-agent-nodes')).toBeUndefined();
  });

  it('apply -f manifests/ -n NS (what users apply to a real cluster) works, twice, and the samples apply too', async () => {
    const manifests = join(import.meta.dirname, '../../../manifests');
    expect((await kubectl('create', 'namespace', 'snap')).code).toBe(0);
    const first = await kubectl('apply', '-f', manifests, '-n', 'snap');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const created = first.stdout.trim().split('\n');
    expect(created.every((l) => l.endsWith(' created'))).toBe(true);
    expect(created).toContain('daemonset.apps/snapshot-agent created');
    expect(created).toContain('persistentvolumeclaim/snapshot-pvc created');
    const second = await kubectl('apply', '-f', manifests, '-n', 'snap');
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n').every((l) => l.endsWith(' unchanged'))).toBe(true);
    // The agent runs on the GPU node only (its nodeSelector), as on a real cluster.
    await waitFor(() => (api.store.list('pods', { namespace: 'snap', labelSelector: 'app.kubernetes.io/component=snapshot-agent' }) as any[]).some((p) => p.status?.phase === 'Running'), 5000, 'agent pod running');
    const placeholder = await kubectl('apply', '-f', join(manifests, 'samples', 'placeholder.yaml'), '-n', 'snap');
    expect(placeholder.stdout.trim()).toBe('pod/vllm-placeholder created');
    const del = await kubectl('delete', 'namespace', 'snap');
    expect(del.code).toBe(0);
  });

});
