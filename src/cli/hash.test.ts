/**
 * Command tests of `hash` through the real program (offline: flags and files).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './testing/run-cli.js';

const DCKPT = `apiVersion: nvidia.com/v1alpha1
kind: DynamoCheckpoint
metadata: {name: llama}
spec:
  identity:
    model: meta-llama/Llama-2-13b-hf
    backendFramework: sglang
    dynamoVersion: "0.4.2"
    tensorParallelSize: 2
    pipelineParallelSize: 1
    dtype: float16
    maxModelLen: 4096
    extraParameters: {gpu_memory_utilization: "0.9"}
`;

const DGD = `apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: g}
spec:
  services:
    Frontend: {replicas: 1}
    Decode:
      checkpoint:
        enabled: true
        identity: {model: meta-llama/Llama-2-7b-hf, backendFramework: vllm}
    Prefill:
      checkpoint:
        identity: {model: meta-llama/Llama-2-7b-hf, backendFramework: vllm, tensorParallelSize: 2}
`;

describe('hash', () => {
  it('vector 1 from flags: the hash alone on stdout, exit 0', async () => {
    const r = await runCli(['hash', '--model', 'meta-llama/Llama-2-7b-hf', '--backend-framework', 'vllm']);
    expect(r).toMatchObject({ code: 0, stdout: '96429b2725761a09\n', stderr: '' });
  });

  it('vector 2 from flags, -o json with the exact bytes hashed', async () => {
    const r = await runCli([
      'hash', '--model', 'meta-llama/Llama-2-13b-hf', '--backend-framework', 'sglang', '--dynamo-version', '0.4.2',
      '--tp', '2', '--pp', '1', '--dtype', 'float16', '--max-model-len', '4096', '--extra', 'gpu_memory_utilization=0.9', '-o', 'json',
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: Array<{ hash: string; canonical: string; source: string }> };
    expect(doc.apiVersion).toBe('snapshotctl/v1');
    expect(doc.kind).toBe('IdentityHashList');
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0]?.hash).toBe('f4ba65bccbb8e4fb');
    expect(doc.items[0]?.source).toBe('flags');
    expect(doc.items[0]?.canonical).toBe(
      '{"model":"meta-llama/Llama-2-13b-hf","backendFramework":"sglang","dynamoVersion":"0.4.2","tensorParallelSize":2,"pipelineParallelSize":1,"dtype":"float16","maxModelLen":4096,"extraParameters":{"gpu_memory_utilization":"0.9"}}',
    );
  });

  it('vector 2 from a DynamoCheckpoint file', async () => {
    const r = await runCli(['hash', '--file', 'dckpt.yaml'], { files: { 'dckpt.yaml': DCKPT } });
    expect(r).toMatchObject({ code: 0, stdout: 'f4ba65bccbb8e4fb\n' });
  });

  it('a DynamoGraphDeployment: one line per service with an identity; --service picks one', async () => {
    const all = await runCli(['hash', '-f', 'dgd.yaml'], { files: { 'dgd.yaml': DGD } });
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n')[0]).toBe('96429b2725761a09  Decode');
    expect(all.stdout.split('\n')).toHaveLength(3);
    const one = await runCli(['hash', '-f', '-', '--service', 'Decode'], { stdin: DGD });
    expect(one.stdout).toBe('96429b2725761a09\n');
  });

  it('a file with an alias to a missing anchor: exit 2 with a HASH009 finding, no stack trace', async () => {
    const r = await runCli(['hash', '-f', 'bad.yaml'], { files: { 'bad.yaml': 'spec: *missing\n' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no usable checkpoint identity in bad\.yaml\n {2}HASH009 .*Unresolved alias/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('missing fields and bad flags: exit 2, every problem named with its flag', async () => {
    const r = await runCli(['hash', '--backend-framework', 'tgi', '--tp', 'two', '--extra', 'novalue']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('HASH004 --tp:');
    expect(r.stderr).toContain('HASH008 --extra:');
    expect(r.stderr).toContain('HASH002 --model: model is required');
    expect(r.stderr).toContain('HASH005 --backend-framework:');
  });

  it('--file naming a missing file: the flag and the file, not --manifest or a Pod (exit 2)', async () => {
    const r = await runCli(['hash', '--file', 'dgd.yaml']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('error: cannot read --file "dgd.yaml": no such file\nhint: pass --file with the path of a DynamoCheckpoint or DynamoGraphDeployment file, or - for stdin\n');
  });

  it('--file together with identity flags is a usage error', async () => {
    const r = await runCli(['hash', '--file', 'x.yaml', '--model', 'm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('contradict');
  });
});
