/**
 * YAML merge keys (`<<: *anchor`) are applied wherever snapshotctl reads YAML, as
 * kubectl does: fields merged from an anchor reach the objects sent, not a `"<<"` key.
 */
import { describe, expect, it } from 'vitest';
import type { Job } from '../protocol/index.js';
import { runCli } from './testing/run-cli.js';

const WORKER = `apiVersion: v1
kind: Pod
metadata:
  name: worker
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: registry.example.com/vllm-placeholder:1.0.0
      command: [python3, -m, worker]
      readinessProbe:
        exec: {command: [cat, /tmp/ready-for-checkpoint]}
      <<: &gpu
        resources: {limits: {nvidia.com/gpu: "1"}}
        env: [{name: NCCL_DEBUG, value: INFO}]
`;
const OFFLINE = ['--dry-run', '-o', 'json', '--pvc', 'snapshot-pvc', '--base-path', '/checkpoints', '--checkpoint-id', 'ck-1'];

describe('merge keys', () => {
  it('checkpoint sends the GPU limits and env merged from an anchor, with no "<<" key', async () => {
    const r = await runCli(['checkpoint', '--manifest', 'w.yaml', ...OFFLINE], { files: { 'w.yaml': WORKER } });
    expect(r.code).toBe(0);
    const job = (JSON.parse(r.stdout) as { items: Job[] }).items[0]!;
    const c = job.spec.template.spec.containers[0]! as unknown as Record<string, unknown>;
    expect(c['resources']).toEqual({ limits: { 'nvidia.com/gpu': '1' } });
    expect(c['env']).toEqual([{ name: 'NCCL_DEBUG', value: 'INFO' }]);
    expect(r.stdout).not.toContain('"<<"');
  });

  it('restore --manifest and validate see the merged fields too', async () => {
    const r = await runCli(['restore', '--manifest', 'w.yaml', ...OFFLINE], { files: { 'w.yaml': WORKER } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"nvidia.com/gpu": "1"');
    expect(r.stdout).not.toContain('"<<"');
    const v = await runCli(['validate', '-o', 'json', 'w.yaml'], { files: { 'w.yaml': WORKER } });
    expect(v.stdout).not.toContain('<<');
  });

  it('hash --file merges identity fields from an anchor', async () => {
    const file = `apiVersion: nvidia.com/v1alpha1
kind: DynamoCheckpoint
metadata: {name: q}
spec:
  identity:
    <<: &base {model: meta-llama/Llama-2-7b-hf, backendFramework: vllm}
`;
    const merged = await runCli(['hash', '--file', 'd.yaml'], { files: { 'd.yaml': file } });
    const flags = await runCli(['hash', '--model', 'meta-llama/Llama-2-7b-hf', '--backend-framework', 'vllm']);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toBe(flags.stdout);
  });
});
