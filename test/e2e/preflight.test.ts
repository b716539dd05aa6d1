/**
 * `snapshotctl preflight` through the built binary on the dev cluster: passes with
 * the sample placeholder worker; with the raw runtime image it reports the image
 * policy AND names each missing tool from the probe; a restricted user sees each
 * denied verb. The probe pod is gone afterwards every time.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kv, leftovers, runCli, useCluster, WORKER_MANIFEST, writeManifest } from './harness.js';

const RAW_IMAGE = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0';

/** The checklist lines (✓ ✗ ! -) of stderr, without progress lines. */
function checklist(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^[✓✗!-] /.test(l));
}

describe('preflight on the dev cluster', () => {
  const cluster = useCluster();

  it('passes with the sample placeholder worker; the probe ran on an agent node and is gone', async () => {
    const c = cluster();
    const r = await runCli(['preflight', '--manifest', WORKER_MANIFEST, '--timeout', '30s'], { cluster: c, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(checklist(r.stderr).map((l) => l.slice(0, 1))).toEqual(['✓', '✓', '✓', '✓', '✓', '✓', '✓']);
    expect(r.stderr).toContain('✓ PVC snapshot-pvc is Bound');
    expect(r.stderr).toContain('preflight passed\n');
    expect(r.stderr).not.toContain('Warning');
    const out = kv(r.stdout);
    expect(out['status']).toBe('passed');
    expect(out['pvc']).toBe('snapshot-pvc');
    expect(out['base_path']).toBe('/checkpoints');
    expect(out['agent_nodes']).toBe('node-1,node-2');
    expect(['node-1', 'node-2']).toContain(out['probe_node']);
    expect(out['missing_tools']).toBe('');
    expect(c.api.requestLog.count({ verb: 'create', resource: 'pods' })).toBe(1);
    expect(c.api.requestLog.count({ verb: 'delete', resource: 'pods' })).toBe(1);
    expect(leftovers(c)).toEqual([]);
  });

  it('the raw runtime image: the policy finding, and each missing tool named by the probe; exit 1', async () => {
    const c = cluster();
    const manifest = await writeManifest(c, 'raw.yaml', (p) => {
      (p['spec'] as { containers: Array<{ image: string }> }).containers[0]!.image = RAW_IMAGE;
    });
    const r = await runCli(['preflight', '--manifest', manifest, '--timeout', '30s'], { cluster: c, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/✗ manifest .*raw\.yaml is a usable worker Pod: 1 error\n {4}✗ SNAP02[23] spec\.containers\[0\]\.image/);
    expect(r.stderr).toContain('✗ image has criu, cuda-checkpoint, /usr/local/bin/nsrestore and sleep: missing: criu, cuda-checkpoint, /usr/local/bin/nsrestore');
    expect(r.stderr).toContain('    ✗ criu\n    ✗ cuda-checkpoint\n    ✗ cuda-checkpoint --launch-job\n    ✗ /usr/local/bin/nsrestore\n    ✓ sleep\n');
    expect(kv(r.stdout)['missing_tools']).toBe('criu,cuda-checkpoint,nsrestore');
    expect(leftovers(c)).toEqual([]);

    // --skip-image-check: the probe alone judges it; JSON for scripts.
    const j = await runCli(['preflight', '--manifest', manifest, '--skip-image-check', '-o', 'json', '--timeout', '30s'], { cluster: c, timeoutMs: 60_000 });
    expect(j.code, j.stderr).toBe(1);
    const doc = JSON.parse(j.stdout) as { status: string; image: string; probe: { tools: Record<string, boolean> }; checks: Array<{ id: string; status: string }> };
    expect(doc.status).toBe('failed');
    expect(doc.image).toBe(RAW_IMAGE);
    expect(doc.probe.tools).toEqual({ criu: false, 'cuda-checkpoint': false, 'launch-job': false, nsrestore: false, sleep: true });
    expect(doc.checks.filter((x) => x.status !== 'pass').map((x) => `${x.id}:${x.status}`)).toEqual(['image:fail']);
    expect(leftovers(c)).toEqual([]);
  });

  it('a user without create on jobs and patch on pods: both named, with the Role to apply; exit 1', async () => {
    const c = cluster();
    const token = c.api.addToken('ci', [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'delete'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['events', 'persistentvolumeclaims'], verbs: ['get', 'list', 'watch'] },
    ]);
    const kubeconfig = join(c.dir, 'kubeconfig-ci');
    await c.api.writeKubeconfig(kubeconfig, { token, namespace: 'default' });
    const r = await runCli(['preflight', '--manifest', WORKER_MANIFEST, '--timeout', '30s'], { kubeconfig, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('✗ permissions for checkpoint and restore in namespace "default": denied: patch pods, create jobs.batch\n');
    expect(r.stderr).toContain('fix: grant them with the Role in manifests/rbac-cli.yaml');
    expect(kv(r.stdout)['check_image']).toBe('pass');
    expect(leftovers(c)).toEqual([]);
  });
});
