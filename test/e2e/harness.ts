/**
 * Helpers for the end-to-end tests: each test gets a fresh embedded dev cluster and
 * drives the BUILT binary (`bin/snapshotctl.js`, no TTY, `CI=true`) against it, then
 * checks what the binary printed, its exit code, and what it left in the cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { startDevCluster, type DevCluster, type DevClusterOptions } from '../../src/dev/cluster.js';
import type { AgentFaults } from '../../src/agent/faults.js';
import type { KubeObject } from '../../src/dev/api/index.js';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/snapshotctl.js');
export const WORKER_MANIFEST = join(ROOT, 'manifests/samples/worker.yaml');
export const PLACEHOLDER_MANIFEST = join(ROOT, 'manifests/samples/placeholder.yaml');

/** What a run of the binary gave back. */
export interface CliRun {
  /** Exit code; null only when the process died of a signal. */
  code: number | null;
  /** The signal that killed it, if any (never expected: the CLI handles SIGINT/SIGTERM). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the run, ms. */
  ms: number;
}

export interface RunCliOptions {
  /** Adds `--kubeconfig <cluster.kubeconfigPath>` (unless `kubeconfig` is given). */
  cluster?: DevCluster;
  /** Kubeconfig path to pass instead of the cluster's; `false` passes none. */
  kubeconfig?: string | false;
  /** Extra environment (on top of ours: `CI=true`, no `KUBECONFIG`, no colour). */
  env?: Record<string, string>;
  /** Kill the process (SIGKILL) and fail the run after this long; default 20 s. */
  timeoutMs?: number;
  /** Send a signal once `when()` turns true (polled every 20 ms). */
  signalAfter?: { signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL'; when: () => boolean | Promise<boolean> };
  /** Text on stdin (otherwise stdin is closed). */
  stdin?: string;
  /** Called with the spawned process (e.g. to signal it from a cluster event hook). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Every process this file spawned, so a test can prove none outlived it. */
const children = new Set<ChildProcess>();

/** Processes spawned by `runCli` that have not exited yet. */
export function liveChildren(): ChildProcess[] {
  return [...children].filter((c) => c.exitCode === null && c.signalCode === null);
}

/**
 * Run the built binary with `args`; resolves when it has exited and its output is
 * drained. Never rejects on a non-zero exit: the test asserts the code.
 */
export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliRun> {
  const kubeconfig = opts.kubeconfig ?? opts.cluster?.kubeconfigPath;
  const argv = [BIN, ...args, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // Never reach a real cluster from a developer's shell, and keep output plain.
  delete env['KUBECONFIG'];
  delete env['FORCE_COLOR'];
  Object.assign(env, { CI: 'true', NO_COLOR: '1' }, opts.env ?? {});

  const started = Date.now();
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  children.add(child);
  opts.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let killedForTime = false;
  const killer = setTimeout(() => {
    killedForTime = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  let signaller: Promise<void> = Promise.resolve();
  let running = true;
  if (opts.signalAfter) {
    const { signal, when } = opts.signalAfter;
    signaller = (async () => {
      while (running) {
        if (await when()) {
          if (running) child.kill(signal);
          return;
        }
        await sleep(20);
      }
    })();
  }
  try {
    const { code, signal } = await exited;
    if (killedForTime) {
      throw new Error(`snapshotctl ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    return { code, signal, stdout, stderr, ms: Date.now() - started };
  } finally {
    running = false;
    clearTimeout(killer);
    await signaller;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` every `intervalMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** stdout `key=value` lines, in order. */
export function kvLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l !== '');
}

/** stdout `key=value` lines as a map. */
export function kv(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of kvLines(stdout)) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** True when the object belongs to a DaemonSet (the agent, the seccomp installer). */
function isDaemonSetPod(o: KubeObject): boolean {
  return (o.metadata.ownerReferences ?? []).some((r) => r.kind === 'DaemonSet');
}

/**
 * Jobs and non-DaemonSet pods in the cluster, as `job.batch/<ns>/<name>` and
 * `pod/<ns>/<name>`, sorted: what a run (or the test) created and left behind.
 * Objects still terminating count: the CLI waits until they are gone.
 */
export function leftovers(cluster: DevCluster, opts: { except?: string[] } = {}): string[] {
  const store = cluster.api.store;
  const found = [
    ...store.list('jobs').map((j) => `job.batch/${j.metadata.namespace ?? ''}/${j.metadata.name ?? ''}`),
    ...store
      .list('pods')
      .filter((p) => !isDaemonSetPod(p))
      .map((p) => `pod/${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`),
  ];
  const except = new Set(opts.except ?? []);
  return found.filter((n) => !except.has(n)).sort();
}

/** Set switches on every agent of the cluster. */
export function setAgentFaults(cluster: DevCluster, faults: Partial<AgentFaults>): void {
  expect(cluster.agents.size).toBeGreaterThan(0);
  for (const agent of cluster.agents.values()) Object.assign(agent.faults, faults);
}

/** The sample worker manifest, changed by `edit` and written into the cluster's temp dir. */
export async function writeManifest(cluster: DevCluster, fileName: string, edit: (pod: KubeObject) => void, from = WORKER_MANIFEST): Promise<string> {
  const pod = parse(await readFile(from, 'utf8')) as KubeObject;
  edit(pod);
  const path = join(cluster.dir, fileName);
  await writeFile(path, stringify(pod));
  return path;
}

/** A pod from the sample placeholder (changed by `edit`), created and waited for until Running and Ready. */
export async function createPlaceholder(cluster: DevCluster, edit: (pod: KubeObject) => void = () => {}): Promise<KubeObject> {
  const pod = parse(await readFile(PLACEHOLDER_MANIFEST, 'utf8')) as KubeObject;
  edit(pod);
  const name = pod.metadata.name ?? '';
  cluster.api.store.create('pods', { ...pod, metadata: { ...pod.metadata, namespace: cluster.namespace } });
  await waitFor(`pod ${name} Running and Ready`, () => {
    const p = cluster.api.store.get('pods', cluster.namespace, name);
    const status = p?.status as { phase?: string; conditions?: Array<{ type: string; status: string }> } | undefined;
    return status?.phase === 'Running' && (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  });
  return cluster.api.store.mustGet('pods', cluster.namespace, name);
}

/** A 127.0.0.1 port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Socket and process handles of this test process (timers are vitest's business). */
function ioHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /TCP|Pipe|Process|FSEvent|Signal/.test(r)).sort();
}

/**
 * A fresh dev cluster per test (small probe delay: the suite runs on 2 cores). After
 * each test: no spawned process still runs, `close()` succeeds, the temp dir is gone,
 * and no socket or process handle the cluster opened is still open.
 */
export function useCluster(opts: DevClusterOptions = {}): () => DevCluster {
  let cluster: DevCluster | undefined;
  let before: string[] = [];
  beforeEach(async () => {
    before = ioHandles();
    cluster = await startDevCluster({ readyDelayMs: 50, engine: 'sim', runtime: 'sim', ...opts });
    // Only the test's own traffic (and the agents') from here on, not applying manifests/.
    cluster.api.requestLog.clear();
  });
  afterEach(async () => {
    const live = liveChildren();
    for (const c of live) c.kill('SIGKILL');
    children.clear();
    const c = cluster;
    cluster = undefined;
    if (c) {
      await c.close();
      expect(existsSync(c.dir), `the dev cluster's temp dir ${c.dir} is gone`).toBe(false);
    }
    expect(live.map((p) => p.pid), 'snapshotctl processes still running after the test').toEqual([]);
    // Closed sockets leave the handle list on the next turns of the event loop.
    await waitFor('the cluster to release its sockets and processes', () => sameHandles(before, ioHandles()), 2000).catch(() => undefined);
    expect(ioHandles(), 'handles left open by the cluster').toEqual(before);
  });
  return () => {
    if (!cluster) throw new Error('useCluster(): the cluster exists only inside a test');
    return cluster;
  };
}

function sameHandles(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
