/** Shell completion: the scripts and the candidates of `__complete`. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildHelperPod } from '../commands/helper-pod.js';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import { buildCheckpointJob, buildRestorePod, parsePodManifest, type Pod } from '../protocol/index.js';
import { runCli, seedAgent, seedCheckpoint, seedRestore } from './testing/run-cli.js';

const ROOT = join(import.meta.dirname, '../..');
/** The checkpoint storage seedAgent's DaemonSet names. */
const STORAGE = { pvcName: 'snapshot-pvc', basePath: '/checkpoints' };

function sample(file: string): Pod {
  const parsed = parsePodManifest(readFileSync(join(ROOT, 'manifests/samples', file), 'utf8'));
  if (!parsed.pod) throw new Error(`${file}: ${JSON.stringify(parsed.findings)}`);
  return parsed.pod;
}

/** `pod` as the cluster holds it: named, in "default", `metadata` merged in, in `phase`. */
function seeded(pod: Pod, name: string, metadata: Record<string, unknown> = {}, phase = 'Running'): Pod {
  return { ...pod, metadata: { ...pod.metadata, name, namespace: 'default', ...metadata }, status: { phase } };
}

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedCheckpoint(c, 'llama-v1', { pod: 'w1', verdict: 'completed', minutesAgo: 5 });
  seedCheckpoint(c, 'llama-v2', { pod: 'w2', verdict: 'completed', minutesAgo: 4 });
  seedCheckpoint(c, 'other', { ns: 'ml', pod: 'w3', verdict: 'completed', minutesAgo: 4 });
  seedRestore(c, 'llama-v1', 'placeholder-1', { status: 'completed', minutesAgo: 1 });
  return c;
}

/** cluster() with the agent DaemonSet (the storage restore checks against) and the sample placeholder, running. */
function podCluster(): FakeKubeClient {
  const c = cluster();
  seedAgent(c);
  c.seed(RESOURCES.pods, seeded(sample('placeholder.yaml'), 'vllm-placeholder'));
  return c;
}

const complete = async (words: string[], client = cluster()) => (await runCli(['__complete', '--', ...words], { client })).stdout;

describe('completion', () => {
  it.each(['bash', 'zsh', 'fish'])('%s: a script that calls __complete', async (shell) => {
    const r = await runCli(['completion', shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('snapshotctl __complete --');
  });

  it('an unknown shell: exit 2', async () => {
    expect((await runCli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('subcommands, flags and fixed flag values', async () => {
    expect(await complete(['l'])).toBe('list\n');
    expect((await complete(['']))).toContain('describe\n');
    expect(await complete(['list', '--all-'])).toBe('--all-namespaces\n');
    expect(await complete(['list', '-o', ''])).toBe('table\nwide\njson\nyaml\nname\n');
    expect(await complete(['hash', '--backend-framework', 's'])).toBe('sglang\n');
    expect(await complete(['completion', ''])).toBe('bash\nzsh\nfish\n');
  });

  it('checkpoint IDs from the cluster for describe, delete and --checkpoint-id, scoped by -n', async () => {
    expect(await complete(['describe', 'llama'])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['delete', 'llama-v1', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['restore', '--checkpoint-id', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['describe', '-n', 'ml', ''])).toBe('other\n');
  });

  it('pod names for restore --pod', async () => {
    expect(await complete(['restore', '--pod', 'vllm'], podCluster())).toBe('vllm-placeholder\n');
  });

  it('restore --pod offers only the running pods restore would take (its own preconditions), not app pods nor ours', async () => {
    const c = podCluster(); // also: finished checkpoint Job pods, a bare restore pod (placeholder-1), the agent's pod
    const add = (pod: Pod) => c.seed(RESOURCES.pods, pod);
    const placeholder = sample('placeholder.yaml');
    // Compatible: a pod restore --manifest made (restorable again once done).
    add(seeded(buildRestorePod(sample('worker.yaml'), { namespace: 'default', checkpointId: 'llama-v1', ...STORAGE }), 'restored-worker', { annotations: { 'nvidia.com/snapshot-restore-status': 'completed' } }));
    // An ordinary app pod: running, one container, but no checkpoint volume and no seccomp profile.
    add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'placeholder-2', namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'app:1' }] }, status: { phase: 'Running' } });
    // Ours: a running checkpoint Job's pod (the sample worker), a helper pod (the PVC, no seccomp profile), an installer.
    const ckpt = buildCheckpointJob(sample('worker.yaml'), { namespace: 'default', checkpointId: 'llama-v3', wrapCudaCheckpoint: true });
    add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'w9-checkpoint-abcde', namespace: 'default', labels: ckpt.spec.template.metadata?.labels ?? {} }, spec: ckpt.spec.template.spec, status: { phase: 'Running' } });
    const helper = buildHelperPod({ namespace: 'default', storage: STORAGE, image: 'busybox', purpose: 'reader', command: ['true'] });
    add(seeded(helper, 'snapshotctl-reader-abc'));
    add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'seccomp-installer-abc', namespace: 'default', labels: { 'app.kubernetes.io/component': 'seccomp-installer' } }, spec: { containers: [{ name: 'install', image: 'busybox' }] }, status: { phase: 'Running' } });
    // Placeholders restore refuses now: being restored, being deleted, the PVC at another path; and one not running.
    add(seeded(placeholder, 'being-restored', { annotations: { 'nvidia.com/snapshot-restore-status': 'in_progress' } }));
    add(seeded(placeholder, 'deleting-placeholder', { deletionTimestamp: new Date(0).toISOString() }));
    const elsewhere = structuredClone(placeholder);
    elsewhere.spec.containers[0]!.volumeMounts = [{ name: 'checkpoint-storage', mountPath: '/ckpt' }];
    add(seeded(elsewhere, 'mounted-elsewhere'));
    add(seeded(placeholder, 'pending-placeholder', {}, 'Pending'));
    expect(await complete(['restore', '--pod', ''], c)).toBe('restored-worker\nvllm-placeholder\n');
  });

  it('restore --pod with no agent DaemonSet to name the storage: nothing offered (restore would refuse)', async () => {
    const c = cluster();
    c.seed(RESOURCES.pods, seeded(sample('placeholder.yaml'), 'vllm-placeholder'));
    expect(await complete(['restore', '--pod', ''], c)).toBe('');
  });

  it('--cobra (kubectl_complete-snapshot): candidates, then :4; none: :0 so the shell completes files', async () => {
    const cobra = async (words: string[]) => (await runCli(['__complete', '--cobra', '--', ...words], { client: podCluster() })).stdout;
    expect(await cobra(['l'])).toBe('list\n:4\n');
    expect(await cobra(['restore', '--pod', ''])).toBe('vllm-placeholder\n:4\n');
    expect(await cobra(['validate', ''])).toBe(':0\n');
  });

  it('bin/kubectl_complete-snapshot.js prints cobra format for the words kubectl passes', () => {
    // kubectl runs it with the words after `kubectl snapshot`; the last is being completed.
    const run = (...words: string[]) =>
      execFileSync(process.execPath, [join(ROOT, 'bin/kubectl_complete-snapshot.js'), ...words], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', KUBECONFIG: join(ROOT, 'no-such-kubeconfig') } });
    expect(run('des')).toBe('describe\n:4\n');
    expect(run('list', '-o', 'ya')).toBe('yaml\n:4\n');
    expect(run('restore', '--pod', '')).toBe(':0\n'); // no cluster: nothing, files
  });

  it('no cluster: no candidates and exit 0 (the shell falls back to files)', async () => {
    const r = await runCli(['__complete', '--', 'describe', '']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });
});
