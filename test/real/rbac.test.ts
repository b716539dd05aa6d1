/**
 * `preflight` and `checkpoint` through a ServiceAccount token on a real API server whose
 * RBAC authorizer judges every request: one account holds exactly the Role and
 * RoleBinding of manifests/rbac-cli.yaml (applied as shipped), another a Role short of
 * some verbs. The cluster-scoped part of rbac-cli.yaml (SelfSubjectAccessReviews) is
 * left out on purpose: every authenticated user may create SelfSubjectAccessReviews
 * (system:basic-user), so the namespaced Role alone must be enough.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, apply, cli, getJson, installNamespace, kubectl, kubectlOk, kv, manifestDocs, names, removeNamespace, writeServiceAccountKubeconfig, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `rt-rbac-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-rbac-'));
let worker = '';
/** Kubeconfig of ServiceAccount `snapshotctl`: rbac-cli.yaml's Role, nothing else. */
let granted = '';
/** Kubeconfig of ServiceAccount `rt-short`: that Role without jobs create/delete and pods patch. */
let short = '';

beforeAll(async () => {
  await installNamespace(NS);
  worker = await writeWorker(dir, 'w-rbac');
  const rbac = await manifestDocs('rbac-cli.yaml');
  const role = rbac.find((o) => o['kind'] === 'Role');
  const binding = rbac.find((o) => o['kind'] === 'RoleBinding');
  expect(role?.['metadata'].name).toBe('snapshotctl');
  expect(binding?.['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'snapshotctl' }]);
  const shortRules = (role!['rules'] as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>).map((r) => {
    if (r.resources.includes('jobs')) return { ...r, verbs: r.verbs.filter((v) => v !== 'create' && v !== 'delete') };
    if (r.resources.includes('pods')) return { ...r, verbs: r.verbs.filter((v) => v !== 'patch') };
    return r;
  });
  await apply(NS, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'snapshotctl' } },
    role!,
    binding!,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rt-short' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'rt-short' }, rules: shortRules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rt-short' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rt-short' },
      subjects: [{ kind: 'ServiceAccount', name: 'rt-short' }],
    },
  ]);
  granted = join(dir, 'granted.kubeconfig');
  short = join(dir, 'short.kubeconfig');
  await writeServiceAccountKubeconfig(NS, 'snapshotctl', granted);
  await writeServiceAccountKubeconfig(NS, 'rt-short', short);
}, 180_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run);

describe('RBAC through a ServiceAccount token on a real server', () => {
  it('the tokens are who we think: the real authorizer lets the rbac-cli.yaml account create Jobs and refuses Secrets', async () => {
    expect((await kubectlOk(['auth', 'can-i', 'create', 'jobs.batch', '-n', NS], { kubeconfig: granted })).trim()).toBe('yes');
    // `can-i` answers "no" on stdout and exits 1.
    const secrets = await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', NS], { kubeconfig: granted });
    expect({ code: secrets.code, answer: secrets.stdout.trim() }).toEqual({ code: 1, answer: 'no' });
  });

  it('preflight with rbac-cli.yaml\'s Role: exit 0, every permission allowed', async () => {
    const run = await cli(['preflight', '--manifest', worker, '-n', NS, '--disable-cuda-checkpoint-job-file', '--skip-probe', '--skip-image-check'], { kubeconfig: granted });
    expect(run.code, await explain(run)).toBe(0);
    const out = kv(run.stdout);
    expect(out).toMatchObject({ status: 'passed', namespace: NS, pvc: 'snapshot-pvc', base_path: '/checkpoints', check_rbac: 'pass', check_storage: 'pass', check_pvc: 'pass', check_agent: 'pass' });
    expect(out['denied']).toBeUndefined();
  }, 120_000);

  it('preflight with the probe: the token creates, reads and deletes the probe pod; the busybox image lacks the tools (exit 1) and no probe pod is left', async () => {
    const run = await cli(['preflight', '--manifest', worker, '-n', NS, '--disable-cuda-checkpoint-job-file', '--skip-image-check', '--timeout', '90s'], { kubeconfig: granted, timeoutMs: 150_000 });
    expect(run.code, await explain(run)).toBe(1);
    const out = kv(run.stdout);
    expect(out).toMatchObject({ status: 'failed', check_rbac: 'pass', check_seccomp: 'pass', check_image: 'fail' });
    expect(out['missing_tools']?.split(',').sort()).toEqual(['criu', 'cuda-checkpoint', 'nsrestore']);
    expect((await names(NS, 'pods')).filter((n) => n.startsWith('snapshotctl-preflight-'))).toEqual([]);
  }, 180_000);

  it('checkpoint with rbac-cli.yaml\'s Role: exit 0, and the real Job carries the agent\'s verdict', async () => {
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'rbac-1', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s'], { kubeconfig: granted, timeoutMs: 150_000 });
    expect(run.code, await explain(run)).toBe(0);
    expect(kv(run.stdout)).toMatchObject({ status: 'completed', checkpoint_job: 'w-rbac-checkpoint', checkpoint_id: 'rbac-1' });
    const job = await getJson(NS, 'job', 'w-rbac-checkpoint');
    expect(job?.['metadata'].annotations['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
  }, 180_000);

  it('preflight with a Role short of verbs: exit 1 naming each denied verb and the Role to apply', async () => {
    const run = await cli(['preflight', '--manifest', worker, '-n', NS, '--disable-cuda-checkpoint-job-file', '--skip-probe', '--skip-image-check'], { kubeconfig: short });
    expect(run.code, await explain(run)).toBe(1);
    const out = kv(run.stdout);
    expect(out).toMatchObject({ status: 'failed', check_rbac: 'fail', check_storage: 'pass', check_pvc: 'pass', check_agent: 'pass' });
    expect(out['denied']?.split(',').sort()).toEqual(['create:jobs.batch', 'delete:jobs.batch', 'patch:pods']);
    expect(run.stderr).toMatch(/denied: patch pods, create jobs\.batch, delete jobs\.batch/);
    expect(run.stderr).toContain(`kubectl apply -f manifests/rbac-cli.yaml -n ${NS}`);
  }, 120_000);

  it('checkpoint with that Role: the real 403 becomes exit 3 naming the Job, and nothing is created', async () => {
    const other = await writeWorker(dir, 'w-short');
    const run = await cli(['checkpoint', '--manifest', other, '--checkpoint-id', 'rbac-2', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '30s'], { kubeconfig: short });
    expect(run.code, await explain(run)).toBe(3);
    expect(run.stderr).toMatch(/forbidden|not allowed/i);
    expect(run.stderr).toContain('w-short-checkpoint');
    expect(run.stderr).toContain(`system:serviceaccount:${NS}:rt-short`);
    expect(await names(NS, 'jobs')).not.toContain('w-short-checkpoint');
  }, 120_000);
});
