/**
 * The real cluster itself, as scripts/real-cluster.sh promises it: one Ready node on
 * containerd with kubelet v1.20.2, on which a pod runs and `kubectl logs` and
 * `kubectl exec` work. (That `down` leaves nothing behind is checked by
 * scripts/test-real.sh after it takes the cluster down.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk, TEST_IMAGE } from './harness.js';

const NS = `real-cluster-${process.pid}`;

beforeAll(async () => {
  await kubectlOk(['create', 'namespace', NS]);
}, 60_000);

afterAll(async () => {
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
}, 180_000);

describe('the real cluster', () => {
  it('has one Ready node running kubelet v1.20.2 on containerd', async () => {
    const nodes = JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as { items: Array<Record<string, any>> };
    expect(nodes.items).toHaveLength(1);
    const node = nodes.items[0] ?? {};
    expect(node['status'].conditions.find((c: any) => c.type === 'Ready')?.status).toBe('True');
    expect(node['status'].nodeInfo.kubeletVersion).toBe('v1.20.2');
    expect(node['status'].nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    const version = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe('v1.20.2');
  });

  it('runs a pod whose logs and exec work', async () => {
    await kubectlOk(['run', 'hello', '-n', NS, `--image=${TEST_IMAGE}`, '--image-pull-policy=Never', '--restart=Never', '--', 'sh', '-c', 'echo hello from a real pod; exec sleep 3600']);
    await kubectlOk(['wait', '-n', NS, 'pod/hello', '--for=condition=Ready', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(await kubectlOk(['logs', '-n', NS, 'hello'])).toContain('hello from a real pod');
    expect((await kubectlOk(['exec', '-n', NS, 'hello', '--', 'sh', '-c', 'echo $((6 * 7)); hostname'])).split('\n')).toEqual(['42', 'hello', '']);
  }, 120_000);
});
