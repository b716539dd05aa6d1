import { describe, expect, it } from 'vitest';
import { RULES } from '../protocol/manifest.js';
import { DEFAULT_POLICY } from './image-policy.js';
import { RULE_IDS, RULE_REGISTRY, runRules } from './rules.js';
import type { Purpose, RuleContext } from './types.js';

const ctx = (purpose: Purpose, extra: Partial<RuleContext> = {}): RuleContext => ({ purpose, requireCommand: true, basePath: '/checkpoints', inCommand: false, imagePolicy: DEFAULT_POLICY, ...extra });

function worker(container: Record<string, unknown> = {}, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'w', annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' }, ...meta },
    spec: {
      containers: [{ name: 'w', image: 'x/vllm-placeholder:1', command: ['python3'], readinessProbe: { exec: { command: ['cat', '/tmp/ready-for-checkpoint'] } }, ...container }],
      ...spec,
    },
  };
}
const ids = (obj: Record<string, unknown>, c: RuleContext = ctx('checkpoint')) => runRules(obj, c).map((f) => f.rule);

describe('the registry', () => {
  it('has unique IDs in order, each with a title and a fix, and keeps the §3 IDs', () => {
    const list = RULE_REGISTRY.map((r) => r.id);
    expect(list).toEqual([...list].sort());
    expect(new Set(list).size).toBe(list.length);
    for (const id of Object.values(RULES)) expect(list).toContain(id);
    for (const id of Object.values(RULE_IDS)) expect(list).toContain(id);
    for (const r of RULE_REGISTRY) {
      expect(r.title).not.toMatch(/\n/);
      expect(r.fix.length).toBeGreaterThan(10);
    }
    expect(RULE_IDS.restorePreconditions).toBe('SNAP020');
  });

  it('a clean worker has no findings for checkpoint', () => {
    expect(runRules(worker(), ctx('checkpoint'))).toEqual([]);
  });

  it('another kind gets SNAP002 only', () => {
    expect(ids({ apiVersion: 'apps/v1', kind: 'Deployment', spec: {} })).toEqual(['SNAP002']);
  });

  it('lint-only rules are left out inside commands', () => {
    const obj = worker({ resources: { limits: { 'nvidia.com/gpu': 1 } } }, {}, { annotations: {} });
    expect(ids(obj)).toEqual(['SNAP015', 'SNAP017']);
    expect(ids(obj, ctx('checkpoint', { inCommand: true }))).toEqual([]);
  });

  it('a check that throws is reported, not raised', () => {
    const hostile = worker();
    Object.defineProperty(hostile, 'apiVersion', { get: () => { throw new Error('boom'); }, enumerable: true });
    const found = runRules(hostile, ctx('checkpoint'));
    expect(found.some((f) => /could not judge this object \(boom\)/.test(f.message))).toBe(true);
  });
});

describe('SNAP016 readiness', () => {
  it.each([
    [{ command: ['cat', '/tmp/ready-for-checkpoint'] }, []],
    [{ command: ['sh', '-c', 'test -f /tmp/ready'] }, []],
    [{ command: ['/bin/sh', '-c', '[ -e "$DYN_READY_FOR_CHECKPOINT_FILE" ]'] }, []],
    [{ command: ['ls', '/tmp/ready'] }, []],
    [{ command: ['cat', 'ready-for-checkpoint'] }, []],
    [{ command: ['/usr/bin/test', '-f', 'ready'] }, []],
    [{ command: ['sh', '-c', 'curl -f localhost:8000/health'] }, ['SNAP016']],
    [{ command: ['true'] }, ['SNAP016']],
    [{ command: ['curl', '-f', 'localhost:8000/health'] }, ['SNAP016']],
    [{}, ['SNAP016']],
  ])('exec %j -> %j', (exec, expected) => {
    expect(ids(worker({ readinessProbe: { exec } }))).toEqual(expected);
  });
  it('httpGet, tcpSocket, grpc and no probe are warnings', () => {
    for (const probe of [{ httpGet: { port: 80 } }, { tcpSocket: { port: 80 } }, { grpc: { port: 80 } }, undefined]) {
      const found = runRules(worker({ readinessProbe: probe }), ctx('checkpoint'));
      expect(found.map((f) => [f.rule, f.severity])).toEqual([['SNAP016', 'warning']]);
    }
  });
  it('a probe reading another file than DYN_READY_FOR_CHECKPOINT_FILE names both', () => {
    const found = runRules(worker({ env: [{ name: 'DYN_READY_FOR_CHECKPOINT_FILE', value: '/tmp/warm' }] }), ctx('checkpoint'));
    expect(found[0]?.message).toMatch(/does not read \/tmp\/warm, the file DYN_READY_FOR_CHECKPOINT_FILE names/);
  });
  it('does not apply to placeholders', () => {
    expect(ids(worker({ readinessProbe: undefined }), ctx('restore'))).not.toContain('SNAP016');
  });
});

describe('SNAP017 GPU placement', () => {
  const gpu = { resources: { requests: { 'nvidia.com/gpu': '1' } } };
  it.each([
    [{}, ['SNAP017']],
    [{ nodeSelector: { 'nvidia.com/gpu.present': 'true' } }, []],
    [{ affinity: { nodeAffinity: {} } }, []],
    [{ tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }] }, []],
    [{ tolerations: [{ operator: 'Exists' }] }, []],
    [{ tolerations: [{ key: 'other', operator: 'Exists' }] }, ['SNAP017']],
  ])('spec %j -> %j', (spec, expected) => {
    expect(ids(worker(gpu, spec))).toEqual(expected);
  });
  it('a zero GPU request is no GPU', () => {
    expect(ids(worker({ resources: { limits: { 'nvidia.com/gpu': 0 } } }))).toEqual([]);
  });
});

describe('SNAP012-SNAP015 metadata', () => {
  it.each([
    [{ labels: { 'nvidia.com/snapshot-is-restore-target': 'true' } }, ['SNAP012']],
    [{ annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled', 'nvidia.com/snapshot-checkpoint-status': 'completed' } }, ['SNAP012']],
    [{ labels: { 'nvidia.com/snapshot-checkpoint-id': 'x' } }, ['SNAP013']],
    [{ labels: { 'nvidia.com/snapshot-foo': 'x' } }, ['SNAP013']],
    [{ labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'linkerd.io/inject': 'disabled' } }, ['SNAP014']],
    [{ annotations: { 'sidecar.istio.io/inject': 'false' } }, ['SNAP015']],
    [{ annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'enabled' } }, ['SNAP014']],
  ])('%j -> %j', (meta, expected) => {
    expect(ids(worker({}, {}, meta))).toEqual(expected);
  });
  it('SNAP013 says when the label differs from --checkpoint-id', () => {
    const [f] = runRules(worker({}, {}, { labels: { 'nvidia.com/snapshot-checkpoint-id': 'old' } }), ctx('checkpoint', { checkpointId: 'new' }));
    expect(f?.path).toBe('metadata.labels["nvidia.com/snapshot-checkpoint-id"]');
    expect(f?.message).toMatch(/\("new" here\)/);
  });
});

describe('SNAP018/SNAP019 and purposes', () => {
  it('restartPolicy Always is a warning worded per purpose', () => {
    for (const purpose of ['checkpoint', 'restore-manifest', 'restore'] as const) {
      const found = runRules(worker({ command: ['sleep', 'infinity'] }, { restartPolicy: 'OnFailure' }), ctx(purpose)).filter((f) => f.rule === 'SNAP018');
      expect(found).toHaveLength(1);
      expect(found[0]?.severity).toBe('warning');
    }
  });
  it('only volumes the worker mounts count', () => {
    const spec = { volumes: [{ name: 'a', emptyDir: {} }, { name: 'b', hostPath: { path: '/x' } }, { name: 'c', configMap: { name: 'c' } }] };
    const found = runRules(worker({ volumeMounts: [{ name: 'b', mountPath: '/b' }, { name: 'c', mountPath: '/c' }] }, spec), ctx('checkpoint'));
    expect(found.map((f) => [f.rule, f.path])).toEqual([['SNAP019', 'spec.volumes[1]']]);
  });
  it('SNAP005 is checkpoint-only and off without wrapping', () => {
    const obj = worker({ command: undefined });
    expect(ids(obj)).toEqual(['SNAP005']);
    expect(ids(obj, ctx('checkpoint', { requireCommand: false }))).toEqual([]);
    expect(ids(obj, ctx('restore-manifest'))).toEqual([]);
  });
  it('restore-manifest skips the §6 preconditions that snapshotctl adds itself', () => {
    expect(ids(worker(), ctx('restore-manifest'))).toEqual([]);
    expect(ids(worker(), ctx('restore'))).toEqual(['SNAP020', 'SNAP020', 'SNAP020', 'SNAP021']);
  });
});
