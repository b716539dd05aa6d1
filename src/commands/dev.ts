/**
 * `snapshotctl dev up|status|down` (and the hidden `dev serve` that `up` starts in the
 * background): a dev cluster that outlives the command, tracked by a state directory
 * so `down` can stop every process and remove every file it made, and nothing else:
 * the directory carries a marker (src/dev/ownership.ts) and the recorded server
 * process is checked by command line and start time, not by PID alone.
 *
 * Each verb is an export of the shape every command module has (`up`, `serve`,
 * `status`, `down`: complete → validate → run, returning a result); src/cli/dev.ts
 * prints the results and picks the exit codes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ClusterError, EnvironmentError, EXIT, UsageError } from '../errors.js';
import type { CreateKubeClientOptions } from '../kube/client.js';
import type { KubeClient } from '../kube/types.js';
import { isRecordedProcess, isStillThere, MARKER_FILE, ownIdentity, readMarker, removeOwnedDir, writeMarker } from '../dev/ownership.js';

export { isAlive } from '../dev/ownership.js';

/** What `dev serve` writes once the cluster is up. */
export interface DevState {
  pid: number;
  /** The server's command line and start time: a reused PID is told apart by these. */
  cmdline: string[];
  startTime: string;
  url: string;
  kubeconfig: string;
  nodes: number;
  gpuNodes: number;
  engine: string;
  /** Absent in the state of clusters started before it was recorded. */
  runtime?: 'sim' | 'process';
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
  /** The settings given as flags (the others are defaults): what a running cluster must match. */
  asked: Partial<Pick<DevUpOptions, 'nodes' | 'gpuNodes' | 'engine' | 'port' | 'runtime'>>;
}

/**
 * What the dev verbs take from the process: the CLI passes the real one (src/cli/dev.ts),
 * so starting, signalling and timing the background server happen there, not here.
 */
export interface DevDeps {
  now: () => number;
  /**
   * Start this CLI with `args` (`dev serve ...`) detached from this process (inheriting
   * its environment), stdout and stderr appended to `logPath`; `onExit` hears its exit code.
   */
  startServer: (args: string[], logPath: string) => { pid: number; onExit: (listener: (code: number | null) => void) => void };
  /** Send `signal` to process `pid`. */
  kill: (pid: number, signal: NodeJS.Signals) => void;
  /** One log line of `dev serve`'s cluster (the server's stderr, i.e. server.log). */
  log: (line: string, level: string) => void;
  /** Where in-process dev clusters (tests, demo) make their temp directories. */
  tmpdir: string;
  /**
   * Builds a client for the cluster's kubeconfig with the retry policy and request
   * timeout the verb picks (`dev status` asks once, within 2 s); src/cli passes the real one.
   */
  kube: (opts: Pick<CreateKubeClientOptions, 'kubeconfig' | 'retry' | 'requestTimeoutMs'>) => Promise<KubeClient>;
}

const STATE_FILE = 'state.json';
const LOG_FILE = 'server.log';
const ENGINES = ['sim', 'criu', 'cuda'];

/** `$SNAPSHOTCTL_DEV_DIR`, else `$XDG_STATE_HOME/snapshotctl/dev`, else `~/.local/state/snapshotctl/dev`. */
export function defaultStateDir(env: Record<string, string | undefined>): string {
  if (env['SNAPSHOTCTL_DEV_DIR']) return resolve(env['SNAPSHOTCTL_DEV_DIR']);
  const base = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return resolve(base, 'snapshotctl', 'dev');
}

/** `--state-dir`, absolute, or the default. */
export function stateDirOf(raw: Record<string, unknown>, env: Record<string, string | undefined>): string {
  const given = raw['stateDir'];
  return typeof given === 'string' && given !== '' ? resolve(given) : defaultStateDir(env);
}

function whole(flag: string, value: unknown, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} "${String(value)}" must be a whole number from ${min} to ${max}`, `e.g. ${flag} ${min === 0 ? 0 : min + 1}`);
  }
  return n;
}

/** Typed `dev up` (and `dev serve`) options from commander's raw ones; each flag is checked as it is read. */
function parseDevUpOptions(raw: Record<string, unknown>, env: Record<string, string | undefined>): DevUpOptions {
  const nodes = whole('--nodes', raw['nodes'] ?? 2, 1, 50);
  const gpuNodes = raw['gpuNodes'] === undefined ? nodes : whole('--gpu-nodes', raw['gpuNodes'], 1, nodes);
  const port = whole('--port', raw['port'] ?? 0, 0, 65535);
  const engine = raw['engine'] as string | undefined;
  if (engine !== undefined && !ENGINES.includes(engine)) {
    throw new UsageError(`--engine "${engine}" is not an engine`, `use one of ${ENGINES.join(', ')}, or leave it out for the best that works here`);
  }
  const runtime = (raw['runtime'] as string | undefined) ?? 'sim';
  if (runtime !== 'sim' && runtime !== 'process') throw new UsageError(`--runtime "${runtime}" is not supported`, 'use sim or process');
  const asked: DevUpOptions['asked'] = {};
  if (raw['nodes'] !== undefined) asked.nodes = nodes;
  if (raw['gpuNodes'] !== undefined) asked.gpuNodes = gpuNodes;
  if (engine !== undefined) asked.engine = engine;
  if (raw['port'] !== undefined && port !== 0) asked.port = port;
  if (raw['runtime'] !== undefined) asked.runtime = runtime;
  return {
    stateDir: stateDirOf(raw, env),
    nodes,
    gpuNodes,
    port,
    runtime,
    asked,
    ...(engine !== undefined ? { engine } : {}),
  };
}

/** The running cluster's runtime (older state files lack it: a real engine means process). */
function runtimeOf(state: DevState): 'sim' | 'process' {
  return state.runtime ?? (state.engine === 'sim' ? 'sim' : 'process');
}

/**
 * Refuse a `dev up` whose flags ask for another cluster than the one running in the
 * same state directory: keeping the old one would silently ignore them.
 */
function assertSameCluster(state: DevState, opts: DevUpOptions): void {
  const running = { nodes: state.nodes, gpuNodes: state.gpuNodes, engine: state.engine, port: Number(new URL(state.url).port), runtime: runtimeOf(state) };
  const flags = { nodes: '--nodes', gpuNodes: '--gpu-nodes', engine: '--engine', port: '--port', runtime: '--runtime' } as const;
  const differ = (Object.keys(flags) as Array<keyof typeof flags>).filter((k) => opts.asked[k] !== undefined && opts.asked[k] !== running[k]);
  if (differ.length === 0) return;
  throw new EnvironmentError(
    `a dev cluster is already running in ${opts.stateDir} (pid ${state.pid}) with runtime ${running.runtime}, engine ${running.engine}, ` +
      `${running.nodes} nodes (${running.gpuNodes} with an agent), port ${running.port}; ` +
      `it does not match ${differ.map((k) => `${flags[k]} ${String(opts.asked[k])}`).join(', ')}, and dev up keeps one cluster per state directory`,
    `stop it first with \`snapshotctl dev down --state-dir ${opts.stateDir}\`, then run this dev up again; or give this one its own --state-dir`,
  );
}

/**
 * The agents' log of the background dev cluster whose kubeconfig is `kubeconfig` (it
 * lies in the state directory `dev up` marked, beside the server's log, where the
 * agents write): that file, or undefined for any other kubeconfig.
 */
export async function devAgentLogFile(kubeconfig: string | undefined): Promise<string | undefined> {
  if (kubeconfig === undefined || kubeconfig === '') return undefined;
  const path = resolve(kubeconfig);
  if (basename(path) !== 'kubeconfig') return undefined;
  const dir = dirname(path);
  if ((await readMarker(dir))?.purpose !== 'dev-state') return undefined;
  const log = join(dir, LOG_FILE);
  return existsSync(log) ? log : undefined;
}

export async function readState(stateDir: string): Promise<DevState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as DevState;
  } catch {
    return undefined;
  }
}

/** Does the cluster answer an authenticated request made with its own kubeconfig (within 2 s)? */
async function answers(kubeconfig: string, kube: DevDeps['kube']): Promise<boolean> {
  try {
    const { RESOURCES } = await import('../kube/types.js');
    const client = await kube({ kubeconfig, retry: { maxAttempts: 1 }, requestTimeoutMs: 2000 });
    await client.get(RESOURCES.namespaces, undefined, 'default');
    return true;
  } catch {
    return false;
  }
}

/** Is the state's server process still running, and still the one that wrote it? */
function isRunning(state: DevState): boolean {
  return isRecordedProcess(state);
}

/** Refusal for a directory the dev cluster did not make. */
function notOurs(dir: string, doing: string): UsageError {
  return new UsageError(
    `${dir} is not a dev cluster state directory (it has no ${MARKER_FILE}, which \`dev up\` writes into the directories it creates); refusing to ${doing}`,
    `pass the --state-dir that \`dev up\` printed, or a new or empty directory; if ${dir} is something you want gone, remove it yourself`,
  );
}

/**
 * Make `dir` ready for a new cluster: create it with the marker, take over an empty
 * one, or clear one of ours that a stopped cluster left. A non-empty directory
 * without the marker is refused, untouched.
 */
async function claimStateDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info && !info.isDirectory()) throw new UsageError(`${dir} is not a directory`, 'pass a directory (a new one is created) as --state-dir');
  if (info && (await readMarker(dir))) {
    await removeOwnedDir(dir);
  } else if (info && (await readdir(dir)).length > 0) {
    throw notOurs(dir, 'start a dev cluster in it');
  }
  await mkdir(dir, { recursive: true });
  await writeMarker(dir, 'dev-state');
}

/** An environment error unless 127.0.0.1:`port` can be bound now (0: any port, always fine). */
async function assertPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use (EADDRINUSE)' : `cannot be bound (${err.code ?? err.message})`;
      reject(new EnvironmentError(`port ${port} on 127.0.0.1 ${why}`, 'pick a free port with --port, or leave --port out (0: any free port)'));
    });
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolvePort()));
  });
}

/** The last `error: ` and `hint: ` lines of a log (what the entry prints for a typed error). */
function lastError(log: string): { message?: string; hint?: string } {
  const lines = log.split('\n');
  const message = lines.filter((l) => l.startsWith('error: ')).at(-1)?.slice('error: '.length);
  const hint = lines.filter((l) => l.startsWith('hint: ')).at(-1)?.slice('hint: '.length);
  return { ...(message !== undefined ? { message } : {}), ...(hint !== undefined ? { hint } : {}) };
}

/**
 * Start `dev serve` in the background and wait until it has written its state. An
 * already running cluster in the same state directory is reported, not duplicated; a
 * stale record (its process gone, or its PID now another program's) is cleared.
 */
async function devUp(opts: DevUpOptions, deps: DevDeps): Promise<DevUpResult> {
  const existing = await readState(opts.stateDir);
  if (existing && isRunning(existing)) {
    assertSameCluster(existing, opts);
    return { state: existing, already: true };
  }
  await assertPortFree(opts.port);
  await claimStateDir(opts.stateDir);
  const logPath = join(opts.stateDir, LOG_FILE);
  const args = ['dev', 'serve', '--state-dir', opts.stateDir, '--nodes', String(opts.nodes), '--gpu-nodes', String(opts.gpuNodes), '--port', String(opts.port), '--runtime', opts.runtime];
  if (opts.engine) args.push('--engine', opts.engine);
  const child = deps.startServer(args, logPath);
  let exited: number | null | undefined;
  child.onExit((code) => (exited = code));
  const deadline = deps.now() + 30_000;
  for (;;) {
    const state = await readState(opts.stateDir);
    if (state) return { state, already: false, ...(existing ? { stale: existing.pid } : {}) };
    if (exited !== undefined || deps.now() > deadline) {
      const text = existsSync(logPath) ? await readFile(logPath, 'utf8') : '';
      if (exited === undefined) deps.kill(child.pid, 'SIGKILL');
      await removeOwnedDir(opts.stateDir);
      // `dev serve` failed with a typed error (exit 2 or 3): its one sentence is the answer.
      const said = lastError(text);
      if (said.message !== undefined && exited === EXIT.cluster) throw new EnvironmentError(`the dev cluster did not start: ${said.message}`, said.hint);
      if (said.message !== undefined && exited === EXIT.usage) throw new UsageError(`the dev cluster did not start: ${said.message}`, said.hint);
      const tail = text.trim().split('\n').slice(-5).join('\n');
      throw new ClusterError(
        `the dev cluster did not start${exited !== undefined ? ` (exit ${exited})` : ' within 30s'}${tail ? `:\n${tail}` : ''}`,
        'try `snapshotctl dev up --port 0`, or run `snapshotctl demo` to see the whole flow in one process',
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run the cluster in this process until SIGTERM/SIGINT; then stop it and remove the state directory. */
async function devServe(opts: DevUpOptions, deps: DevServeDeps): Promise<void> {
  const { signal } = deps;
  // `dev up` made the directory with its marker; run by hand, serve claims it the same way.
  if (!(await readMarker(opts.stateDir))) await claimStateDir(opts.stateDir);
  const { startDevCluster, describeEngine } = await import('../dev/cluster.js');
  // On failure the directory stays: `dev up` reads the error from server.log, then removes it.
  const cluster = await startDevCluster({
    dir: opts.stateDir,
    nodes: opts.nodes,
    gpuNodes: opts.gpuNodes,
    port: opts.port,
    runtime: opts.runtime,
    ...(opts.engine ? { engine: opts.engine as 'sim' } : {}),
    log: deps.log,
  });
  const me = ownIdentity();
  const state: DevState = {
    pid: me.pid,
    cmdline: me.cmdline,
    startTime: me.startTime,
    url: cluster.url,
    kubeconfig: cluster.kubeconfigPath,
    nodes: opts.nodes,
    gpuNodes: opts.gpuNodes,
    engine: cluster.engine.name,
    runtime: opts.runtime,
    engineSimulated: cluster.engine.simulated,
    engineLine: describeEngine(cluster.engine),
    startedAt: new Date(deps.now()).toISOString(),
    stateDir: opts.stateDir,
  };
  // Written last and atomically enough for `dev up`, which waits for it.
  await writeFile(join(opts.stateDir, `${STATE_FILE}.tmp`), JSON.stringify(state, null, 2));
  await rename(join(opts.stateDir, `${STATE_FILE}.tmp`), join(opts.stateDir, STATE_FILE));
  await new Promise<void>((resolveStop) => {
    if (signal.aborted) resolveStop();
    signal.addEventListener('abort', () => resolveStop(), { once: true });
  });
  await cluster.close();
  await removeOwnedDir(opts.stateDir);
}

export interface DevStatus {
  status: 'running' | 'starting' | 'stopped';
  stateDir: string;
  state?: DevState;
  /** The API answered a request made with the cluster's kubeconfig (its token and CA). */
  reachable: boolean;
  /** Things left behind: stale state, temp dirs of dev clusters no longer running. */
  leftovers: string[];
}

/**
 * Temporary directories of in-process dev clusters (tests, demo) whose owner is no
 * longer running. A directory whose recorded owner still runs (a demo right now) is
 * in use, not left behind; one without a marker has no owner to ask, so it counts.
 */
async function leftoverTempDirs(base: string): Promise<string[]> {
  const { DEV_TMP_PREFIX } = await import('../dev/cluster.js');
  let names: string[];
  try {
    names = (await readdir(base)).filter((n) => n.startsWith(DEV_TMP_PREFIX)).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    const owner = (await readMarker(join(base, name)))?.owner;
    if (owner && isRecordedProcess(owner)) continue;
    out.push(join(base, name));
  }
  return out;
}

async function devStatus(stateDir: string, deps: Pick<DevDeps, 'tmpdir' | 'kube'>): Promise<DevStatus> {
  const state = await readState(stateDir);
  const leftovers = await leftoverTempDirs(deps.tmpdir);
  if (state && isRunning(state)) {
    return { status: 'running', stateDir, state, reachable: await answers(state.kubeconfig, deps.kube), leftovers };
  }
  const marker = existsSync(stateDir) ? await readMarker(stateDir) : undefined;
  if (state) leftovers.unshift(`${stateDir} (state of a dev cluster whose process ${state.pid} is gone, or is now another program)`);
  else if (marker?.owner && isRecordedProcess(marker.owner)) return { status: 'starting', stateDir, reachable: false, leftovers };
  else if (marker) leftovers.unshift(`${stateDir} (state directory without a running cluster)`);
  return { status: 'stopped', stateDir, reachable: false, leftovers };
}

/**
 * Stop the background cluster (SIGTERM, then SIGKILL after 10 s) and remove its state
 * directory. Refuses a directory without the marker; signals only a process whose
 * command line and start time match the record (a stale record is just removed).
 */
async function devDown(stateDir: string, deps: Pick<DevDeps, 'kill' | 'now'>): Promise<DevDownResult> {
  if (!existsSync(stateDir)) return { stateDir, removed: false };
  if (!(await readMarker(stateDir))) throw notOurs(stateDir, 'stop anything or remove it');
  const state = await readState(stateDir);
  let stopped: number | undefined;
  if (state && isRunning(state)) {
    deps.kill(state.pid, 'SIGTERM');
    const deadline = deps.now() + 10_000;
    // Until the process is gone, not merely exited: the caller may check right after.
    while (isStillThere(state) && deps.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isRunning(state)) deps.kill(state.pid, 'SIGKILL');
    stopped = state.pid;
  }
  const removed = await removeOwnedDir(stateDir);
  return { stateDir, ...(stopped !== undefined ? { stopped } : {}), ...(state && stopped === undefined ? { stale: state.pid } : {}), removed };
}

type Env = Record<string, string | undefined>;

/** One dev verb: the shape of every command module (complete → validate → run, returning a result). */
export interface DevVerb<O, D, R> {
  /** Typed options from commander's raw ones and the environment (the default state directory). */
  complete: (raw: Record<string, unknown>, env: Env) => O;
  /** Checks across options, before anything starts. */
  validate: (opts: O) => void;
  run: (opts: O, deps: D) => Promise<R>;
}

/** Every flag is checked as `complete` reads it: nothing is left across options. */
const nothingAcross = (): void => {};

/** `dev up`: the cluster started (or found running) and a stale record it cleared. */
export interface DevUpResult {
  state: DevState;
  already: boolean;
  /** The PID of a stale record that was removed. */
  stale?: number;
}

/**
 * `dev up`: start `dev serve` in the background and wait until it has written its
 * state; a running cluster with the same settings is reported, not duplicated.
 */
export const up: DevVerb<DevUpOptions, DevDeps, DevUpResult> = {
  complete: parseDevUpOptions,
  validate: nothingAcross,
  run: devUp,
};

/** What `dev serve` takes: its log lines, the clock, and the signal that stops it. */
export type DevServeDeps = Pick<DevDeps, 'log' | 'now'> & { signal: AbortSignal };

/** The hidden `dev serve`: the cluster in this process until `signal`; then it is stopped and its state removed. */
export const serve: DevVerb<DevUpOptions, DevServeDeps, void> = {
  complete: parseDevUpOptions,
  validate: nothingAcross,
  run: devServe,
};

export interface DevStatusOptions {
  stateDir: string;
  /** `-o json`; anything else prints key=value lines. */
  output: 'kv' | 'json';
}

/** `dev status`: is the cluster of the state directory running, and what was left behind. */
export const status: DevVerb<DevStatusOptions, Pick<DevDeps, 'tmpdir' | 'kube'>, DevStatus> = {
  complete: (raw, env) => ({ stateDir: stateDirOf(raw, env), output: raw['output'] === 'json' ? 'json' : 'kv' }),
  validate: nothingAcross,
  run: (opts, deps) => devStatus(opts.stateDir, deps),
};

export interface DevDownOptions {
  stateDir: string;
}

/** What `dev down` did: the process it stopped, or the stale record it found, and whether the directory was removed. */
export interface DevDownResult {
  stateDir: string;
  stopped?: number;
  stale?: number;
  removed: boolean;
}

/** `dev down`: stop the cluster and remove its state directory. */
export const down: DevVerb<DevDownOptions, Pick<DevDeps, 'kill' | 'now'>, DevDownResult> = {
  complete: (raw, env) => ({ stateDir: stateDirOf(raw, env) }),
  validate: nothingAcross,
  run: (opts, deps) => devDown(opts.stateDir, deps),
};
