/**
 * The agent's trust boundary on a real node (issue 13): our agent runs privileged in a
 * DaemonSet with hostPID, so what any pod or the checkpoint storage claims must not
 * move it. Checked against the real API server, kubelet and containerd:
 *  - a forged checkpoint pod (the labels of a victim's Job, not owned by it) is refused
 *    with an event, and the victim's Job is never touched;
 *  - a checkpoint directory that is a symbolic link (here to the host's own filesystem
 *    through /proc/<pid>/root, which the agent can reach) is refused for checkpoint and
 *    restore, and nothing outside the base path is read or written;
 *  - the agent's pod deleted while a checkpoint is in flight leaves no artifact that a
 *    restore would use, and the CLI exits 1 with the reason. To land the deletion
 *    inside the dump every time, the agent's process is held stopped (SIGSTOP from the
 *    host) from the moment its staging directory appears; the deletion and the kill
 *    that follows are the kubelet's own.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLog, apply, CHECKPOINTS_DIR, cli, CONTAINERD_SOCK, getJson, installNamespace, kubectl, kubectlOk, removeNamespace, sampleManifest, waitFor, workerPod, writeWorker } from './harness.js';
import { explainRun } from './harness.js';

const NS = `trust-real-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'snapshotctl-real-trust-'));
/** Outside the base path, on the host: what the agent must leave as it was. */
const sentinel = mkdtempSync('/var/tmp/snapshotctl-real-sentinel-');
const storage = join(CHECKPOINTS_DIR, NS);

beforeAll(async () => {
  await installNamespace(NS, { agentArgs: ['--engine=criu'] });
}, 300_000);

afterAll(async () => {
  await removeNamespace(NS);
  rmSync(dir, { recursive: true, force: true });
  rmSync(sentinel, { recursive: true, force: true });
}, 180_000);

const explain = (run: { code: number | null; stdout: string; stderr: string }): Promise<string> => explainRun(NS, run, eventLines);

async function eventLines(name?: string): Promise<string> {
  const args = ['get', 'events', '-n', NS, ...(name ? ['--field-selector', `involvedObject.name=${name}`] : []), '-o', 'jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\\n"}{end}'];
  return (await kubectl(args)).stdout;
}

/** Every entry under `d` with its mode, size, mtime and content hash (or link target). */
function tree(d: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    const st = lstatSync(p);
    const what = st.isSymbolicLink() ? `link ${readlinkSync(p)}` : st.isDirectory() ? 'dir' : `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    out.push(`${rel}${name} ${(st.mode & 0o7777).toString(8)} ${st.size} ${st.mtimeMs} ${what}`);
    if (st.isDirectory()) out.push(...tree(p, `${rel}${name}/`));
  }
  return out;
}

async function agentPod(): Promise<string> {
  return (await kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=snapshot-agent', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
}

describe('the agent\'s trust boundary on a real node', () => {
  it('a forged checkpoint pod (the victim Job\'s labels, not owned by it) is refused with an event; the Job is never touched', async () => {
    // The victim's own pod never gets Ready, so only the impostor could finish its Job.
    const victim = await writeWorker(dir, 'victim', (pod) => {
      pod['spec'].containers[0].command = ['sh', '-c', 'trap "exit 0" USR1; while :; do sleep 1; done'];
    });
    const run = cli(['checkpoint', '--manifest', victim, '--checkpoint-id', 'victim-ck', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '25s'], { timeoutMs: 60_000 });
    await waitFor('the victim Job', async () => (await getJson(NS, 'job', 'victim-checkpoint')) !== undefined, 30_000, 250);
    // A bare pod, Ready, with every label the agent looks at: the victim's ID and Job.
    const impostor = workerPod('impostor');
    impostor['metadata'].labels = {
      'nvidia.com/snapshot-is-checkpoint-source': 'true',
      'nvidia.com/snapshot-checkpoint-id': 'victim-ck',
      'batch.kubernetes.io/job-name': 'victim-checkpoint',
      'job-name': 'victim-checkpoint',
    };
    await apply(NS, [impostor]);
    await waitFor('the refusal event on the impostor', async () => /CheckpointRefused/.test(await eventLines('impostor')), 60_000, 500);
    expect(await eventLines('impostor')).toMatch(/^Warning CheckpointRefused: .*no controller ownerReference/m);
    const done = await run;
    // The victim's wait runs out (exit 4) and the CLI removes its Job.
    expect(done.code, await explain(done)).toBe(4);
    expect(await eventLines('victim-checkpoint')).not.toMatch(/Checkpoint(Requested|Succeeded|Failed)/);
    expect(existsSync(join(storage, 'victim-ck'))).toBe(false);
    expect((await getJson(NS, 'pod', 'impostor'))?.['status'].phase).toBe('Running');
    expect((await kubectl(['logs', '-n', NS, 'impostor'])).stdout).not.toMatch(/SIGUSR1/);
    await kubectl(['delete', 'pod', 'impostor', '-n', NS, '--wait=true']);
  }, 120_000);

  it('a checkpoint directory linked out of the base path (to the host, through /proc/<pid>/root) is refused for checkpoint and restore; the outside is untouched', async () => {
    chmodSync(sentinel, 0o755);
    mkdirSync(join(sentinel, 'versions', '1'), { recursive: true });
    writeFileSync(join(sentinel, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o600 });
    writeFileSync(join(sentinel, 'versions', '1', 'manifest.yaml'), `checkpointId: linked\nnamespace: ${NS}\n`);
    writeFileSync(join(sentinel, 'versions', '1', 'precious.db'), 'do not delete me\n');
    const before = tree(sentinel);
    const link = join(storage, 'linked');
    symlinkSync(`/proc/${process.pid}/root${sentinel}`, link);
    // The link is a real way out for the agent (hostPID): through this test's own
    // process it reaches the host's root. (PID 1 holds a capability this machine's root
    // lacks, so /proc/1/root is closed here.)
    expect(await kubectlOk(['exec', '-n', NS, await agentPod(), '--', 'cat', `/checkpoints/linked/versions/1/precious.db`])).toBe('do not delete me\n');

    const worker = await writeWorker(dir, 'linked-w');
    const ck = await cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'linked', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '90s']);
    expect(ck.code, await explain(ck)).toBe(1);
    expect(await eventLines('linked-w-checkpoint')).toMatch(/CheckpointFailed: checkpoint linked failed: refused: \/checkpoints\/linked is a symbolic link/);

    // --no-verify: the agent's own refusal is under test, not the CLI's look first.
    const rs = await cli(['restore', '--manifest', worker, '--checkpoint-id', 'linked', '-n', NS, '--no-verify', '--timeout', '60s']);
    expect(rs.code, await explain(rs)).toBe(1);
    expect(await eventLines('linked-w')).toMatch(/RestoreFailed: .*\/checkpoints\/linked is a symbolic link/);
    const text = ck.stdout + ck.stderr + rs.stdout + rs.stderr + (await eventLines()) + (await agentLog(NS));
    expect(text).not.toContain('root:x:0:0');
    expect(text).not.toContain('do not delete me');

    expect(tree(sentinel)).toEqual(before);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    await kubectl(['delete', 'pod', 'linked-w', '-n', NS, '--wait=true']);
  }, 240_000);

  it('the agent pod deleted while a checkpoint is in flight: no artifact a restore would use, nothing half-written left, the CLI exits 1 saying why', async () => {
    const worker = sampleManifest(dir, 'cpu-worker-real.yaml', 'mid');

    const oldAgent = await agentPod();
    const containerId = (await kubectlOk(['get', 'pod', oldAgent, '-n', NS, '-o', 'jsonpath={.status.containerStatuses[0].containerID}'])).trim().replace(/^containerd:\/\//, '');
    const tasks = execFileSync('ctr', ['--address', CONTAINERD_SOCK, '-n', 'k8s.io', 'task', 'ls'], { encoding: 'utf8' });
    const agentPid = Number(new RegExp(`^${containerId}\\s+(\\d+)`, 'm').exec(tasks)?.[1]);
    expect(agentPid, tasks).toBeGreaterThan(1);

    const versions = join(storage, 'mid', 'versions');
    let stopped = false;
    const run = cli(['checkpoint', '--manifest', worker, '--checkpoint-id', 'mid', '-n', NS, '--disable-cuda-checkpoint-job-file', '--timeout', '150s'], { timeoutMs: 170_000 });
    try {
      await waitFor('the agent\'s staging directory', () => {
        if (!existsSync(versions) || !readdirSync(versions).some((n) => n.startsWith('.staging-'))) return false;
        process.kill(agentPid, 'SIGSTOP');
        stopped = true;
        return true;
      }, 120_000, 2);
      expect(readdirSync(versions)).not.toContain('1');
      await kubectlOk(['delete', 'pod', oldAgent, '-n', NS, '--grace-period=1', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
    } finally {
      if (stopped) {
        try {
          process.kill(agentPid, 'SIGCONT');
        } catch {
          // gone: the kubelet killed it
        }
      }
    }
    const done = await run;
    expect(done.code, await explain(done)).toBe(1);
    expect(done.stdout + done.stderr).toMatch(/interrupted: agent snapshot-agent-\S+ stopped in the middle of it/);
    expect(await eventLines('mid-checkpoint')).toMatch(/Warning CheckpointFailed: checkpoint mid failed: interrupted: .*its unfinished files were removed/);
    // Nothing on storage a restore could use, and nothing half-written left.
    expect(readdirSync(versions)).toEqual([]);
    // The new agent pod is the one that answered, and it is Ready.
    const newAgent = await agentPod();
    expect(newAgent).not.toBe(oldAgent);
    await kubectlOk(['wait', '-n', NS, `pod/${newAgent}`, '--for=condition=Ready', '--timeout=60s']);
  }, 240_000);
});
