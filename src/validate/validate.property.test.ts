/**
 * Property: whatever a manifest turns into (fields dropped, renamed, retyped, random
 * values or random text), `validate` answers with findings or a clean pass: exit 0, 1
 * or 2, a parseable JSON result, and never an unexpected failure or a stack trace.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../cli/main.js';

const GOOD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'vllm-worker', labels: { app: 'w' }, annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' } },
  spec: {
    restartPolicy: 'Never',
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
    securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
    containers: [
      {
        name: 'worker',
        image: 'nvcr.io/nvidia/ai-dynamo/vllm-placeholder:1.0.0',
        command: ['python3', '-m', 'dynamo.vllm'],
        env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/ready-for-checkpoint' }],
        readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] } },
        volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }],
        resources: { limits: { 'nvidia.com/gpu': '1' } },
      },
    ],
    volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
  },
};

type Step = string | number;

/** Every path into the object, the root excluded. */
function paths(v: unknown, prefix: Step[] = []): Step[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...prefix, i], ...paths(x, [...prefix, i])]);
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
  return [];
}

type Mutation = { op: 'drop' | 'rename' | 'set'; at: number; value: unknown; name: string };

function mutate(root: unknown, m: Mutation): unknown {
  const copy = structuredClone(root) as Record<string, unknown>;
  const all = paths(copy);
  const path = all[m.at % all.length]!;
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<Step, unknown>)[k], copy) as Record<Step, unknown> | unknown[];
  const key = path[path.length - 1]!;
  if (m.op === 'drop') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (m.op === 'rename' && !Array.isArray(parent)) {
    parent[m.name] = parent[key];
    delete parent[key];
  } else {
    (parent as Record<Step, unknown>)[key] = m.value;
  }
  return copy;
}

const mutation = fc.record({
  op: fc.constantFrom('drop' as const, 'rename' as const, 'set' as const),
  at: fc.nat(),
  value: fc.oneof(fc.anything(), fc.constant(null), fc.string(), fc.integer(), fc.array(fc.string()), fc.constant({})),
  name: fc.string({ minLength: 1, maxLength: 12 }),
});

async function validateText(stdin: string, args: string[] = []) {
  let stdout = '';
  let stderr = '';
  const code = await main(['validate', '-o', 'json', ...args, '-'], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    isTTY: false,
    env: {},
    signal: new AbortController().signal,
    readStdin: async () => stdin,
    readFile: async () => {
      throw Object.assign(new Error('none'), { code: 'ENOENT' });
    },
  });
  return { code, stdout, stderr };
}

function assertAnswered(r: { code: number; stdout: string; stderr: string }): void {
  expect(r.stderr).toBe('');
  expect([0, 1, 2]).toContain(r.code);
  const out = JSON.parse(r.stdout) as { summary: { errors: number; warnings: number } };
  expect(r.code === 2).toBe(out.summary.errors > 0);
}

describe('validate never crashes', () => {
  it('the unmutated manifest is clean', async () => {
    const r = await validateText(stringify(GOOD));
    expect(JSON.parse(r.stdout)).toMatchObject({ summary: { errors: 0, warnings: 0 } });
    expect(r.code).toBe(0);
  });

  it('on 1-4 random mutations of a good manifest (YAML and JSON)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.constantFrom('checkpoint', 'restore', 'both'), async (ms, asJson, purpose) => {
        const obj = ms.reduce<unknown>((o, m) => mutate(o, m), GOOD);
        let text: string;
        try {
          text = asJson ? JSON.stringify(obj) ?? 'null' : stringify(obj);
        } catch {
          return; // not serialisable (e.g. a BigInt from fc.anything): nothing to feed
        }
        assertAnswered(await validateText(text, ['--for', purpose, '--checkpoint-id', 'ck-1']));
      }),
      { numRuns: 300 },
    );
  });

  it('on random text and random YAML values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string({ unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', '{', '"', '&', '*', '!', '#', '|', '>', '---\n', '\t') }),
          fc.jsonValue().map((v) => stringify(v)),
        ),
        async (text) => {
          assertAnswered(await validateText(text));
        },
      ),
      { numRuns: 300 },
    );
  });
});
