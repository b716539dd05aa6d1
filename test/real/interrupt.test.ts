/**
 * Signals during a checkpoint wait on a real cluster: Ctrl-C (SIGINT) cleans up what the
 * run created and exits 130, with the real Job controller's pod gone too; a run killed
 * outright (SIGKILL, a lost CI runner) leaves its Job, which the next run names and
 * `--resume` waits on to the agent's verdict without creating or deleting anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, cli, getJson, installNamespace, kubectl, kv, names, removeNamespace, waitFor, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `rt-interrupt-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-interrupt-'));

beforeAll(async () => {
  await installNamespace(NS);
}, 180_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const common = ['-n', NS, '--disable-cuda-checkpoint-job-file'];

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run);

/** True once the Job's pod is Running on the real node (throttled: kubectl per call). */
function jobPodRunning(job: string): () => Promise<boolean> {
  let next = 0;
  return async () => {
    if (Date.now() < next) return false;
    next = Date.now() + 300;
    const r = await kubectl(['get', 'pods', '-n', NS, '-l', `job-name=${job}`, '-o', 'jsonpath={.items[*].status.phase}']);
    return r.stdout.split(' ').includes('Running');
  };
}

/** The Job's pods and the Job itself are gone from the real server. */
async function jobAndPodsGone(job: string): Promise<boolean> {
  return !(await names(NS, 'jobs')).includes(job) && !(await names(NS, 'pods')).some((n) => n.startsWith(`${job}-`));
}

describe('interrupting and resuming a checkpoint on a real cluster', () => {
  it('SIGINT while the agent waits for a worker that never gets Ready: exit 130, the Job and its pod deleted from the real server', async () => {
    const worker = await writeWorker(dir, 'w-int', (pod) => {
      pod['spec'].containers[0].command = ['sh', '-c', 'while :; do sleep 1; done'];
    });
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'int-1', ...common, '--timeout', '5m'], {
      timeoutMs: 120_000,
      signalAfter: { signal: 'SIGINT', when: jobPodRunning('w-int-checkpoint') },
    });
    expect(run.code, await explain(run)).toBe(130);
    expect(run.signal).toBeNull();
    expect(run.stdout).not.toMatch(/^status=completed/m);
    expect(run.stderr).toMatch(/received SIGINT/);
    expect(run.stderr).toContain('job.batch/w-int-checkpoint');
    // The CLI waited for the foreground deletion: gone the moment it exited.
    expect(await jobAndPodsGone('w-int-checkpoint')).toBe(true);
  }, 180_000);

  it('a second SIGINT, sent once the first is acknowledged, exits at once saying cleanup was not finished and naming the Job', async () => {
    const worker = await writeWorker(dir, 'w-int2', (pod) => {
      pod['spec'].containers[0].command = ['sh', '-c', 'while :; do sleep 1; done'];
    });
    const running = jobPodRunning('w-int2-checkpoint');
    const run = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'int-2', ...common, '--timeout', '5m'], {
      timeoutMs: 120_000,
      onSpawn: (child) => {
        let seen = '';
        // Signals do not queue: the second goes only after the CLI said it got the first.
        child.stderr?.on('data', (t: Buffer | string) => {
          const before = seen;
          seen += t.toString();
          if (!/received SIGINT:/.test(before) && /received SIGINT:/.test(seen)) child.kill('SIGINT');
        });
        void waitFor('the Job pod Running', running, 90_000, 50).then(() => child.kill('SIGINT'), () => child.kill('SIGKILL'));
      },
    });
    expect(run.code, await explain(run)).toBe(130);
    expect(run.stderr).toMatch(/received SIGINT again: exiting without finishing cleanup/);
    expect(run.stderr.slice(run.stderr.indexOf('again:'))).toContain('w-int2-checkpoint');
    await kubectl(['delete', 'job', 'w-int2-checkpoint', '-n', NS, '--cascade=foreground', '--wait=true', '--ignore-not-found']);
  }, 180_000);

  it('SIGKILL mid-wait leaves the Job; the next run names it; --resume interrupted keeps it; --resume waits to the verdict', async () => {
    // Ready after 20 s: long enough to kill the first run and start the resumed one before the agent acts.
    const worker = await writeWorker(dir, 'w-res', (pod) => {
      pod['spec'].containers[0].command = ['sh', '-c', 'trap "echo got SIGUSR1; exit 0" USR1; sleep 20; : > /tmp/ready-for-checkpoint; while :; do sleep 1; done'];
    });
    const killed = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'res-1', ...common, '--timeout', '5m'], {
      timeoutMs: 120_000,
      signalAfter: { signal: 'SIGKILL', when: jobPodRunning('w-res-checkpoint') },
    });
    expect(killed.signal).toBe('SIGKILL');
    const left = await getJson(NS, 'job', 'w-res-checkpoint');
    expect(left?.['metadata'].labels).toEqual({ 'nvidia.com/snapshot-checkpoint-id': 'res-1' });
    expect(left?.['metadata'].annotations?.['nvidia.com/snapshot-checkpoint-status']).toBeUndefined();

    // The same command again: exit 3, naming the Job and both ways on.
    const again = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'res-1', ...common]);
    expect(again.code, await explain(again)).toBe(3);
    expect(again.stderr).toMatch(/job\.batch "w-res-checkpoint" already exists in namespace "rt-interrupt-\d+" \(checkpoint ID "res-1", still waiting for a verdict, created \d+s ago\)/);
    expect(again.stderr).toContain('--resume');
    expect(again.stderr).toContain(`kubectl delete job w-res-checkpoint -n ${NS} --cascade=foreground`);

    // Ctrl-C during --resume: the Job was not created by that run, so it stays.
    const interrupted = await cli(['checkpoint', '--manifest', worker, ...common, '--resume', '--timeout', '5m'], {
      timeoutMs: 60_000,
      signalAfter: { signal: 'SIGINT', when: (() => { const t = Date.now() + 2000; return () => Date.now() > t; })() },
    });
    expect(interrupted.code, await explain(interrupted)).toBe(130);
    expect((await getJson(NS, 'job', 'w-res-checkpoint'))?.['metadata'].uid).toBe(left?.['metadata'].uid);

    expect((await getJson(NS, 'job', 'w-res-checkpoint'))?.['metadata'].annotations?.['nvidia.com/snapshot-checkpoint-status'], 'the verdict came before --resume started: make the worker slower').toBeUndefined();
    const resumed = await cli(['checkpoint', '--manifest', worker, ...common, '--resume', '--timeout', '90s'], { timeoutMs: 120_000 });
    expect(resumed.code, await explain(resumed)).toBe(0);
    expect(kv(resumed.stdout)).toMatchObject({ status: 'completed', checkpoint_job: 'w-res-checkpoint', checkpoint_id: 'res-1', checkpoint_location: '/checkpoints/res-1/versions/1' });
    expect(resumed.stderr).toMatch(/resuming the wait on job\.batch\/w-res-checkpoint \(checkpoint ID "res-1"\)/);
    const done = await getJson(NS, 'job', 'w-res-checkpoint');
    expect(done?.['metadata'].uid).toBe(left?.['metadata'].uid);
    expect(done?.['metadata'].annotations['nvidia.com/snapshot-checkpoint-status']).toBe('completed');
    await waitFor('the worker to log its SIGUSR1', async () => /got SIGUSR1/.test((await kubectl(['logs', '-n', NS, '-l', 'job-name=w-res-checkpoint'])).stdout), 30_000, 500);
  }, 240_000);

  it('--resume with no Job left: exit 3 saying there is nothing to resume', async () => {
    const worker = await writeWorker(dir, 'w-none');
    const run = await cli(['checkpoint', '--manifest', worker, ...common, '--resume']);
    expect(run.code, await explain(run)).toBe(3);
    expect(run.stderr).toContain(`no job.batch "w-none-checkpoint" in namespace "${NS}" to resume`);
  }, 60_000);
});
