/**
 * Real checkpoints end to end: the dev cluster with the `criu` engine and the process
 * runtime, driven by the built CLI. The CPU sample worker warms up (256 MiB of state),
 * is checkpointed by CRIU and exits; it is restored from the manifest and, after that
 * one is gone, in place into a placeholder. Each restored process must serve the same
 * checksum, recomputed over its memory, with the same per-process ID and without a
 * second warm-up, so a restore that loses state, or a cold start passed off as one,
 * fails here. Runs twice: with Debian trixie's CRIU, and with CRIU built with our
 * parallel page restore patch (scripts/criu-parallel-restore.patch), which must read the
 * worker's pages with the threads it is told to use and leave exactly the same memory.
 * Skipped, loudly, only where CRIU cannot run at all.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRIU_ROOT_ENV } from '../../src/agent/criu/locate.js';
import { isAlive } from '../../src/agent/criu/proc.js';
import type { CriuAvailability } from '../../src/agent/criu/testing.js';
import type { KubeObject } from '../../src/dev/api/index.js';
import { machineSetup } from '../../src/testing/machine.js';
import { closedPort, kvLines, ROOT, runCli, useCluster, waitFor, writeManifest } from './harness.js';

const READ_THREADS = 4;
const builds: Array<{ label: string; criu: CriuAvailability; env: Record<string, string> }> = [];
for (const build of ['debian', 'parallel'] as const) {
  const criu = machineSetup().criu[build]; // set up by the globalSetup (src/testing/machine.ts)
  const label = build === 'debian' ? "Debian's CRIU" : 'patched CRIU (parallel restore)';
  if (!criu.ok) console.warn(`\n!!! SKIPPING the real-CRIU end-to-end test with ${label}: ${criu.reason}\n`);
  const env: Record<string, string> = criu.ok && criu.root ? { [CRIU_ROOT_ENV]: criu.root } : {};
  if (build === 'parallel') env['SNAPSHOTCTL_CRIU_READ_THREADS'] = String(READ_THREADS);
  builds.push({ label, criu, env });
}

const CPU_WORKER = join(ROOT, 'manifests/samples/cpu-worker.yaml');
const CPU_PLACEHOLDER = join(ROOT, 'manifests/samples/cpu-placeholder.yaml');
const ID = 'cpu-e2e';

interface Answer {
  checksum?: string;
  warmupChecksum: string;
  warmups: number;
  instance: string;
  served: number;
  pid: number;
}

/** Ask the worker on 127.0.0.1:`port`; rejects when nothing listens. */
function ask(port: number, what: 'checksum' | 'info'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(port, '127.0.0.1', () => s.write(`${what}\n`));
    s.setEncoding('utf8').on('data', (t: string) => (text += t));
    s.on('end', () => {
      try {
        resolve(JSON.parse(text) as Answer);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    s.on('error', reject);
  });
}

const listening = (port: number) => ask(port, 'info').then(() => true, () => false);

describe.each(builds)('real CRIU end to end (criu engine, process runtime): $label', ({ label, criu, env }) => {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  // Every restored worker ends with its cluster (useCluster closes it after each test).
  const restoredPids: number[] = [];
  afterAll(async () => {
    await waitFor('the restored workers to end with their cluster', () => restoredPids.every((p) => !isAlive(p)), 5000).catch(() => undefined);
    expect(restoredPids.filter((p) => isAlive(p)), 'restored workers still running after the cluster closed').toEqual([]);
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const parallel = 'SNAPSHOTCTL_CRIU_READ_THREADS' in env;
  const engineLines: string[] = [];
  const cluster = useCluster({ engine: 'criu', runtime: 'process', nodes: 1, log: (line) => void (/criu: /.test(line) && engineLines.push(line)) });

  it.skipIf(!criu.ok)('checkpoint, the worker exits, restore from the manifest and in place: same memory, no second warm-up', { timeout: 120_000 }, async () => {
    const c = cluster();
    expect(c.engine).toMatchObject({ name: 'criu', simulated: false });
    const port = await closedPort();
    const manifest = await writeManifest(
      c,
      'cpu-worker.yaml',
      (pod) => {
        const container = pod.spec.containers[0];
        // The process runtime runs commands on this machine: the script of this checkout.
        container.command = container.command.map((a: string) => a.replace('/opt/snapshotctl/', `${ROOT}/`));
        container.env = container.env.map((e: { name: string; value: string }) => (e.name === 'CPU_WORKER_PORT' ? { ...e, value: String(port) } : e));
      },
      CPU_WORKER,
    );

    // Checkpoint: the agent dumps the Ready worker, then SIGUSR1 makes it exit 0.
    const ck = await runCli(['checkpoint', '--manifest', manifest, '--checkpoint-id', ID, '--disable-cuda-checkpoint-job-file', '--timeout', '90s'], {
      cluster: c,
      timeoutMs: 100_000,
    });
    expect(ck.stderr).not.toMatch(/error/i);
    expect(ck.code).toBe(0);
    const sourcePod = () => c.api.store.list('pods', { namespace: c.namespace }).find((p) => p.metadata.name?.startsWith('cpu-worker-checkpoint-'));
    // The verdict comes right after SIGUSR1; the worker then exits 0 by itself.
    await waitFor('the checkpointed worker to exit 0', () => sourcePod()?.status?.phase === 'Succeeded', 20_000);
    const source = sourcePod();
    const log = c.api.nodes.logsFor(c.namespace, source?.metadata.name ?? '') ?? '';
    const warm = /warm-up 1 \(instance ([0-9a-f]+), pid (\d+)\).*\n.*warm-up done in ([\d.]+) s, checksum ([0-9a-f]{64})/.exec(log);
    expect(warm, `the checkpointed worker's log:\n${log}`).not.toBeNull();
    const [, instance, pid, warmupSeconds, checksum] = warm!;
    expect(log).toContain('SIGUSR1: exiting');
    expect(await listening(port)).toBe(false);

    const artifact = join(c.storageRoot, ID, 'versions', '1');
    const meta = parse(await readFile(join(artifact, 'manifest.yaml'), 'utf8')) as { engine: { name: string; simulated: boolean; details: Record<string, number> } };
    expect(meta.engine).toMatchObject({ name: 'criu', simulated: false });
    expect(existsSync(join(artifact, 'criu', 'dump.log'))).toBe(true);

    const expectSameWorker = async (where: string): Promise<Answer> => {
      const a = await ask(port, 'checksum');
      expect(a, `the worker restored ${where}`).toMatchObject({ checksum, warmupChecksum: checksum, warmups: 1, instance, pid: Number(pid) });
      return a;
    };

    // Restore from the manifest: a new pod whose `sleep infinity` becomes the worker.
    let started = Date.now();
    const fromManifest = await runCli(['restore', '--manifest', manifest, '--checkpoint-id', ID, '--timeout', '60s'], { cluster: c, timeoutMs: 70_000 });
    const manifestRestoreMs = Date.now() - started;
    expect(fromManifest.stderr).not.toMatch(/error/i);
    expect(fromManifest.code).toBe(0);
    expect(kvLines(fromManifest.stdout)[0]).toBe('status=completed');
    await expectSameWorker('from the manifest');
    const restoredLog = c.api.nodes.logsFor(c.namespace, 'cpu-worker') ?? '';
    expect(restoredLog).not.toMatch(/warm-up \d/);

    // Without a PID namespace the next restore needs the same PIDs: end this one first.
    c.api.store.delete('pods', c.namespace, 'cpu-worker');
    await waitFor('the restored worker to exit', async () => !(await listening(port)) && !existsSync(`/proc/${pid}`), 20_000);

    // Restore in place into a placeholder.
    const placeholder = parse(await readFile(CPU_PLACEHOLDER, 'utf8')) as KubeObject;
    c.api.store.create('pods', { ...placeholder, metadata: { ...placeholder.metadata, namespace: c.namespace } });
    await waitFor('the placeholder to run', () => c.api.store.get('pods', c.namespace, 'cpu-placeholder')?.status?.phase === 'Running', 20_000);
    started = Date.now();
    const inPlace = await runCli(['restore', '--pod', 'cpu-placeholder', '--checkpoint-id', ID, '--timeout', '60s'], { cluster: c, timeoutMs: 70_000 });
    const inPlaceRestoreMs = Date.now() - started;
    expect(inPlace.stderr).not.toMatch(/error/i);
    expect(inPlace.code).toBe(0);
    const last = await expectSameWorker('in place');
    restoredPids.push(last.pid);
    const pod = c.api.store.get('pods', c.namespace, 'cpu-placeholder');
    expect(pod?.metadata.annotations?.['nvidia.com/snapshot-restore-status']).toBe('completed');
    expect(last.served).toBeGreaterThanOrEqual(1);

    // Which CRIU ran: the patched one reads the 256 MiB worker with the threads it was
    // told to use, for both restores; Debian's never logs a parallel read.
    const reads = engineLines.filter((l) => /restored pid/.test(l));
    expect(reads).toHaveLength(2);
    for (const line of reads) {
      if (parallel) expect(line).toMatch(new RegExp(`\\d{8,} bytes of pages read with ${READ_THREADS} thread\\(s\\)`));
      else expect(line).not.toMatch(/pages read with/);
    }

    const d = meta.engine.details;
    console.log(
      `criu e2e (${label}): warm-up ${warmupSeconds} s; dump ${String(d['dumpSeconds'])} s, images ${(Number(d['imageBytes']) / 2 ** 20).toFixed(0)} MiB; ` +
        `restore (CLI, until Ready) from manifest ${(manifestRestoreMs / 1000).toFixed(1)} s, in place ${(inPlaceRestoreMs / 1000).toFixed(1)} s\n` +
        engineLines.join('\n'),
    );
  });
});
