import { describe, expect, it } from 'vitest';
import { loadSchemaValidator, pointerToPath } from './schema.js';

describe('pointerToPath', () => {
  const obj = { spec: { containers: [{ resources: { limits: { 'nvidia.com/gpu': 'x' } } }] }, metadata: { labels: { '0': 1 } } };
  it.each([
    ['/spec/containers/0/resources/limits/nvidia.com~1gpu', 'spec.containers[0].resources.limits["nvidia.com/gpu"]'],
    ['/metadata/labels/0', 'metadata.labels["0"]'],
    ['', ''],
  ])('%s', (pointer, path) => {
    expect(pointerToPath(obj, pointer)).toBe(path);
  });
});

describe('the kubernetes-models Pod schema', () => {
  it('accepts a valid pod and reports each bad field once, with the fix', async () => {
    const check = await loadSchemaValidator();
    expect(check({ metadata: { name: 'a' }, spec: { containers: [{ name: 'a', image: 'b', resources: { limits: { cpu: 1, 'nvidia.com/gpu': '1' } } }] } })).toEqual([]);
    const hits = check({ metadata: { name: 'a' }, spec: { restartPolicy: 'Sometimes', containers: [{ image: 'b', resources: { limits: { memory: 'lots' } } }] } });
    expect(hits.map((h) => h.path).sort()).toEqual(['spec.containers[0].name', 'spec.containers[0].resources.limits.memory', 'spec.restartPolicy']);
    expect(hits.find((h) => h.path === 'spec.restartPolicy')?.message).toBe('spec.restartPolicy must be one of "Always", "Never", "OnFailure" (Kubernetes Pod schema); fix the field as `kubectl explain pod.spec.restartPolicy` describes');
    expect(hits.find((h) => h.path.endsWith('memory'))?.message).toMatch(/^spec\.containers\[0\]\.resources\.limits\.memory must be a quantity such as 1, 500m or 16Gi \(Kubernetes/);
  });
});
