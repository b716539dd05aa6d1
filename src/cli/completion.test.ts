/** Shell completion: the scripts and the candidates of `__complete`. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeKubeClient } from '../kube/testing/fake-client.js';
import { RESOURCES } from '../kube/types.js';
import { runCli, seedCheckpoint, seedRestore } from './testing/run-cli.js';

const ROOT = join(import.meta.dirname, '../..');

function cluster(): FakeKubeClient {
  const c = new FakeKubeClient('default');
  seedCheckpoint(c, 'llama-v1', { pod: 'w1', verdict: 'completed', minutesAgo: 5 });
  seedCheckpoint(c, 'llama-v2', { pod: 'w2', verdict: 'completed', minutesAgo: 4 });
  seedCheckpoint(c, 'other', { ns: 'ml', pod: 'w3', verdict: 'completed', minutesAgo: 4 });
  seedRestore(c, 'llama-v1', 'placeholder-1', { status: 'completed', minutesAgo: 1 });
  return c;
}

const complete = async (words: string[], client = cluster()) => (await runCli(['__complete', '--', ...words], { client })).stdout;

describe('completion', () => {
  it.each(['bash', 'zsh', 'fish'])('%s: a script that calls __complete', async (shell) => {
    const r = await runCli(['completion', shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('snapshotctl __complete --');
  });

  it('an unknown shell: exit 2', async () => {
    expect((await runCli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('subcommands, flags and fixed flag values', async () => {
    expect(await complete(['l'])).toBe('list\n');
    expect((await complete(['']))).toContain('describe\n');
    expect(await complete(['list', '--all-'])).toBe('--all-namespaces\n');
    expect(await complete(['list', '-o', ''])).toBe('table\nwide\njson\nyaml\nname\n');
    expect(await complete(['hash', '--backend-framework', 's'])).toBe('sglang\n');
    expect(await complete(['completion', ''])).toBe('bash\nzsh\nfish\n');
  });

  it('checkpoint IDs from the cluster for describe, delete and --checkpoint-id, scoped by -n', async () => {
    expect(await complete(['describe', 'llama'])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['delete', 'llama-v1', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['restore', '--checkpoint-id', ''])).toBe('llama-v1\nllama-v2\n');
    expect(await complete(['describe', '-n', 'ml', ''])).toBe('other\n');
  });

  it('pod names for restore --pod', async () => {
    expect(await complete(['restore', '--pod', 'place'])).toBe('placeholder-1\n');
  });

  it('restore --pod offers only pods it could restore into: running, not ours, not being restored', async () => {
    const c = cluster(); // also holds checkpoint Job pods (w1/w2-checkpoint-abcde, finished)
    const pod = (name: string, meta: Record<string, unknown> = {}, phase = 'Running') =>
      c.seed(RESOURCES.pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...meta }, spec: { containers: [{ name: 'main' }] }, status: { phase } });
    const owner = (kind: string) => ({ ownerReferences: [{ apiVersion: 'apps/v1', kind, name: 'x', uid: 'u', controller: true }] });
    pod('placeholder-2');
    pod('agent-by-label', { labels: { 'app.kubernetes.io/component': 'snapshot-agent' } }, 'Running');
    pod('agent-by-owner', owner('DaemonSet'));
    pod('seccomp-installer-abc', { labels: { 'app.kubernetes.io/component': 'seccomp-installer' }, ...owner('DaemonSet') });
    pod('running-checkpoint-pod', { labels: { 'batch.kubernetes.io/job-name': 'w9-checkpoint', 'nvidia.com/snapshot-is-checkpoint-source': 'true' } });
    pod('legacy-job-pod', { labels: { 'job-name': 'other' }, ...owner('Job') });
    pod('snapshotctl-read-abc', { labels: { 'app.kubernetes.io/managed-by': 'snapshotctl', 'app.kubernetes.io/component': 'snapshot-helper' } });
    pod('being-restored', { labels: { 'nvidia.com/snapshot-is-restore-target': 'true' }, annotations: { 'nvidia.com/snapshot-restore-status': 'in_progress' } });
    pod('pending-placeholder', {}, 'Pending');
    pod('deleting-placeholder', { deletionTimestamp: new Date(0).toISOString() });
    expect(await complete(['restore', '--pod', ''], c)).toBe('placeholder-1\nplaceholder-2\n');
  });

  it('--cobra (kubectl_complete-snapshot): candidates, then :4; none: :0 so the shell completes files', async () => {
    const cobra = async (words: string[]) => (await runCli(['__complete', '--cobra', '--', ...words], { client: cluster() })).stdout;
    expect(await cobra(['l'])).toBe('list\n:4\n');
    expect(await cobra(['restore', '--pod', ''])).toBe('placeholder-1\n:4\n');
    expect(await cobra(['validate', ''])).toBe(':0\n');
  });

  it('bin/kubectl_complete-snapshot.js prints cobra format for the words kubectl passes', () => {
    // kubectl runs it with the words after `kubectl snapshot`; the last is being completed.
    const run = (...words: string[]) =>
      execFileSync(process.execPath, [join(ROOT, 'bin/kubectl_complete-snapshot.js'), ...words], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', KUBECONFIG: join(ROOT, 'no-such-kubeconfig') } });
    expect(run('des')).toBe('describe\n:4\n');
    expect(run('list', '-o', 'ya')).toBe('yaml\n:4\n');
    expect(run('restore', '--pod', '')).toBe(':0\n'); // no cluster: nothing, files
  });

  it('no cluster: no candidates and exit 0 (the shell falls back to files)', async () => {
    const r = await runCli(['__complete', '--', 'describe', '']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });
});
