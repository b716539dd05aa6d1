/**
 * The checkpoint Job (docs/protocol.md §4) and the restore Pod (§5), compared field by field
 * with objects written out here from the spec. Exact `toEqual` on whole objects is what
 * proves "nothing else is injected" and "everything else as in the manifest".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCheckpointJob, buildRestorePod, checkpointJobName } from './objects.js';
import type { Container, Pod, Probe } from './types.js';

const ID = 'manual-snapshot-1743712345678901234';
const SECCOMP = { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' };

function fixturePod(): Pod {
  const text = readFileSync(new URL('../../test/fixtures/manifests/worker-pod.yaml', import.meta.url), 'utf8');
  return parse(text) as Pod;
}

/** Freeze deeply, so any write to the input throws (test files are ES modules: strict mode). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A minimal valid worker; `container` fields are merged into the single container. */
function worker(container: Partial<Container> = {}, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'w', ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { containers: [{ name: 'worker', image: 'placeholder:1', ...container }] },
  };
}

describe('checkpointJobName', () => {
  it.each([
    ['vllm-worker', 'vllm-worker-checkpoint'],
    ['w', 'w-checkpoint'],
  ])('%s → %s', (pod, job) => expect(checkpointJobName(pod)).toBe(job));
});

describe('buildCheckpointJob (§4) on the full worker fixture', () => {
  const input = deepFreeze(fixturePod());
  const before = structuredClone(input);
  const job = buildCheckpointJob(input, { namespace: 'target-ns', checkpointId: ID, wrapCudaCheckpoint: true });

  it('is exactly the Job the spec describes, nothing more', () => {
    expect(job).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'vllm-worker-checkpoint',
        namespace: 'target-ns',
        labels: { 'nvidia.com/snapshot-checkpoint-id': ID },
      },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: {
            labels: {
              app: 'vllm-worker',
              'nvidia.com/snapshot-is-checkpoint-source': 'true',
              'nvidia.com/snapshot-checkpoint-id': ID,
            },
            annotations: {
              team: 'llm',
              // The manifest's annotations are kept; only artifact-version is set.
              'nvidia.com/snapshot-artifact-version': '1',
              'nvidia.com/snapshot-checkpoint-status': 'completed',
              'nvidia.com/snapshot-restore-status': 'completed',
              'nvidia.com/snapshot-restore-container-id': 'abc123',
            },
          },
          spec: {
            ...before.spec,
            restartPolicy: 'Never',
            securityContext: { runAsUser: 0, fsGroup: 1000, seccompProfile: SECCOMP },
            containers: [
              {
                ...before.spec.containers[0]!,
                command: ['cuda-checkpoint'],
                args: ['--launch-job', 'python3', '-m', 'dynamo.vllm', '--model', 'Qwen/Qwen3-0.6B'],
              },
            ],
          },
        },
      },
    });
  });

  it('Job labels are exactly the checkpoint ID', () => {
    expect(Object.keys(job.metadata.labels ?? {})).toEqual(['nvidia.com/snapshot-checkpoint-id']);
  });

  it('the Job namespace is the target namespace, not the manifest one', () => {
    expect(job.metadata.namespace).toBe('target-ns');
  });

  it('initContainers, volumes, env and affinity are passed through untouched', () => {
    const spec = job.spec.template.spec;
    expect(spec.initContainers).toEqual(before.spec.initContainers);
    expect(spec.volumes).toEqual(before.spec.volumes);
    expect(spec.affinity).toEqual(before.spec.affinity);
    expect(spec.containers[0]?.env).toEqual(before.spec.containers[0]?.env);
    expect(spec.containers[0]?.volumeMounts).toEqual(before.spec.containers[0]?.volumeMounts);
  });

  it('the input manifest is not modified', () => {
    expect(input).toEqual(before);
  });

  it('the result shares no objects with the input', () => {
    job.spec.template.spec.containers[0]!.env = [];
    expect(input.spec.containers[0]?.env).toEqual(before.spec.containers[0]?.env);
  });
});

describe('buildCheckpointJob: pod template labels and annotations', () => {
  it.each<[string, Record<string, string> | undefined, Record<string, string>]>([
    ['no labels', undefined, { 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': ID }],
    [
      'stale restore-target and checkpoint-id removed',
      { a: '1', 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': 'old' },
      { a: '1', 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': ID },
    ],
    [
      'restore-target "false" is removed too',
      { 'nvidia.com/snapshot-is-restore-target': 'false' },
      { 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': ID },
    ],
    [
      'checkpoint-source overwritten with "true"',
      { 'nvidia.com/snapshot-is-checkpoint-source': 'no' },
      { 'nvidia.com/snapshot-is-checkpoint-source': 'true', 'nvidia.com/snapshot-checkpoint-id': ID },
    ],
  ])('%s', (_why, labels, expected) => {
    const job = buildCheckpointJob(worker({ command: ['x'] }, labels ? { labels } : {}), {
      namespace: 'ns',
      checkpointId: ID,
      wrapCudaCheckpoint: true,
    });
    expect(job.spec.template.metadata?.labels).toEqual(expected);
  });

  it.each<[string, Record<string, string> | undefined, Record<string, string>]>([
    ['no annotations', undefined, { 'nvidia.com/snapshot-artifact-version': '1' }],
    ['kept and artifact-version added', { x: 'y' }, { x: 'y', 'nvidia.com/snapshot-artifact-version': '1' }],
    ['artifact-version overwritten', { 'nvidia.com/snapshot-artifact-version': '7' }, { 'nvidia.com/snapshot-artifact-version': '1' }],
  ])('annotations, %s', (_why, annotations, expected) => {
    const job = buildCheckpointJob(worker({ command: ['x'] }, annotations ? { annotations } : {}), {
      namespace: 'ns',
      checkpointId: ID,
      wrapCudaCheckpoint: true,
    });
    expect(job.spec.template.metadata?.annotations).toEqual(expected);
  });
});

describe('buildCheckpointJob: command wrapping', () => {
  it.each<[string, Partial<Container>, boolean, { command?: string[]; args?: string[] }]>([
    ['command and args', { command: ['python3', '-m', 'srv'], args: ['--port', '8000'] }, true, {
      command: ['cuda-checkpoint'],
      args: ['--launch-job', 'python3', '-m', 'srv', '--port', '8000'],
    }],
    ['command only', { command: ['./run.sh'] }, true, { command: ['cuda-checkpoint'], args: ['--launch-job', './run.sh'] }],
    ['wrapping off keeps command and args', { command: ['python3'], args: ['a'] }, false, { command: ['python3'], args: ['a'] }],
    ['wrapping off keeps a missing command missing', { args: ['a'] }, false, { args: ['a'] }],
    ['wrapping off, neither set', {}, false, {}],
  ])('%s', (_why, container, wrap, expected) => {
    const job = buildCheckpointJob(worker(container), { namespace: 'ns', checkpointId: ID, wrapCudaCheckpoint: wrap });
    const c = job.spec.template.spec.containers[0]!;
    expect({ command: c.command, args: c.args }).toEqual({ command: expected.command, args: expected.args });
    expect(Object.hasOwn(c, 'command')).toBe(expected.command !== undefined);
    expect(Object.hasOwn(c, 'args')).toBe(expected.args !== undefined);
  });

  it('wrapping does not touch initContainers', () => {
    const pod = worker({ command: ['x'] });
    pod.spec.initContainers = [{ name: 'init', image: 'busybox', command: ['sh'], args: ['-c', 'true'] }];
    const job = buildCheckpointJob(pod, { namespace: 'ns', checkpointId: ID, wrapCudaCheckpoint: true });
    expect(job.spec.template.spec.initContainers).toEqual([{ name: 'init', image: 'busybox', command: ['sh'], args: ['-c', 'true'] }]);
  });
});

describe('buildCheckpointJob: pod spec on a minimal worker', () => {
  it('adds only restartPolicy, seccomp and the wrapped command (no volume, no env, no mount)', () => {
    const job = buildCheckpointJob(worker({ command: ['x'] }), { namespace: 'ns', checkpointId: ID, wrapCudaCheckpoint: true });
    expect(job.spec.template.spec).toEqual({
      containers: [{ name: 'worker', image: 'placeholder:1', command: ['cuda-checkpoint'], args: ['--launch-job', 'x'] }],
      restartPolicy: 'Never',
      securityContext: { seccompProfile: SECCOMP },
    });
  });

  it.each([
    ['restartPolicy Always', { restartPolicy: 'Always' }],
    ['restartPolicy OnFailure', { restartPolicy: 'OnFailure' }],
  ])('%s becomes Never', (_why, extra) => {
    const pod = worker({ command: ['x'] });
    Object.assign(pod.spec, extra);
    expect(buildCheckpointJob(pod, { namespace: 'ns', checkpointId: ID, wrapCudaCheckpoint: false }).spec.template.spec.restartPolicy).toBe('Never');
  });

  it('an existing seccompProfile is replaced, other securityContext fields kept', () => {
    const pod = worker({ command: ['x'] });
    pod.spec.securityContext = { runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } };
    const job = buildCheckpointJob(pod, { namespace: 'ns', checkpointId: ID, wrapCudaCheckpoint: false });
    expect(job.spec.template.spec.securityContext).toEqual({ runAsNonRoot: false, seccompProfile: SECCOMP });
  });
});

// ---------------------------------------------------------------------------------------
// §5 restore from a manifest

const RESTORE_OPTS = { namespace: 'target-ns', checkpointId: ID, pvcName: 'snapshot-pvc', basePath: '/checkpoints' };

describe('buildRestorePod (§5) on the full worker fixture', () => {
  const input = deepFreeze(fixturePod());
  const before = structuredClone(input);
  const pod = buildRestorePod(input, RESTORE_OPTS);
  const c0 = before.spec.containers[0]!;
  const { args: _args, ...c0WithoutArgs } = c0;

  it('is exactly the Pod the spec describes', () => {
    expect(pod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'vllm-worker',
        namespace: 'target-ns',
        labels: {
          app: 'vllm-worker',
          'nvidia.com/snapshot-is-restore-target': 'true',
          'nvidia.com/snapshot-checkpoint-id': ID,
        },
        annotations: {
          team: 'llm',
          'nvidia.com/snapshot-artifact-version': '1',
        },
      },
      spec: {
        ...before.spec,
        restartPolicy: 'Never',
        securityContext: { runAsUser: 0, fsGroup: 1000, seccompProfile: SECCOMP },
        volumes: [{ name: 'models', emptyDir: {} }, { name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
        containers: [
          {
            ...c0WithoutArgs,
            command: ['sleep', 'infinity'],
            volumeMounts: [
              { name: 'models', mountPath: '/models' },
              { name: 'checkpoint-storage', mountPath: '/checkpoints' },
            ],
            // No startupProbe in the manifest: copied from the livenessProbe.
            startupProbe: { httpGet: { path: '/health', port: 8000 }, periodSeconds: 10, failureThreshold: 2147483647, successThreshold: 1 },
          },
        ],
      },
    });
  });

  it('args are removed, not emptied', () => {
    expect(Object.hasOwn(pod.spec.containers[0]!, 'args')).toBe(false);
  });

  it('liveness and readiness probes stay as in the manifest', () => {
    expect(pod.spec.containers[0]?.livenessProbe).toEqual(c0.livenessProbe);
    expect(pod.spec.containers[0]?.readinessProbe).toEqual(c0.readinessProbe);
  });

  it('initContainers are untouched (no mount added to them)', () => {
    expect(pod.spec.initContainers).toEqual(before.spec.initContainers);
  });

  it('the input manifest is not modified', () => {
    expect(input).toEqual(before);
  });
});

describe('buildRestorePod: labels and annotations', () => {
  it('drops every snapshot label and annotation the spec lists, then sets the restore ones', () => {
    const pod = buildRestorePod(
      worker(
        {},
        {
          labels: {
            keep: 'k',
            'nvidia.com/snapshot-is-checkpoint-source': 'true',
            'nvidia.com/snapshot-is-restore-target': 'false',
            'nvidia.com/snapshot-checkpoint-id': 'old',
          },
          annotations: {
            keep: 'k',
            'nvidia.com/snapshot-artifact-version': '9',
            'nvidia.com/snapshot-checkpoint-status': 'failed',
            'nvidia.com/snapshot-restore-status': 'completed',
            'nvidia.com/snapshot-restore-container-id': 'deadbeef',
          },
        },
      ),
      RESTORE_OPTS,
    );
    expect(pod.metadata.labels).toEqual({
      keep: 'k',
      'nvidia.com/snapshot-is-restore-target': 'true',
      'nvidia.com/snapshot-checkpoint-id': ID,
    });
    expect(pod.metadata.annotations).toEqual({ keep: 'k', 'nvidia.com/snapshot-artifact-version': '1' });
  });

  it('with no labels or annotations in the manifest', () => {
    const pod = buildRestorePod(worker(), RESTORE_OPTS);
    expect(pod.metadata).toEqual({
      name: 'w',
      namespace: 'target-ns',
      labels: { 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': ID },
      annotations: { 'nvidia.com/snapshot-artifact-version': '1' },
    });
  });
});

describe('buildRestorePod: spec on a minimal worker', () => {
  it('adds seccomp, the PVC volume and mount, the placeholder command, restartPolicy Never', () => {
    const pod = buildRestorePod(worker({ command: ['python3'], args: ['serve'] }), { ...RESTORE_OPTS, pvcName: 'my-pvc', basePath: '/mnt/ckpt' });
    expect(pod.spec).toEqual({
      containers: [
        {
          name: 'worker',
          image: 'placeholder:1',
          command: ['sleep', 'infinity'],
          volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/mnt/ckpt' }],
        },
      ],
      volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'my-pvc' } }],
      restartPolicy: 'Never',
      securityContext: { seccompProfile: SECCOMP },
    });
  });

  it('keeps an existing volume named checkpoint-storage as it is', () => {
    const input = worker();
    input.spec.volumes = [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'other', readOnly: true } }];
    const pod = buildRestorePod(input, RESTORE_OPTS);
    expect(pod.spec.volumes).toEqual([{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'other', readOnly: true } }]);
  });

  it('keeps an existing mount named checkpoint-storage as it is', () => {
    const pod = buildRestorePod(worker({ volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/elsewhere', readOnly: true }] }), RESTORE_OPTS);
    expect(pod.spec.containers[0]?.volumeMounts).toEqual([{ name: 'checkpoint-storage', mountPath: '/elsewhere', readOnly: true }]);
  });
});

describe('buildRestorePod: startup probe', () => {
  const startup: Probe = { exec: { command: ['startup'] }, failureThreshold: 5, periodSeconds: 1 };
  const liveness: Probe = { httpGet: { path: '/live', port: 1 }, successThreshold: 1, failureThreshold: 3 };
  const readiness: Probe = { tcpSocket: { port: 2 }, successThreshold: 3, initialDelaySeconds: 4 };
  const patient = { failureThreshold: 2147483647, successThreshold: 1 };

  it.each<[string, Partial<Container>, Probe | undefined]>([
    ['startup, liveness and readiness → from startup', { startupProbe: startup, livenessProbe: liveness, readinessProbe: readiness }, { ...startup, ...patient }],
    ['liveness and readiness → from liveness', { livenessProbe: liveness, readinessProbe: readiness }, { ...liveness, ...patient }],
    ['readiness only → from readiness', { readinessProbe: readiness }, { ...readiness, ...patient }],
    ['no probes → none', {}, undefined],
  ])('%s', (_why, probes, expected) => {
    const pod = buildRestorePod(worker(probes), RESTORE_OPTS);
    const c = pod.spec.containers[0]!;
    expect(c.startupProbe).toEqual(expected);
    expect(Object.hasOwn(c, 'startupProbe')).toBe(expected !== undefined);
    // The source probes themselves are not changed.
    expect(c.livenessProbe).toEqual(probes.livenessProbe);
    expect(c.readinessProbe).toEqual(probes.readinessProbe);
  });
});
