/**
 * The YAML under `manifests/` is what users apply to a real cluster and what the dev
 * cluster applies for the demo. These checks keep it parseable, limited to kinds the
 * dev cluster serves, and consistent with the protocol's discovery and restore rules.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  AGENT_SELECTOR_COMPONENT,
  AGENT_SELECTOR_NAME,
  DEFAULT_BASE_PATH,
  DEFAULT_PVC_NAME,
  READY_FOR_CHECKPOINT_ENV,
  READY_FOR_CHECKPOINT_FILE,
  checkRestoreInPlace,
  discoverStorage,
  parsePodManifest,
  type DaemonSet,
  type KubeObject,
  type Pod,
} from '../protocol/index.js';
import { FLOW_PERMISSIONS } from '../commands/preflight-checks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../manifests');

/** Kinds the dev cluster serves (src/dev/api/resources.ts); nothing else may appear. */
const SERVED_KINDS = new Set([
  'Namespace',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
  'DaemonSet',
  'PersistentVolumeClaim',
  'ConfigMap',
  'Pod',
  // crds/ only: the dev cluster serves CRDs, and the DynamoCheckpoint one is its own.
  'CustomResourceDefinition',
]);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function loadObjects(path: string): KubeObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((doc) => {
    expect(doc.errors, `${relative(root, path)}: ${doc.errors.map((e) => e.message).join('; ')}`).toEqual([]);
    return doc.toJS() as KubeObject;
  }).filter((o) => o !== null);
}

const yamlFiles = walk(root).filter((p) => /\.ya?ml$/.test(p));
const byFile = new Map(yamlFiles.map((p) => [relative(root, p), loadObjects(p)]));

function only(file: string, kind: string, name?: string): KubeObject {
  const found = (byFile.get(file) ?? []).filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  expect(found, `${file}: one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!;
}

/** Labels a DaemonSet carries, as `k=v` strings, for matching discovery selectors. */
function selectorsMatching(ds: KubeObject): { byComponent: boolean; byName: boolean } {
  const labels = ds.metadata?.labels ?? {};
  const has = (sel: string) => {
    const [k, v] = sel.split('=');
    return labels[k ?? ''] === v;
  };
  return { byComponent: has(AGENT_SELECTOR_COMPONENT), byName: has(AGENT_SELECTOR_NAME) };
}

describe('manifests/', () => {
  it('holds the expected files', () => {
    expect([...byFile.keys()].sort()).toEqual([
      'agent-daemonset.yaml',
      'agent-rbac.yaml',
      'crds/dynamocheckpoint.yaml',
      'pvc.yaml',
      'rbac-cli.yaml',
      'samples/cpu-placeholder-real.yaml',
      'samples/cpu-placeholder.yaml',
      'samples/cpu-worker-real.yaml',
      'samples/cpu-worker.yaml',
      'samples/llm-placeholder.yaml',
      'samples/llm-worker.yaml',
      'samples/placeholder.yaml',
      'samples/worker.yaml',
      'seccomp-installer.yaml',
      'snapshotctl-agent/config.yaml',
      'snapshotctl-agent/daemonset.yaml',
    ]);
  });

  it.each([...byFile.keys()])('%s: every document is a served kind with apiVersion and name, no fixed namespace', (file) => {
    const objects = byFile.get(file) ?? [];
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(SERVED_KINDS.has(o.kind ?? ''), `${file}: kind ${o.kind}`).toBe(true);
      expect(typeof o.apiVersion).toBe('string');
      expect(o.metadata?.name, `${file}: ${o.kind} name`).toMatch(/^[a-z0-9][-a-z0-9.]*$/);
      // Namespace-agnostic: the user picks it with `kubectl apply -n`.
      expect(o.metadata?.namespace, `${file}: ${o.kind} ${o.metadata?.name}`).toBeUndefined();
    }
  });

  it('storage discovery finds snapshot-pvc at /checkpoints on the agent DaemonSet, under both selectors', () => {
    const ds = only('agent-daemonset.yaml', 'DaemonSet', 'snapshot-agent') as DaemonSet;
    expect(selectorsMatching(ds)).toEqual({ byComponent: true, byName: true });
    const template = ds.spec?.template?.metadata?.labels ?? {};
    expect(template['app.kubernetes.io/component']).toBe('snapshot-agent');
    expect(template['app.kubernetes.io/name']).toBe('snapshot');

    for (const sets of [{ byComponent: [ds], byName: [] }, { byComponent: [], byName: [ds] }]) {
      const found = discoverStorage(sets);
      expect(found.found).toBe(true);
      if (found.found) {
        expect(found.storage).toEqual({ pvcName: DEFAULT_PVC_NAME, basePath: DEFAULT_BASE_PATH, daemonSet: 'snapshot-agent' });
      }
    }
  });

  it('no other DaemonSet looks like an agent to discovery or placement', () => {
    for (const [file, objects] of byFile) {
      for (const o of objects) {
        if (o.kind !== 'DaemonSet' || o.metadata?.name === 'snapshot-agent') continue;
        expect(selectorsMatching(o), file).toEqual({ byComponent: false, byName: false });
      }
    }
  });

  it('the agent DaemonSet is privileged, uses the host PID namespace and knows its node', () => {
    const ds = only('agent-daemonset.yaml', 'DaemonSet') as DaemonSet & { spec: { template: { spec: Record<string, any> } } };
    const spec = ds.spec.template.spec;
    const agent = (spec['containers'] as any[]).find((c) => c.name === 'agent');
    expect(agent.image).toBe('nvcr.io/nvidia/ai-dynamo/snapshot-agent:1.0.0');
    expect(agent.securityContext.privileged).toBe(true);
    expect(spec['hostPID']).toBe(true);
    expect(spec['serviceAccountName']).toBe('snapshot-agent');
    expect(spec['nodeSelector']).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(agent.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect((spec['tolerations'] as any[]).some((t) => t.key === 'nvidia.com/gpu')).toBe(true);
  });

  it('the PVC is ReadWriteMany, 200Gi', () => {
    const pvc = only('pvc.yaml', 'PersistentVolumeClaim', DEFAULT_PVC_NAME) as any;
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec.resources.requests.storage).toBe('200Gi');
  });

  it('the agent Role grants exactly what the agent uses', () => {
    only('agent-rbac.yaml', 'ServiceAccount', 'snapshot-agent');
    const role = only('agent-rbac.yaml', 'Role', 'snapshot-agent') as any;
    const verbs = (group: string, resource: string) =>
      (role.rules as any[]).filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs).sort();
    expect(verbs('', 'pods')).toEqual(['delete', 'get', 'list', 'patch', 'watch']);
    expect(verbs('batch', 'jobs')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbs('', 'events')).toEqual(['create', 'patch']);
    expect(verbs('coordination.k8s.io', 'leases')).toEqual(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
    const binding = only('agent-rbac.yaml', 'RoleBinding') as any;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'snapshot-agent' });
  });

  // What the CLI uses is measured, not typed here: test/e2e/rbac-cli.test.ts runs every
  // command with only rbac-cli.yaml's rules and checks each call against the file.
  it("the CLI Role grants every permission preflight checks (FLOW_PERMISSIONS)", () => {
    const role = only('rbac-cli.yaml', 'Role', 'snapshotctl') as any;
    const granted = (group: string, resource: string, verb: string): boolean =>
      (role.rules as any[]).some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    const missing = FLOW_PERMISSIONS.flatMap((p) => p.verbs.filter((v) => !granted(p.group, p.resource, v)).map((v) => `${v} ${p.group}/${p.resource}`));
    expect(missing).toEqual([]);
    only('rbac-cli.yaml', 'ClusterRole');
    only('rbac-cli.yaml', 'RoleBinding');
    only('rbac-cli.yaml', 'ClusterRoleBinding');
  });

  it('the seccomp ConfigMap carries the same profile as seccomp/block-iouring.json, and the profile blocks io_uring', () => {
    const profile = JSON.parse(readFileSync(join(root, 'seccomp/block-iouring.json'), 'utf8'));
    expect(profile.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(profile.syscalls).toEqual([
      { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ]);
    const cm = only('seccomp-installer.yaml', 'ConfigMap') as any;
    expect(JSON.parse(cm.data['block-iouring.json'])).toEqual(profile);
    const ds = only('seccomp-installer.yaml', 'DaemonSet') as any;
    const hostPath = (ds.spec.template.spec.volumes as any[]).find((v) => v.hostPath)?.hostPath.path;
    expect(hostPath).toBe('/var/lib/kubelet/seccomp');
    expect(JSON.stringify(ds.spec.template.spec.initContainers)).toContain('/host-seccomp/profiles/block-iouring.json');
  });

  it('samples/worker.yaml is a valid worker manifest with the readiness convention and no mesh sidecar', () => {
    const parsed = parsePodManifest(readFileSync(join(root, 'samples/worker.yaml'), 'utf8'));
    expect(parsed.findings).toEqual([]);
    const pod = parsed.pod as Pod;
    const c = pod.spec.containers[0]!;
    expect(c.command?.length).toBeGreaterThan(0);
    expect(c['env']).toContainEqual({ name: READY_FOR_CHECKPOINT_ENV, value: READY_FOR_CHECKPOINT_FILE });
    expect(c.readinessProbe?.['exec']).toEqual({ command: ['cat', READY_FOR_CHECKPOINT_FILE] });
    expect(pod.metadata.annotations).toMatchObject({ 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' });
    expect((c['resources'] as any).limits['nvidia.com/gpu']).toBeDefined();
  });

  it('samples/placeholder.yaml is valid and passes the restore-in-place preconditions', () => {
    const parsed = parsePodManifest(readFileSync(join(root, 'samples/placeholder.yaml'), 'utf8'));
    expect(parsed.findings).toEqual([]);
    const pod = parsed.pod as Pod;
    expect(checkRestoreInPlace(pod, { pvcName: DEFAULT_PVC_NAME, basePath: DEFAULT_BASE_PATH })).toEqual([]);
    expect(pod.spec.containers[0]?.command).toEqual(['sleep', 'infinity']);
  });

  it('samples/cpu-worker.yaml runs cpu-worker/worker.mjs with a relative ready file its probe reads', () => {
    const parsed = parsePodManifest(readFileSync(join(root, 'samples/cpu-worker.yaml'), 'utf8'));
    expect(parsed.findings).toEqual([]);
    const c = (parsed.pod as Pod).spec.containers[0]!;
    expect(c.command).toEqual(['node', '/opt/snapshotctl/manifests/samples/cpu-worker/worker.mjs']);
    expect(existsSync(join(root, 'samples/cpu-worker/worker.mjs'))).toBe(true);
    expect(c['env']).toContainEqual({ name: READY_FOR_CHECKPOINT_ENV, value: 'ready-for-checkpoint' });
    expect(c.readinessProbe?.['exec']).toEqual({ command: ['cat', 'ready-for-checkpoint'] });
  });

  it('samples/cpu-placeholder.yaml passes the restore-in-place preconditions with the cpu worker image', () => {
    const parsed = parsePodManifest(readFileSync(join(root, 'samples/cpu-placeholder.yaml'), 'utf8'));
    expect(parsed.findings).toEqual([]);
    const pod = parsed.pod as Pod;
    expect(checkRestoreInPlace(pod, { pvcName: DEFAULT_PVC_NAME, basePath: DEFAULT_BASE_PATH })).toEqual([]);
    const worker = parsePodManifest(readFileSync(join(root, 'samples/cpu-worker.yaml'), 'utf8')).pod as Pod;
    expect(pod.spec.containers[0]?.image).toBe(worker.spec.containers[0]?.image);
    expect(pod.spec.containers[0]?.readinessProbe?.['exec']).toEqual({ command: ['cat', 'ready-for-checkpoint'] });
  });

  it('samples/cpu-worker-real.yaml starts the worker under worker-init (not PID 1), and its placeholder passes the restore-in-place preconditions with the same image', () => {
    const parsed = parsePodManifest(readFileSync(join(root, 'samples/cpu-worker-real.yaml'), 'utf8'));
    expect(parsed.findings).toEqual([]);
    const c = (parsed.pod as Pod).spec.containers[0]!;
    expect(c.command).toEqual(['/bin/worker-init', '--', 'node', '/opt/snapshotctl/manifests/samples/cpu-worker/worker.mjs']);
    expect(c.readinessProbe?.['exec']).toEqual({ command: ['cat', '/tmp/ready-for-checkpoint'] });
    const ph = parsePodManifest(readFileSync(join(root, 'samples/cpu-placeholder-real.yaml'), 'utf8'));
    expect(ph.findings).toEqual([]);
    expectPlaceholderOf(ph.pod as Pod, c);
  });
});

/** A placeholder for `worker`: restorable in place, the worker's image and probe, `sleep infinity`. */
function expectPlaceholderOf(pod: Pod, worker: Pod['spec']['containers'][number]): void {
  expect(checkRestoreInPlace(pod, { pvcName: DEFAULT_PVC_NAME, basePath: DEFAULT_BASE_PATH })).toEqual([]);
  expect(pod.spec.containers[0]?.image).toBe(worker.image);
  expect(pod.spec.containers[0]?.command).toEqual(['sleep', 'infinity']);
  expect(pod.spec.containers[0]?.readinessProbe?.['exec']).toEqual(worker.readinessProbe?.['exec']);
}

describe('samples/llm-worker.yaml and llm-placeholder.yaml (the GPU LLM sample, bench/gpu/cli_flow.mjs)', () => {
  const worker = parsePodManifest(readFileSync(join(root, 'samples/llm-worker.yaml'), 'utf8'));
  const ph = parsePodManifest(readFileSync(join(root, 'samples/llm-placeholder.yaml'), 'utf8'));
  const c = (worker.pod as Pod).spec.containers[0]!;

  it('the worker runs bench/gpu/llm_worker.py serve with a relative ready file its probe reads, and the arguments cli_flow.mjs sets', () => {
    expect(worker.findings).toEqual([]);
    expect(c.command).toEqual(['python3', '/opt/snapshotctl/bench/gpu/llm_worker.py', 'serve']);
    expect(existsSync(join(root, '../bench/gpu/llm_worker.py'))).toBe(true);
    expect(c['env']).toContainEqual({ name: READY_FOR_CHECKPOINT_ENV, value: 'ready-for-checkpoint' });
    expect(c.readinessProbe?.['exec']).toEqual({ command: ['cat', 'ready-for-checkpoint'] });
    const args = c.args ?? [];
    expect(args[args.indexOf('--ready') + 1]).toBe('ready-for-checkpoint');
    for (const flag of ['--data', '--preset', '--port', '--out']) expect(args.indexOf(flag)).toBeGreaterThanOrEqual(0);
    expect((c.resources as { limits?: unknown } | undefined)?.limits).toEqual({ 'nvidia.com/gpu': '1' });
  });

  it('the placeholder passes the restore-in-place preconditions with the worker image, one GPU and the same probe', () => {
    expect(ph.findings).toEqual([]);
    const pod = ph.pod as Pod;
    expectPlaceholderOf(pod, c);
    expect((pod.spec.containers[0]?.resources as { limits?: unknown } | undefined)?.limits).toEqual({ 'nvidia.com/gpu': '1' });
  });
});

describe('images/*.Containerfile (for users with docker or podman)', () => {
  const repo = join(root, '..');
  const files = ['snapshot-agent.Containerfile', 'cpu-worker-placeholder.Containerfile'];

  it.each(files)('%s: every file it copies from the build context exists, and it has an entrypoint', (file) => {
    const text = readFileSync(join(repo, 'images', file), 'utf8').replace(/\\\n/g, ' ');
    const copies = [...text.matchAll(/^COPY\s+(?!--from=)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(copies.length).toBeGreaterThan(0);
    for (const src of copies.flat()) expect(existsSync(join(repo, src)), `${file}: COPY ${src}`).toBe(true);
    expect(text).toMatch(/^ENTRYPOINT \[/m);
  });

  it('the agent image runs the package\'s snapshot-agent bin, as the DaemonSet expects', () => {
    const text = readFileSync(join(repo, 'images', 'snapshot-agent.Containerfile'), 'utf8');
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(text)?.[1] ?? '[]';
    expect(JSON.parse(entry)).toEqual(['node', '/opt/snapshotctl/bin/snapshot-agent.js']);
    expect(existsSync(join(repo, 'bin', 'snapshot-agent.js'))).toBe(true);
  });
});
