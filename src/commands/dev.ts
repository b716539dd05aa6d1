/**
 * `snapshotctl dev up|status|down` (and the hidden `dev serve` that `up` starts in the
 * background): a dev cluster that outlives the command, tracked by a state directory
 * so `down` can stop every process and remove every file it made.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterError, UsageError } from '../errors.js';

/** What `dev serve` writes once the cluster is up. */
export interface DevState {
  pid: number;
  url: string;
  kubeconfig: string;
  nodes: number;
  gpuNodes: number;
  engine: string;
  engineSimulated: boolean;
  engineLine: string;
  startedAt: string;
  stateDir: string;
}

export interface DevUpOptions {
  stateDir: string;
  nodes: number;
  gpuNodes: number;
  engine?: string;
  port: number;
  runtime: 'sim' | 'process';
}

const STATE_FILE = 'state.json';
const LOG_FILE = 'server.log';
const ENGINES = ['sim', 'criu', 'cuda'];

/** `$SNAPSHOTCTL_DEV_DIR`, else `$XDG_STATE_HOME/snapshotctl/dev`, else `~/.local/state/snapshotctl/dev`. */
export function defaultStateDir(env: Record<string, string | undefined>): string {
  if (env['SNAPSHOTCTL_DEV_DIR']) return env['SNAPSHOTCTL_DEV_DIR'];
  const base = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'snapshotctl', 'dev');
}

function whole(flag: string, value: unknown, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} "${String(value)}" must be a whole number from ${min} to ${max}`, `e.g. ${flag} ${min === 0 ? 0 : min + 1}`);
  }
  return n;
}

/** Typed `dev up` options from commander's raw ones. */
export function parseDevUpOptions(raw: Record<string, unknown>, env: Record<string, string | undefined>): DevUpOptions {
  const nodes = whole('--nodes', raw['nodes'] ?? 2, 1, 50);
  const gpuNodes = raw['gpuNodes'] === undefined ? nodes : whole('--gpu-nodes', raw['gpuNodes'], 1, nodes);
  const port = whole('--port', raw['port'] ?? 0, 0, 65535);
  const engine = raw['engine'] as string | undefined;
  if (engine !== undefined && !ENGINES.includes(engine)) {
    throw new UsageError(`--engine "${engine}" is not an engine`, `use one of ${ENGINES.join(', ')}, or leave it out for the best that works here`);
  }
  const runtime = (raw['runtime'] as string | undefined) ?? 'sim';
  if (runtime !== 'sim' && runtime !== 'process') throw new UsageError(`--runtime "${runtime}" is not supported`, 'use sim or process');
  return {
    stateDir: (raw['stateDir'] as string | undefined) ?? defaultStateDir(env),
    nodes,
    gpuNodes,
    port,
    runtime,
    ...(engine !== undefined ? { engine } : {}),
  };
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readState(stateDir: string): Promise<DevState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as DevState;
  } catch {
    return undefined;
  }
}

/** Does the cluster answer an authenticated request made with its own kubeconfig (within 2 s)? */
async function answers(kubeconfig: string): Promise<boolean> {
  try {
    const { createKubeClient } = await import('../kube/client.js');
    const { RESOURCES } = await import('../kube/types.js');
    const client = await createKubeClient({ kubeconfig, retry: { maxAttempts: 1 }, requestTimeoutMs: 2000 });
    await client.get(RESOURCES.namespaces, undefined, 'default');
    return true;
  } catch {
    return false;
  }
}

/**
 * Start `dev serve` in the background and wait until it has written its state. An
 * already running cluster in the same state directory is reported, not duplicated.
 */
export async function devUp(opts: DevUpOptions, entry: string): Promise<{ state: DevState; already: boolean }> {
  const existing = await readState(opts.stateDir);
  if (existing && isAlive(existing.pid)) return { state: existing, already: true };
  await rm(opts.stateDir, { recursive: true, force: true });
  await mkdir(opts.stateDir, { recursive: true });
  const logPath = join(opts.stateDir, LOG_FILE);
  const log = openSync(logPath, 'a');
  const args = [entry, 'dev', 'serve', '--state-dir', opts.stateDir, '--nodes', String(opts.nodes), '--gpu-nodes', String(opts.gpuNodes), '--port', String(opts.port), '--runtime', opts.runtime];
  if (opts.engine) args.push('--engine', opts.engine);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env } });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await readState(opts.stateDir);
    if (state) return { state, already: false };
    if (exited !== undefined || Date.now() > deadline) {
      const tail = existsSync(logPath) ? (await readFile(logPath, 'utf8')).trim().split('\n').slice(-5).join('\n') : '';
      if (exited === undefined) process.kill(child.pid!, 'SIGKILL');
      await rm(opts.stateDir, { recursive: true, force: true });
      throw new ClusterError(
        `the dev cluster did not start${exited !== undefined ? ` (exit ${exited})` : ' within 30s'}${tail ? `:\n${tail}` : ''}`,
        'try `snapshotctl dev up --port 0`, or run `snapshotctl demo` to see the whole flow in one process',
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run the cluster in this process until SIGTERM/SIGINT; then stop it and remove the state directory. */
export async function devServe(opts: DevUpOptions, signal: AbortSignal): Promise<void> {
  const { startDevCluster, describeEngine } = await import('../dev/cluster.js');
  await mkdir(opts.stateDir, { recursive: true });
  const cluster = await startDevCluster({
    dir: opts.stateDir,
    nodes: opts.nodes,
    gpuNodes: opts.gpuNodes,
    port: opts.port,
    runtime: opts.runtime,
    ...(opts.engine ? { engine: opts.engine as 'sim' } : {}),
    log: (line, level) => process.stderr.write(`${new Date().toISOString()} ${level} ${line}\n`),
  });
  const state: DevState = {
    pid: process.pid,
    url: cluster.url,
    kubeconfig: cluster.kubeconfigPath,
    nodes: opts.nodes,
    gpuNodes: opts.gpuNodes,
    engine: cluster.engine.name,
    engineSimulated: cluster.engine.simulated,
    engineLine: describeEngine(cluster.engine),
    startedAt: new Date().toISOString(),
    stateDir: opts.stateDir,
  };
  // Written last and atomically enough for `dev up`, which waits for it.
  await writeFile(join(opts.stateDir, `${STATE_FILE}.tmp`), JSON.stringify(state, null, 2));
  const { rename } = await import('node:fs/promises');
  await rename(join(opts.stateDir, `${STATE_FILE}.tmp`), join(opts.stateDir, STATE_FILE));
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await cluster.close();
  await rm(opts.stateDir, { recursive: true, force: true });
}

export interface DevStatus {
  status: 'running' | 'stopped';
  stateDir: string;
  state?: DevState;
  /** The API answered a request made with the cluster's kubeconfig (its token and CA). */
  reachable: boolean;
  /** Things left behind: stale state, temp dirs of dev clusters no longer running. */
  leftovers: string[];
}

/** Temporary directories of in-process dev clusters (tests, demo) still on disk. */
async function leftoverTempDirs(): Promise<string[]> {
  const { DEV_TMP_PREFIX } = await import('../dev/cluster.js');
  try {
    return (await readdir(tmpdir())).filter((n) => n.startsWith(DEV_TMP_PREFIX)).map((n) => join(tmpdir(), n));
  } catch {
    return [];
  }
}

export async function devStatus(stateDir: string): Promise<DevStatus> {
  const state = await readState(stateDir);
  const leftovers = await leftoverTempDirs();
  if (state && isAlive(state.pid)) {
    return { status: 'running', stateDir, state, reachable: await answers(state.kubeconfig), leftovers };
  }
  if (state) leftovers.unshift(`${stateDir} (state of a dev cluster whose process ${state.pid} is gone)`);
  else if (existsSync(stateDir)) leftovers.unshift(`${stateDir} (state directory without a running cluster)`);
  return { status: 'stopped', stateDir, reachable: false, leftovers };
}

/** Stop the background cluster (SIGTERM, then SIGKILL after 10 s) and remove its state directory. */
export async function devDown(stateDir: string): Promise<{ stopped?: number; removed: boolean }> {
  const state = await readState(stateDir);
  let stopped: number | undefined;
  if (state && isAlive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
    stopped = state.pid;
  }
  const removed = existsSync(stateDir);
  await rm(stateDir, { recursive: true, force: true });
  return { ...(stopped !== undefined ? { stopped } : {}), removed };
}
