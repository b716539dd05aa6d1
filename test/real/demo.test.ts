/**
 * `snapshotctl demo --cluster real`, the README's demo on the real node: run as a user
 * runs it (the built binary, no kubeconfig given) against the lane's running cluster,
 * it must build and import the images, install our agent, and prove both restores
 * through the restored processes (the checksum before the checkpoint, warm-ups 1),
 * then leave no namespace, PersistentVolume or storage of its own behind, and leave
 * the cluster it did not start running.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../e2e/harness.js';
import { CHECKPOINTS_DIR, kubectlOk } from './harness.js';

describe('snapshotctl demo --cluster real', () => {
  it('checkpoints the CPU worker in a real container, proves both restores by kubectl exec, removes what it made', async () => {
    const r = await runCli(['demo', '--cluster', 'real'], { kubeconfig: false, timeoutMs: 540_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/a real cluster is already running .*: using it, and leaving it running/);
    expect(r.stdout).toMatch(/node 127\.0\.0\.1 kubelet v1\.20\.2 on containerd:\/\//);
    const before = /the worker before the checkpoint \(its log, pod cpu-worker-checkpoint-\w+\): checksum ([0-9a-f]{16})\.\.\., instance ([0-9a-f]+), warm-ups 1/.exec(r.stdout);
    expect(before, r.stdout).toBeTruthy();
    const proofs = [...r.stdout.matchAll(/restored worker: checksum ([0-9a-f]{16})\.\.\. over its 256 MiB, recomputed now; instance ([0-9a-f]+); warm-ups run: (\d+)/g)];
    expect(proofs).toHaveLength(2);
    for (const p of proofs) expect([p[1], p[2], p[3]]).toEqual([before?.[1], before?.[2], '1']);
    expect(r.stdout.match(/ok in [\d.]+s, criu engine in our agent on the real node/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/placeholder Ready by its own probe: yes/);
    const ns = /removed namespace (snapshotctl-demo-[\w-]+), its PersistentVolume and its checkpoint storage/.exec(r.stdout)?.[1];
    expect(ns, r.stdout).toBeTruthy();
    // Nothing of the demo's is left; the cluster it found running still runs.
    expect(await kubectlOk(['get', 'namespaces', '-o', 'name'])).not.toMatch(/snapshotctl-demo-/);
    expect(await kubectlOk(['get', 'pv', '-l', 'app.kubernetes.io/part-of=snapshotctl-demo', '-o', 'name'])).toBe('');
    expect(existsSync(`${CHECKPOINTS_DIR}/${ns}`)).toBe(false);
    expect(readdirSync(CHECKPOINTS_DIR).filter((d) => d.startsWith('snapshotctl-demo-'))).toEqual([]);
    expect(await kubectlOk(['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'])).toBe('True');
  }, 600_000);
});
