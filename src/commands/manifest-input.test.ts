/**
 * checkpoint and restore --manifest run the `validate` rules before any request:
 * errors (the image policy's included) exit 2 with nothing sent, warnings reach stderr.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';

const WORKER = `apiVersion: v1
kind: Pod
metadata:
  name: worker
spec:
  containers:
    - name: main
      image: registry.example.com/vllm-placeholder:1.0.0
      command: [python3, -m, worker]
      readinessProbe:
        exec: {command: [cat, /tmp/ready-for-checkpoint]}
`;
const OFFLINE = ['--dry-run', '-o', 'json', '--pvc', 'snapshot-pvc', '--base-path', '/checkpoints', '--checkpoint-id', 'ck-1'];

async function run(args: string[], files: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  let kubeCalls = 0;
  const code = await main(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
    env: {},
    signal: new AbortController().signal,
    readStdin: async () => '',
    readFile: async (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    },
    now: () => 0,
    nowNanos: () => 1n,
    kube: async () => {
      kubeCalls += 1;
      throw new Error('test: no cluster expected');
    },
    contextNamespace: async () => undefined,
  });
  return { code, stdout, stderr, kubeCalls };
}

const RUNTIME = WORKER.replace('vllm-placeholder', 'vllm-runtime');

describe.each([
  ['checkpoint', ['checkpoint', '--manifest', 'w.yaml']],
  ['restore --manifest', ['restore', '--manifest', 'w.yaml']],
])('%s', (_name, base) => {
  it('refuses a raw runtime image before any request, naming what is missing and the way out', async () => {
    const r = await run([...base, ...OFFLINE], { 'w.yaml': RUNTIME });
    expect(r.code).toBe(2);
    expect(r.kubeCalls).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: manifest w\.yaml is not a usable worker Pod \(1 problem\)\n {2}SNAP023 spec\.containers\[0\]\.image: spec\.containers\[0\]\.image "registry\.example\.com\/vllm-runtime:1\.0\.0" is a raw runtime image: it lacks criu, cuda-checkpoint, nsrestore at \/usr\/local\/bin\/nsrestore, and sleep/);
    expect(r.stderr).toMatch(/\nhint: .*--skip-image-check accepts an image outside the policy\n$/);
  });

  it('--skip-image-check accepts it', async () => {
    const r = await run([...base, ...OFFLINE, '--skip-image-check'], { 'w.yaml': RUNTIME });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('uses ./.snapshotctl.yaml when present, and --config over it', async () => {
    const policy = { '.snapshotctl.yaml': 'placeholderImages: ["mirror.local/*:*"]\n' };
    const refused = await run([...base, ...OFFLINE], { 'w.yaml': WORKER, ...policy });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/SNAP022 spec\.containers\[0\]\.image: .* is not allowed by the placeholderImages of \.snapshotctl\.yaml/);
    const other = await run([...base, ...OFFLINE, '--config', 'ci.yaml'], { 'w.yaml': WORKER, ...policy, 'ci.yaml': 'placeholderImages: ["registry.example.com/**"]\n' });
    expect(other.code).toBe(0);
    const broken = await run([...base, ...OFFLINE], { 'w.yaml': WORKER, '.snapshotctl.yaml': 'placeholderImage: []\n' });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/config \.snapshotctl\.yaml has an unknown key "placeholderImage"/);
  });

  it('warnings go to stderr and do not stop the run; lint-only rules stay quiet', async () => {
    const r = await run([...base, ...OFFLINE], { 'w.yaml': WORKER.replace('spec:\n', 'spec:\n  restartPolicy: Always\n') });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: SNAP018 spec\.restartPolicy: spec\.restartPolicy is Always/);
    expect(r.stderr).not.toMatch(/SNAP015|SNAP017/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('reports every problem at once: §3 rules, schema and policy together', async () => {
    const bad = WORKER.replace('name: worker', 'name: Worker').replace('vllm-placeholder', 'vllm-runtime').replace('command:', 'ports: [{containerPort: http}]\n      command:');
    const r = await run([...base, ...OFFLINE], { 'w.yaml': bad });
    expect(r.code).toBe(2);
    expect([...r.stderr.matchAll(/^ {2}(SNAP\d+)/gm)].map((m) => m[1])).toEqual(['SNAP003', 'SNAP011', 'SNAP023']);
  });
});

it('checkpoint also warns about a readiness probe that cannot mean "ready to checkpoint"', async () => {
  const r = await run(['checkpoint', '--manifest', 'w.yaml', ...OFFLINE], { 'w.yaml': WORKER.replace('exec: {command: [cat, /tmp/ready-for-checkpoint]}', 'httpGet: {path: /health, port: 8000}') });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^warning: SNAP016 spec\.containers\[0\]\.readinessProbe: .* uses httpGet/);
});
