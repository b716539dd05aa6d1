/**
 * Names and paths from flags, manifests and the kubeconfig are checked locally: a bad
 * one exits 2 with a sentence naming where it came from, and nothing is sent.
 */
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { answerStorageScans, runCli, seedAgent } from './testing/run-cli.js';

const WORKER = (extra = '', container = 'main') => `apiVersion: v1
kind: Pod
metadata:
  name: worker
${extra}spec:
  restartPolicy: Never
  containers:
    - name: ${container}
      image: registry.example.com/vllm-placeholder:1.0.0
      command: [python3, -m, worker]
      readinessProbe:
        exec: {command: [cat, /tmp/ready-for-checkpoint]}
`;
const FILES = { 'w.yaml': WORKER() };
const OFFLINE = ['--dry-run', '--pvc', 'snapshot-pvc', '--base-path', '/checkpoints', '--checkpoint-id', 'ck-1'];

describe('refused before anything is sent (exit 2)', () => {
  it.each([
    ['list -n Bad_NS', ['list', '-n', 'Bad_NS'], /^error: --namespace "Bad_NS" is not a valid namespace name: it is not a DNS-1123 label/m],
    ['list -n ../kube-system', ['list', '-n', '../kube-system'], /--namespace "\.\.\/kube-system" is not a valid namespace name/],
    ['describe -n (64 chars)', ['describe', 'ck-1', '-n', 'a'.repeat(64)], /is 64 characters long; at most 63 are allowed/],
    ['delete -n Bad_NS', ['delete', 'ck-1', '-n', 'Bad_NS', '--yes'], /--namespace "Bad_NS"/],
    ['checkpoint -n Bad_NS', ['checkpoint', '--manifest', 'w.yaml', '-n', 'Bad_NS'], /--namespace "Bad_NS"/],
    ['restore --pod -n Bad_NS', ['restore', '--pod', 'ph', '--checkpoint-id', 'ck-1', '-n', 'Bad_NS'], /--namespace "Bad_NS"/],
    ['preflight -n Bad_NS', ['preflight', '--manifest', 'w.yaml', '-n', 'Bad_NS'], /--namespace "Bad_NS"/],
    ['restore --pod "Bad Pod"', ['restore', '--pod', 'Bad Pod', '--checkpoint-id', 'ck-1'], /--pod "Bad Pod" is not a valid pod name: it is not a DNS-1123 subdomain/],
    ['checkpoint --node Bad_Node', ['checkpoint', '--manifest', 'w.yaml', '--node', 'Bad_Node'], /--node "Bad_Node" is not a valid node name/],
    ['preflight --node', ['preflight', '--manifest', 'w.yaml', '--node', 'n'.repeat(254)], /--node "n+" is not a valid node name: it is 254 characters long; at most 253/],
    ['describe a/b', ['describe', 'a/b'], /^error: checkpoint ID "a\/b" contains a path separator .*, and it is not a DynamoCheckpoint name either/m],
    ['checkpoint offline --pvc "Bad PVC"', ['checkpoint', '--manifest', 'w.yaml', ...OFFLINE, '--pvc', 'Bad PVC'], /--pvc "Bad PVC" is not a valid PVC name/],
    ['checkpoint offline --base-path with ..', ['checkpoint', '--manifest', 'w.yaml', ...OFFLINE, '--base-path', '/checkpoints/../etc'], /--base-path "\/checkpoints\/\.\.\/etc" cannot be used: it contains `\.\.`/],
    ['restore offline --base-path //x', ['restore', '--manifest', 'w.yaml', ...OFFLINE, '--base-path', '//checkpoints'], /is not normalized \(write it as \/checkpoints\)/],
    ['validate --pvc', ['validate', '--for', 'restore', '--pvc', 'Bad PVC', 'w.yaml'], /--pvc "Bad PVC" is not a valid PVC name/],
    ['validate --base-path', ['validate', '--for', 'restore', '--base-path', '/a/../b', 'w.yaml'], /--base-path "\/a\/\.\.\/b" cannot be used/],
  ])('%s', async (_name, args, message) => {
    const c = new FakeKubeClient();
    seedAgent(c);
    const r = await runCli(args, { client: c, files: FILES });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.kubeCalls).toBe(0);
    expect(c.calls).toEqual([]);
  });

  it("the kubeconfig context's namespace is checked too, with the way to fix it", async () => {
    const c = new FakeKubeClient('Bad_NS');
    const r = await runCli(['list'], { client: c });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the kubeconfig context's namespace "Bad_NS" is not a valid namespace name/m);
    expect(r.stderr).toMatch(/^hint: pass -n NAMESPACE, or fix the context with `kubectl config set-context --current --namespace=NAMESPACE`/m);
    expect(c.calls).toEqual([]);
  });

  it.each([
    ['metadata.namespace', WORKER('  namespace: ../kube-system\n'), /SNAP003 metadata\.namespace: metadata\.namespace "\.\.\/kube-system" is not a valid namespace/],
    ['a container name', WORKER('', 'Bad_Name'), /SNAP003 spec\.containers\[0\]\.name: spec\.containers\[0\]\.name "Bad_Name" is not a valid container name/],
  ])('a manifest with a bad %s is refused by checkpoint, restore and validate', async (_what, text, finding) => {
    for (const args of [['checkpoint', '--manifest', 'w.yaml', ...OFFLINE], ['restore', '--manifest', 'w.yaml', ...OFFLINE]]) {
      const r = await runCli(args, { files: { 'w.yaml': text } });
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr).toMatch(finding);
      expect(r.kubeCalls).toBe(0);
    }
    const v = await runCli(['validate', '-o', 'json', 'w.yaml'], { files: { 'w.yaml': text } });
    expect(v.code).toBe(2);
    expect(v.stdout).toContain('"rule": "SNAP003"');
  });

  it('a DynamoCheckpoint file with a bad metadata.namespace or name is refused before any request', async () => {
    const dckpt = (meta: string) =>
      `apiVersion: nvidia.com/v1alpha1\nkind: DynamoCheckpoint\nmetadata:\n${meta}spec:\n  identity: {model: m, backendFramework: vllm}\n`;
    for (const [meta, message] of [
      ['  name: ok\n  namespace: Bad_NS\n', /metadata\.namespace of d\.yaml "Bad_NS" is not a valid namespace name/],
      ['  name: Bad_Name\n', /metadata\.name of d\.yaml "Bad_Name" is not a valid DynamoCheckpoint name/],
    ] as const) {
      const r = await runCli(['checkpoint', '--identity', 'd.yaml', '--manifest', 'w.yaml', '--dry-run'], { files: { 'd.yaml': dckpt(meta), ...FILES } });
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(r.kubeCalls).toBe(0);
    }
  });

  it('valid names still go through (offline dry-run and describe of a DynamoCheckpoint name)', async () => {
    const r = await runCli(['checkpoint', '--manifest', 'w.yaml', ...OFFLINE, '-n', 'ml', '-o', 'json'], { files: FILES });
    expect(r.code).toBe(0);
    const c = new FakeKubeClient();
    seedAgent(c);
    answerStorageScans(c);
    const d = await runCli(['describe', 'qwen3.checkpoint'], { client: c });
    expect(d.stderr).toContain('no checkpoint "qwen3.checkpoint"');
    expect(d.code).toBe(1);
  });
});
