/** `snapshotctl preflight` through the real program on a fake cluster whose kubelet answers the probe. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { PROBE_MARKER } from '../commands/preflight-probe.js';
import { ApiError } from '../kube/errors.js';
import { RESOURCES } from '../kube/types.js';
import type { Pod } from '../protocol/index.js';
import { main } from './main.js';
import { runCli, seedAgent } from './testing/run-cli.js';

const WORKER = readFileSync(new URL('../../manifests/samples/worker.yaml', import.meta.url), 'utf8');
const PLACEHOLDER_IMAGE = 'nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0';
const RAW_IMAGE = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0';
const RAW_WORKER = WORKER.replace(PLACEHOLDER_IMAGE, RAW_IMAGE);
const FILES = { 'worker.yaml': WORKER, 'raw.yaml': RAW_WORKER };

type KubeletAnswer =
  | { line: string }
  | { waiting: { reason: string; message: string } }
  | 'never';

/** A cluster with a Ready agent on node-1, the PVC Bound, and a kubelet that answers probe pods per image. */
function cluster(answer: (image: string) => KubeletAnswer = (image) => ({ line: image.includes('placeholder') ? 'criu=1 cuda-checkpoint=1 launch-job=1 nsrestore=1 sleep=1' : 'criu=0 cuda-checkpoint=0 launch-job=0 nsrestore=0 sleep=1' })): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedAgent(c, 'default', ['node-1']);
  c.update(RESOURCES.daemonsets, 'default', 'snapshot-agent', (d) => {
    d['status'] = { desiredNumberScheduled: 1, numberReady: 1 };
  });
  c.seed(RESOURCES.persistentvolumeclaims, { metadata: { name: 'snapshot-pvc', namespace: 'default' }, spec: { volumeName: 'pv-1' }, status: { phase: 'Bound' } });
  c.onWrite = (verb, res, obj) => {
    if (verb !== 'create' || res.plural !== 'pods' || !obj.metadata?.name?.startsWith('snapshotctl-preflight-')) return;
    const pod = obj as Pod;
    const a = answer(pod.spec.containers[0]?.image ?? '');
    if (a === 'never') return;
    c.update(RESOURCES.pods, obj.metadata.namespace, obj.metadata.name, (p) => {
      p['spec'] = { ...(p['spec'] as object), nodeName: 'node-1' };
      p['status'] =
        'line' in a
          ? { phase: 'Succeeded', containerStatuses: [{ name: 'probe', state: { terminated: { exitCode: 0, reason: 'Completed', message: `${a.line}\n` } } }] }
          : { phase: 'Pending', containerStatuses: [{ name: 'probe', state: { waiting: a.waiting } }] };
    });
  };
  return c;
}

/** stderr without the progress lines a non-TTY reporter writes. */
function checklist(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !l.startsWith('['))
    .join('\n');
}

/** Probe pods created and deleted, in order. */
function podWrites(c: FakeKubeClient): string[] {
  return c.writes().filter((w) => w.resource === 'pods').map((w) => `${w.verb} ${w.name}`);
}

function probePod(c: FakeKubeClient): Pod {
  return c.calls.find((x) => x.verb === 'create' && x.resource === 'pods')?.body as Pod;
}

describe('preflight', () => {
  it('passes with the placeholder image: every check ✓, exit 0, the probe pod built as documented and deleted', async () => {
    const c = cluster();
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    // Progress lines (`[  0.0s] ...`) come first without a TTY; then the checklist.
    expect(checklist(r.stderr)).toBe(
      [
        '✓ manifest worker.yaml is a usable worker Pod: the checkpoint rules pass',
        '✓ permissions for checkpoint and restore in namespace "default": all 14 allowed',
        '✓ checkpoint storage discovered from the agent DaemonSet: PVC snapshot-pvc at /checkpoints (DaemonSet snapshot-agent)',
        '✓ PVC snapshot-pvc is Bound: Bound to pv-1',
        '✓ snapshot agent DaemonSet snapshot-agent is ready: 1/1 ready on node-1',
        '✓ seccomp profile profiles/block-iouring.json is installed on the node: a pod with it started on node node-1',
        '✓ image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: all present, cuda-checkpoint supports --launch-job',
        'preflight passed',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'status=passed',
        'namespace=default',
        'manifest=worker.yaml',
        `image=${PLACEHOLDER_IMAGE}`,
        'pvc=snapshot-pvc',
        'base_path=/checkpoints',
        'agent_nodes=node-1',
        'probe_node=node-1',
        'missing_tools=',
        'check_manifest=pass',
        'check_rbac=pass',
        'check_storage=pass',
        'check_pvc=pass',
        'check_agent=pass',
        'check_seccomp=pass',
        'check_image=pass',
        '',
      ].join('\n'),
    );
    const pod = probePod(c);
    expect(pod.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'snapshotctl', 'app.kubernetes.io/component': 'snapshot-preflight' });
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.securityContext).toEqual({ seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } });
    expect(pod.spec.containers).toHaveLength(1);
    const ctr = pod.spec.containers[0]!;
    expect(ctr.image).toBe(PLACEHOLDER_IMAGE);
    expect(ctr.command?.slice(0, 2)).toEqual(['sh', '-c']);
    expect(ctr.command?.[2]?.split('\n')[0]).toBe(PROBE_MARKER);
    expect(ctr.command?.[2]).toContain('> /dev/termination-log');
    // Only the image comes from the manifest: no GPU request, no worker command.
    expect(JSON.stringify(ctr.resources)).not.toContain('nvidia.com/gpu');
    expect(JSON.stringify(pod.spec.affinity)).toContain('"node-1"');
    const name = pod.metadata.name ?? c.calls.find((x) => x.verb === 'create' && x.resource === 'pods')?.name;
    expect(podWrites(c)).toEqual([`create ${name}`, `delete ${name}`]);
    expect(c.peek(RESOURCES.pods, 'default', name ?? '')).toBeUndefined();
  });

  it('the raw runtime image: the policy finding AND the probe naming each missing tool; exit 1', async () => {
    const c = cluster();
    const r = await runCli(['preflight', '--manifest', 'raw.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ manifest raw\.yaml is a usable worker Pod: 1 error\n {4}✗ SNAP02[23] spec\.containers\[0\]\.image/);
    expect(r.stderr).toContain('✗ image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: missing: criu, cuda-checkpoint, /usr/local/bin/nsrestore (is this the raw runtime image instead of its placeholder image?)\n');
    expect(r.stderr).toContain('    ✗ criu\n    ✗ cuda-checkpoint\n    ✗ cuda-checkpoint --launch-job\n    ✗ /usr/local/bin/nsrestore\n    ✓ sleep\n');
    expect(r.stderr).toContain('fix: use the placeholder image');
    expect(r.stderr).toContain('preflight failed: 2 of 7 checks failed\n');
    expect(r.stdout).toContain('status=failed\n');
    expect(r.stdout).toContain('missing_tools=criu,cuda-checkpoint,nsrestore\n');
    expect(probePod(c).spec.containers[0]?.image).toBe(RAW_IMAGE);
    expect(podWrites(c)).toHaveLength(2);
  });

  it('--skip-image-check: only the probe judges the raw image', async () => {
    const r = await runCli(['preflight', '--manifest', 'raw.yaml', '--skip-image-check'], { client: cluster(), files: FILES });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('check_manifest=pass\n');
    expect(r.stdout).toContain('check_image=fail\n');
  });

  it('no --launch-job is a warning that names --disable-cuda-checkpoint-job-file (exit 0); with that flag it passes', async () => {
    const answer = () => ({ line: 'criu=1 cuda-checkpoint=1 launch-job=0 nsrestore=1 sleep=1' });
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: cluster(answer), files: FILES });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("! image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: cuda-checkpoint has no --launch-job (NVIDIA's public cuda-checkpoint 580.x lacks it)");
    expect(r.stderr).toContain('    ✓ criu\n    ✓ cuda-checkpoint\n    ! cuda-checkpoint --launch-job\n    ✓ /usr/local/bin/nsrestore\n    ✓ sleep\n    fix: pass --disable-cuda-checkpoint-job-file to snapshotctl checkpoint\n');
    expect(r.stderr).toContain('preflight passed with 1 warning\n');
    expect(r.stdout).toContain('missing_tools=cuda-checkpoint--launch-job\n');
    const r2 = await runCli(['preflight', '--manifest', 'worker.yaml', '--disable-cuda-checkpoint-job-file'], { client: cluster(answer), files: FILES });
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('check_image=pass\n');
  });

  it('manifest warnings warn (exit 0); warnings beside errors keep their ! mark', async () => {
    const obj = parse(WORKER) as { spec: Record<string, unknown> };
    obj.spec['restartPolicy'] = 'Always';
    const r = await runCli(['preflight', '--manifest', 'w.yaml', '--skip-probe'], { client: cluster(), files: { 'w.yaml': stringify(obj) } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/! manifest w\.yaml is a usable worker Pod: 1 warning\n {4}! SNAP\d+ spec\.restartPolicy/);
    (obj.spec['containers'] as Array<Record<string, unknown>>)[0]!['image'] = RAW_IMAGE;
    const r2 = await runCli(['preflight', '--manifest', 'w.yaml', '--skip-probe'], { client: cluster(), files: { 'w.yaml': stringify(obj) } });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/✗ manifest w\.yaml is a usable worker Pod: 1 error\n {4}✗ SNAP02[23] .*\n {4}! SNAP\d+ spec\.restartPolicy/);
  });

  it('RBAC: each denied verb is named, with the Role to apply; exit 1', async () => {
    const c = cluster();
    c.accessReview = (a) => !((a.resource === 'jobs' && a.verb === 'create') || (a.resource === 'pods' && a.verb === 'patch'));
    const r = await runCli(['preflight', '--manifest', 'worker.yaml', '-n', 'default'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ permissions for checkpoint and restore in namespace "default": denied: patch pods, create jobs.batch\n    ✗ patch pods\n    ✗ create jobs.batch\n    fix: grant them with the Role in manifests/rbac-cli.yaml');
    expect(r.stdout).toContain('denied=patch:pods,create:jobs.batch\n');
    const reviews = c.calls.filter((x) => x.resource === 'selfsubjectaccessreviews');
    expect(reviews).toHaveLength(14);
    expect(reviews.every((x) => x.namespace === undefined)).toBe(true);
    expect((reviews[0]?.body as { spec: unknown }).spec).toEqual({ resourceAttributes: { namespace: 'default', verb: 'get', group: '', resource: 'pods' } });
  });

  it('no agent DaemonSet: storage fails, PVC, agent and the probe are skipped; no pod is created', async () => {
    const c = new FakeKubeClient('default');
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ checkpoint storage discovered from the agent DaemonSet: no snapshot agent DaemonSet in namespace "default"');
    expect(r.stderr).toContain('- checkpoint PVC is Bound: not run: storage unknown\n');
    expect(r.stderr).toContain('- image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: not run: no agent DaemonSet\n');
    expect(podWrites(c)).toEqual([]);
  });

  it('the PVC: missing, and Pending', async () => {
    const c = cluster();
    await c.delete(RESOURCES.persistentvolumeclaims, 'default', 'snapshot-pvc');
    const r = await runCli(['preflight', '--manifest', 'worker.yaml', '--skip-probe'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ PVC snapshot-pvc is Bound: PVC "snapshot-pvc" does not exist in namespace "default", but the agent DaemonSet mounts it\n    fix: create it (manifests/pvc.yaml');
    const c2 = cluster();
    c2.update(RESOURCES.persistentvolumeclaims, 'default', 'snapshot-pvc', (p) => {
      p['status'] = { phase: 'Pending' };
    });
    const r2 = await runCli(['preflight', '--manifest', 'worker.yaml', '--skip-probe'], { client: c2, files: FILES });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('✗ PVC snapshot-pvc is Bound: PVC "snapshot-pvc" is Pending, not Bound\n');
  });

  it('the agent: none ready fails and skips the probe; some not ready warns; --node without an agent fails', async () => {
    const c = cluster();
    c.update(RESOURCES.daemonsets, 'default', 'snapshot-agent', (d) => {
      d['status'] = { desiredNumberScheduled: 2, numberReady: 0 };
    });
    c.update(RESOURCES.pods, 'default', 'snapshot-agent-0', (p) => {
      p['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] };
    });
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ snapshot agent DaemonSet snapshot-agent is ready: no agent pod is Running and Ready (0/2 ready): nothing could checkpoint or restore\n');
    expect(r.stderr).toContain('- image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: not run: no node runs a Ready snapshot agent\n');
    expect(podWrites(c)).toEqual([]);

    const c2 = cluster();
    c2.update(RESOURCES.daemonsets, 'default', 'snapshot-agent', (d) => {
      d['status'] = { desiredNumberScheduled: 2, numberReady: 1 };
    });
    const r2 = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c2, files: FILES });
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain('! snapshot agent DaemonSet snapshot-agent is ready: 1/2 ready on node-1: pods on the other nodes cannot be checkpointed or restored\n');

    const c3 = cluster();
    const r3 = await runCli(['preflight', '--manifest', 'worker.yaml', '--node', 'node-9'], { client: c3, files: FILES });
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain('✗ snapshot agent DaemonSet snapshot-agent is ready: no Ready agent on node "node-9" (1/1 ready on node-1)\n');
    expect(podWrites(c3)).toEqual([]);
  });

  it('a node without the seccomp profile: the seccomp check fails with the runtime\'s reason; the pod is deleted', async () => {
    const message = 'failed to create containerd container: cannot load seccomp profile "/var/lib/kubelet/seccomp/profiles/block-iouring.json": open /var/lib/kubelet/seccomp/profiles/block-iouring.json: no such file or directory';
    const c = cluster(() => ({ waiting: { reason: 'CreateContainerError', message } }));
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`✗ seccomp profile profiles/block-iouring.json is installed on the node: the probe pod could not start on node node-1 (CreateContainerError: ${message})\n    fix: install the profile on the agent nodes: kubectl apply -f manifests/seccomp-installer.yaml -n default`);
    expect(r.stderr).toContain('- image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: not run: the probe pod could not start\n');
    expect(podWrites(c)).toHaveLength(2);
    expect(podWrites(c)[1]).toMatch(/^delete snapshotctl-preflight-/);
  });

  it('an image that cannot be pulled fails the image check at once, naming imagePullSecrets; the pull secrets travel to the probe', async () => {
    const c = cluster(() => ({ waiting: { reason: 'ErrImagePull', message: 'pull access denied' } }));
    const obj = parse(WORKER) as { spec: Record<string, unknown> };
    obj.spec['imagePullSecrets'] = [{ name: 'ngc' }];
    obj.spec['tolerations'] = [{ key: 'nvidia.com/gpu', operator: 'Exists' }];
    const manifest = stringify(obj);
    const r = await runCli(['preflight', '--manifest', 'w.yaml'], { client: c, files: { 'w.yaml': manifest } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✗ image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: the probe pod could not start on node node-1 (ErrImagePull: pull access denied)\n    fix: check the image name and tag, and that the manifest\'s imagePullSecrets');
    expect(probePod(c).spec['imagePullSecrets']).toEqual([{ name: 'ngc' }]);
    expect(probePod(c).spec['tolerations']).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists' }]);
    expect(podWrites(c)).toHaveLength(2);
  });

  it('a probe that never finishes: a failed check after --timeout, and the pod is deleted', async () => {
    const c = cluster(() => 'never');
    const r = await runCli(['preflight', '--manifest', 'worker.yaml', '--timeout', '100ms'], { client: c, files: FILES });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ image has .*: the probe pod did not finish in time \(Pending\)\n {4}fix: see why with `kubectl describe pod snapshotctl-preflight-/);
    expect(podWrites(c)).toHaveLength(2);
  });

  it('Ctrl-C while the probe runs: exit 130 and the probe pod is deleted', async () => {
    const c = cluster(() => 'never');
    const controller = new AbortController();
    c.onWrite = (verb, res) => {
      if (verb === 'create' && res.plural === 'pods') setTimeout(() => controller.abort(new Error('SIGINT')), 20);
    };
    let stderr = '';
    const code = await main(['preflight', '--manifest', 'worker.yaml'], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      isTTY: false,
      env: {},
      signal: controller.signal,
      readStdin: async () => '',
      readFile: async (p) => {
        if (p !== 'worker.yaml') throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
        return WORKER;
      },
      kube: async () => c,
      contextNamespace: async () => 'default',
    });
    expect(stderr).toContain('interrupt');
    expect(code).toBe(130);
    expect(podWrites(c)).toHaveLength(2);
    expect(podWrites(c)[1]).toMatch(/^delete snapshotctl-preflight-/);
  });

  it('cluster unreachable: every cluster check fails with the reason; exit 3', async () => {
    const c = cluster();
    c.failWith = (call) =>
      new ApiError({ verb: call.verb, resource: RESOURCES.pods, status: 0, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED', server: 'https://10.0.0.1:6443' });
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('✓ manifest worker.yaml is a usable worker Pod');
    expect(r.stderr).toContain('✗ snapshot agent DaemonSet is ready: cannot reach the API server at https://10.0.0.1:6443: connection refused\n');
    expect(r.stdout).toContain('status=failed\n');
  });

  it('the preflight\'s own read forbidden (daemonsets list): exit 3', async () => {
    const c = cluster();
    c.failWith = (call) =>
      call.verb === 'list' && call.resource === 'daemonsets'
        ? new ApiError({ verb: 'list', resource: RESOURCES.daemonsets, namespace: 'default', status: 403, reason: 'Forbidden', message: 'daemonsets.apps is forbidden: User "ci" cannot list resource "daemonsets"' })
        : undefined;
    c.accessReview = (a) => a.resource !== 'daemonsets';
    const r = await runCli(['preflight', '--manifest', 'worker.yaml'], { client: c, files: FILES });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('✗ checkpoint storage discovered from the agent DaemonSet: cannot list daemonsets.apps in namespace "default": forbidden');
    expect(r.stderr).toContain('denied: list daemonsets.apps');
  });

  it('-o json: a PreflightReport with every check, the permissions and the probe', async () => {
    const r = await runCli(['preflight', '--manifest', 'worker.yaml', '-o', 'json'], { client: cluster(), files: FILES });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, any>;
    expect(doc['apiVersion']).toBe('snapshotctl/v1');
    expect(doc['kind']).toBe('PreflightReport');
    expect(doc['status']).toBe('passed');
    expect(doc['checks'].map((x: { id: string; status: string }) => `${x.id}:${x.status}`)).toEqual(['manifest:pass', 'rbac:pass', 'storage:pass', 'pvc:pass', 'agent:pass', 'seccomp:pass', 'image:pass']);
    expect(doc['storage']).toEqual({ pvc: 'snapshot-pvc', basePath: '/checkpoints', daemonSet: 'snapshot-agent' });
    expect(doc['agent']).toEqual({ daemonSet: 'snapshot-agent', desired: 1, ready: 1, nodes: ['node-1'] });
    expect(doc['permissions']).toHaveLength(14);
    expect(doc['probe']).toMatchObject({ node: 'node-1', state: 'ran', tools: { criu: true, 'cuda-checkpoint': true, 'launch-job': true, nsrestore: true, sleep: true }, reason: null });
  });

  it('--skip-probe creates nothing; -q prints only problems', async () => {
    const c = cluster();
    const r = await runCli(['preflight', '--manifest', 'worker.yaml', '--skip-probe', '-q'], { client: c, files: FILES });
    expect(r.code).toBe(0);
    expect(checklist(r.stderr)).toBe('preflight passed\n');
    expect(r.stdout).toContain('check_image=skip\n');
    expect(podWrites(c)).toEqual([]);
  });

  it('a manifest that is not YAML: the manifest check fails, the probe is not run, the cluster checks still are', async () => {
    const c = cluster();
    const r = await runCli(['preflight', '--manifest', 'w.yaml'], { client: c, files: { 'w.yaml': 'spec: [unclosed\n' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ manifest w\.yaml is a usable worker Pod: 1 error\n {4}✗ SNAP\d+ .*YAML/);
    expect(r.stderr).toContain('- image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: not run: the manifest could not be parsed\n');
    expect(r.stdout).toContain('check_agent=pass\n');
    expect(podWrites(c)).toEqual([]);
  });

  it('bad input: no --manifest, an unreadable file, a bad --output are exit 2 without a request', async () => {
    const c = cluster();
    expect((await runCli(['preflight'], { client: c })).code).toBe(2);
    const missing = await runCli(['preflight', '--manifest', 'nope.yaml'], { client: c });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read manifest "nope.yaml": no such file');
    expect((await runCli(['preflight', '--manifest', 'worker.yaml', '-o', 'table'], { client: c, files: FILES })).code).toBe(2);
    expect(c.calls).toEqual([]);
  });

  it('--help ends with examples and the exit codes', async () => {
    const r = await runCli(['preflight', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes: 0 every check passed');
    expect(r.stdout).toContain('snapshotctl preflight --manifest worker.yaml -n ml');
  });
});
