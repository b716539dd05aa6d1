/**
 * Restore in place (docs/protocol.md §6): preconditions, the guarded metadata patch that
 * removes stale keys, and JSON merge patch semantics (RFC 7386) used to preview it.
 */
import { describe, expect, it } from 'vitest';
import { applyMergePatch, buildRestoreInPlacePatch, buildRevertPatch, checkRestoreInPlace, type MergePatch } from './objects.js';
import type { Pod } from './types.js';

const STORAGE = { pvcName: 'snapshot-pvc', basePath: '/checkpoints' };
const ID = 'ckpt-7';

/** A placeholder pod that meets every precondition. */
function readyPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ph', namespace: 'ns', resourceVersion: '4711', uid: 'u-1' },
    spec: {
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/block-iouring.json' } },
      volumes: [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }],
      containers: [
        {
          name: 'main',
          image: 'placeholder:1',
          command: ['sleep', 'infinity'],
          volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }],
        },
      ],
    },
  };
}

describe('checkRestoreInPlace: preconditions', () => {
  it('a pod that meets them all → no problems', () => {
    expect(checkRestoreInPlace(readyPod(), STORAGE)).toEqual([]);
  });

  it.each<[string, (p: Pod) => void, RegExp]>([
    ['no containers', (p) => (p.spec.containers = []), /container/],
    ['no checkpoint-storage volume', (p) => (p.spec.volumes = []), /checkpoint-storage/],
    [
      'checkpoint-storage on another PVC',
      (p) => (p.spec.volumes = [{ name: 'checkpoint-storage', persistentVolumeClaim: { claimName: 'other' } }]),
      /other/,
    ],
    ['checkpoint-storage not a PVC', (p) => (p.spec.volumes = [{ name: 'checkpoint-storage', emptyDir: {} }]), /PVC/],
    ['PVC under another volume name only', (p) => (p.spec.volumes = [{ name: 'ckpt', persistentVolumeClaim: { claimName: 'snapshot-pvc' } }]), /checkpoint-storage/],
    ['containers[0] does not mount it', (p) => (p.spec.containers[0]!.volumeMounts = []), /mount/],
    [
      'mounted at another path',
      (p) => (p.spec.containers[0]!.volumeMounts = [{ name: 'checkpoint-storage', mountPath: '/data' }]),
      /\/data/,
    ],
    [
      'mounted with a trailing slash (not exactly basePath)',
      (p) => (p.spec.containers[0]!.volumeMounts = [{ name: 'checkpoint-storage', mountPath: '/checkpoints/' }]),
      /\/checkpoints/,
    ],
    ['no seccomp profile', (p) => delete p.spec.securityContext, /seccomp/i],
    ['being restored right now', (p) => (p.metadata.annotations = { 'nvidia.com/snapshot-restore-status': 'in_progress' }), /being restored right now/],
    ['being deleted', (p) => (p.metadata.deletionTimestamp = new Date(0).toISOString()), /being deleted/],
    ['a checkpoint Job\'s worker (is-checkpoint-source)', (p) => (p.metadata.labels = { ...p.metadata.labels, 'nvidia.com/snapshot-is-checkpoint-source': 'true' }), /checkpoint source/],
    [
      'seccomp RuntimeDefault',
      (p) => (p.spec.securityContext = { seccompProfile: { type: 'RuntimeDefault' } }),
      /seccomp/i,
    ],
    [
      'seccomp Localhost with another profile',
      (p) => (p.spec.securityContext = { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/other.json' } }),
      /seccomp/i,
    ],
  ])('%s → exactly one problem', (_why, breakIt, pattern) => {
    const pod = readyPod();
    breakIt(pod);
    const problems = checkRestoreInPlace(pod, STORAGE);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('only containers[0] counts for the mount', () => {
    const pod = readyPod();
    pod.spec.containers = [
      { name: 'first', image: 'i' },
      { name: 'second', image: 'i', volumeMounts: [{ name: 'checkpoint-storage', mountPath: '/checkpoints' }] },
    ];
    expect(checkRestoreInPlace(pod, STORAGE).some((p) => p.includes('"first"'))).toBe(true);
  });

  it('all unmet preconditions are reported together', () => {
    const pod = readyPod();
    pod.spec.volumes = [];
    pod.spec.containers[0]!.volumeMounts = [];
    delete pod.spec.securityContext;
    expect(checkRestoreInPlace(pod, STORAGE)).toHaveLength(3);
  });

  it('no containers and nothing else → every problem listed, not just the first', () => {
    const pod: Pod = { metadata: { name: 'x' }, spec: { containers: [] } };
    expect(checkRestoreInPlace(pod, STORAGE)).toHaveLength(3);
  });
});

describe('buildRestoreInPlacePatch (§5 metadata, stale keys removed, guarded)', () => {
  const stalePod = (): Pod => {
    const pod = readyPod();
    pod.metadata.labels = {
      app: 'x',
      'nvidia.com/snapshot-is-checkpoint-source': 'true',
      'nvidia.com/snapshot-checkpoint-id': 'older',
    };
    pod.metadata.annotations = {
      note: 'keep',
      'nvidia.com/snapshot-restore-status': 'completed',
      'nvidia.com/snapshot-restore-container-id': 'c0ffee',
      'nvidia.com/snapshot-checkpoint-status': 'completed',
      'nvidia.com/snapshot-artifact-version': '1',
    };
    return pod;
  };

  it('deletes stale keys with null, sets the restore-target keys, carries resourceVersion', () => {
    expect(buildRestoreInPlacePatch(stalePod(), ID)).toEqual({
      metadata: {
        resourceVersion: '4711',
        labels: {
          'nvidia.com/snapshot-is-checkpoint-source': null,
          'nvidia.com/snapshot-is-restore-target': 'true',
          'nvidia.com/snapshot-checkpoint-id': ID,
        },
        annotations: {
          'nvidia.com/snapshot-restore-status': null,
          'nvidia.com/snapshot-restore-container-id': null,
          'nvidia.com/snapshot-checkpoint-status': null,
        },
      },
    });
  });

  it('applied to the pod, gives exactly the §5 labels and annotations', () => {
    const pod = stalePod();
    const after = applyMergePatch(pod, buildRestoreInPlacePatch(pod, ID));
    expect(after.metadata.labels).toEqual({
      app: 'x',
      'nvidia.com/snapshot-is-restore-target': 'true',
      'nvidia.com/snapshot-checkpoint-id': ID,
    });
    expect(after.metadata.annotations).toEqual({ note: 'keep', 'nvidia.com/snapshot-artifact-version': '1' });
    // The wait must not see a verdict from an earlier restore.
    expect(after.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBeUndefined();
    expect(after.spec).toEqual(pod.spec);
  });

  it('a pod with no labels or annotations gets every restore key', () => {
    const pod = readyPod();
    expect(buildRestoreInPlacePatch(pod, ID)).toEqual({
      metadata: {
        resourceVersion: '4711',
        labels: { 'nvidia.com/snapshot-is-restore-target': 'true', 'nvidia.com/snapshot-checkpoint-id': ID },
        annotations: { 'nvidia.com/snapshot-artifact-version': '1' },
      },
    });
  });

  it('the patch is JSON (it goes over the wire as a merge patch)', () => {
    const patch = buildRestoreInPlacePatch(stalePod(), ID);
    expect(JSON.parse(JSON.stringify(patch))).toEqual(patch);
  });

  it('does not modify the pod it reads', () => {
    const pod = stalePod();
    const before = structuredClone(pod);
    buildRestoreInPlacePatch(pod, ID);
    expect(pod).toEqual(before);
  });
});

describe('applyMergePatch: RFC 7386 Appendix A (object patches)', () => {
  // [target, patch, result], straight from the RFC's examples. An array in a patch is a
  // value: it replaces the target's value whole and is never merged key by key.
  const VECTORS: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  it.each(VECTORS)('%j + %j → %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch as MergePatch)).toEqual(result);
  });

  it('does not modify the target', () => {
    const target = { a: { b: 'c', d: 'e' } };
    applyMergePatch(target, { a: { b: null } });
    expect(target).toEqual({ a: { b: 'c', d: 'e' } });
  });
});

describe('buildRevertPatch: undo what the restore-in-place patch changed', () => {
  const before = (): Pod => {
    const p = readyPod();
    p.metadata.labels = { app: 'ph', 'nvidia.com/snapshot-checkpoint-id': 'old', 'nvidia.com/snapshot-is-restore-target': 'true' };
    p.metadata.annotations = { 'nvidia.com/snapshot-restore-status': 'completed', 'nvidia.com/snapshot-restore-container-id': 'abc', note: 'x' };
    return p;
  };
  const after = (pod: Pod, patch: MergePatch, rv = '4712'): Pod => {
    const next = applyMergePatch(pod, patch);
    next.metadata.resourceVersion = rv;
    return next;
  };

  it('puts every key back as it was, with the current resourceVersion as precondition', () => {
    const b = before();
    const patch = buildRestoreInPlacePatch(b, ID);
    expect(buildRevertPatch(after(b, patch), patch, b)).toEqual({
      metadata: {
        resourceVersion: '4712',
        labels: { 'nvidia.com/snapshot-checkpoint-id': 'old' },
        annotations: { 'nvidia.com/snapshot-restore-status': 'completed', 'nvidia.com/snapshot-restore-container-id': 'abc', 'nvidia.com/snapshot-artifact-version': null },
      },
    });
  });

  it('a pod that was never a restore target loses the trigger label, the ID and the version annotation', () => {
    const b = readyPod();
    const patch = buildRestoreInPlacePatch(b, ID);
    const reverted = applyMergePatch(after(b, patch), buildRevertPatch(after(b, patch), patch, b)!);
    expect(reverted.metadata.labels ?? {}).toEqual({});
    expect(reverted.metadata.annotations ?? {}).toEqual({});
  });

  it('leaves keys changed since (the agent wrote its verdict) alone', () => {
    const b = readyPod();
    const patch = buildRestoreInPlacePatch(b, ID);
    const now = after(b, patch);
    now.metadata.annotations = { ...now.metadata.annotations, 'nvidia.com/snapshot-restore-status': 'failed' };
    now.metadata.labels = { ...now.metadata.labels, 'nvidia.com/snapshot-checkpoint-id': 'another-run' };
    expect(buildRevertPatch(now, patch, b)).toEqual({
      metadata: { resourceVersion: '4712', labels: { 'nvidia.com/snapshot-is-restore-target': null }, annotations: { 'nvidia.com/snapshot-artifact-version': null } },
    });
  });

  it('nothing to undo: undefined', () => {
    const b = readyPod();
    const patch = buildRestoreInPlacePatch(b, ID);
    expect(buildRevertPatch(b, patch, b)).toBeUndefined();
  });
});
